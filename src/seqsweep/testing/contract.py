"""The trainable contract: what every model family (built-in or a user's `package.module:function`)
must do through the shared loop, as plain functions that raise AssertionError with a clear message.

`check_family("mypkg.models:build")` trains the family for a few epochs on a synthetic bundle
(`make_bundle`) and runs every check; the test suite runs the same checks, one test each, over every
registered family (`seqsweep.trainables.family_names()`) with each family's own `example_config`.
One run feeds most checks; the reload, resume and determinism checks start from its checkpoints.
Nothing here imports pytest, and TensorFlow or torch only when the family builds its model.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqsweep.baselines import persistence_predictions
from seqsweep.constants import (
    EARLY_STOPPED,
    EPOCH,
    FINAL_EPOCH,
    REPORTED_METRICS,
    TRAIN_LOSS,
    VAL_LOSS,
    VAL_MACRO_F1,
    VAL_MSE,
    VAL_SKILL,
)
from seqsweep.data.bundle import DatasetBundle
from seqsweep.errors import SeqsweepError
from seqsweep.metrics import scores, validation_report
from seqsweep.testing.bundles import make_bundle
from seqsweep.trainables import (
    DeviceSettings,
    InMemoryReporter,
    TrialSettings,
    family_names,
    load_checkpoint,
    read_state,
    resolve_family,
)
from seqsweep.trainables import train as train_trial
from seqsweep.trainables.registry import is_user_model

EPOCHS = 5
"""Epochs of the contract run (the easy pattern is learnt well within them)."""
BATCH = 16
SEED = 7
TRIAL = "contract"
LEARN_ROWS = 3000
"""Rows of the synthetic bundle the contract run learns on."""


def example_config(family: str) -> dict[str, Any]:
    """The registered family's `example_config` (a small, fast config without epochs/batch_size);
    {} for a user's `package.module:function`. AssertionError for a registered family without one."""
    if is_user_model(family):
        return {}
    config = resolve_family(family).example_config
    _require(
        config is not None,
        f"family {family!r} is registered without an example_config: set `example_config = {{...}}` on its "
        f"class (a small config the contract suite trains in seconds)",
    )
    return dict(config or {})


def example_configs() -> dict[str, dict[str, Any]]:
    """Every registered family's example config, by name (in the registry's order)."""
    return {name: example_config(name) for name in family_names()}


@dataclass
class ContractRun:
    """One family trained `EPOCHS` epochs on a synthetic bundle, with what it reported and saved."""

    family: str
    config: dict[str, Any]
    bundle: DatasetBundle
    reporter: InMemoryReporter

    @property
    def reports(self) -> list[dict[str, Any]]:
        """One report per epoch, in order."""
        return self.reporter.reports

    @property
    def batches_per_epoch(self) -> int:
        """Optimizer steps in one epoch over the train split."""
        return math.ceil(len(self.bundle.splits["train"]) / BATCH)


def run_family(
    family: str,
    config: Mapping[str, Any] | None = None,
    *,
    bundle: DatasetBundle | None = None,
    root: str | Path | None = None,
) -> ContractRun:
    """Train `family` with `config` (plus `EPOCHS` epochs of `BATCH`) through the shared loop.

    A family that cannot be built (an unknown name, a wrong output shape, a function that returns no
    model, a build reading a config key `config` does not give) raises AssertionError naming the family
    and the reason.
    """
    bundle = bundle if bundle is not None else make_bundle(n_rows=LEARN_ROWS)
    full = {**dict(config or example_config(family)), "epochs": EPOCHS, "batch_size": BATCH}
    reporter = InMemoryReporter(trial_id=TRIAL, root=root)
    try:
        train_trial(full, bundle, TrialSettings(model=family, seed=SEED), reporter, DeviceSettings())
    except SeqsweepError as exc:
        raise AssertionError(f"family {family!r} cannot be trained by the shared loop: {exc}") from exc
    except KeyError as exc:  # a user's build reading a hyperparameter the config does not give
        given = ", ".join(sorted(map(str, full))) or "none"
        raise AssertionError(
            f"family {family!r} reads config key {exc.args[0]!r}, which the config does not give (it has "
            f"{given}): pass one, e.g. check_family({family!r}, {{{exc.args[0]!r}: ...}})"
        ) from exc
    return ContractRun(family, full, bundle, reporter)


def rerun(
    run: ContractRun, root: Path, restore_from: Path | None = None, **overrides: Any
) -> InMemoryReporter:
    """Train `run`'s family again with the same seed (from `restore_from`, with config `overrides`)."""
    reporter = InMemoryReporter(trial_id=TRIAL, root=root, restore_from=restore_from)
    config = {**run.config, **overrides}
    train_trial(config, run.bundle, TrialSettings(model=run.family, seed=SEED), reporter, DeviceSettings())
    return reporter


def _require(condition: bool, message: str) -> None:
    """`assert` that survives `python -O`: AssertionError with `message`."""
    if not condition:
        raise AssertionError(message)


def _close(a: float, b: float, *, rel: float = 0.0, abs_: float = 0.0) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def check_reports(run: ContractRun) -> None:
    """Every epoch reports the contract's metrics, finite and in range; the last one says so."""
    epochs = [r.get(EPOCH) for r in run.reports]
    _require(epochs == list(range(1, EPOCHS + 1)), f"{run.family}: reported epochs {epochs}, not 1..{EPOCHS}")
    for report in run.reports:
        missing = (set(REPORTED_METRICS) | {EPOCH, FINAL_EPOCH, EARLY_STOPPED}) - set(report)
        _require(not missing, f"{run.family}: epoch {report.get(EPOCH)} report lacks {sorted(missing)}")
        _require(VAL_MSE not in report, f"{run.family}: {VAL_MSE} reported for a classification objective")
        for key in (TRAIN_LOSS, VAL_LOSS):
            _require(
                math.isfinite(report[key]) and report[key] >= 0,
                f"{run.family}: {key} must be finite and >= 0, got {report[key]}",
            )
        for key in set(REPORTED_METRICS) - {TRAIN_LOSS, VAL_LOSS, VAL_SKILL}:
            _require(0.0 <= report[key] <= 1.0, f"{run.family}: {key} must be in [0, 1], got {report[key]}")
        _require(
            -1.0 <= report[VAL_SKILL] <= 1.0, f"{run.family}: {VAL_SKILL} out of [-1, 1]: {report[VAL_SKILL]}"
        )
        _require(report[EARLY_STOPPED] is False, f"{run.family}: {EARLY_STOPPED} without patience")
    finals = [r[FINAL_EPOCH] for r in run.reports]
    _require(finals == [False] * (EPOCHS - 1) + [True], f"{run.family}: {FINAL_EPOCH} per epoch is {finals}")


def check_val_skill(run: ContractRun) -> None:
    """`val_skill` is the validation macro-F1 over persistence's, on the same windows."""
    valid = run.bundle.splits["valid"]
    persistence = scores(valid.labels, persistence_predictions(run.bundle, "valid"))["macro_f1"]
    for report in run.reports:
        expected = report[VAL_MACRO_F1] - persistence
        _require(
            _close(report[VAL_SKILL], expected, abs_=1e-12),
            f"{run.family}: {VAL_SKILL} {report[VAL_SKILL]} is not {VAL_MACRO_F1} - persistence = {expected}",
        )


def check_checkpoints(run: ContractRun) -> None:
    """One checkpoint per epoch, holding the loop's state (epoch, metrics, best validation loss)."""
    count = len(run.reporter.checkpoints)
    _require(count == EPOCHS, f"{run.family}: {count} checkpoints for {EPOCHS} epochs")
    state = read_state(run.reporter.checkpoints[1])
    _require(state.epoch == 2, f"{run.family}: the second checkpoint records epoch {state.epoch}")
    _require(
        state.metrics[VAL_MACRO_F1] == run.reports[1][VAL_MACRO_F1],
        f"{run.family}: the checkpoint's metrics differ from the epoch's report",
    )
    best = min(r[VAL_LOSS] for r in run.reports[:2])
    _require(state.best_val_loss == best, f"{run.family}: best_val_loss {state.best_val_loss}, not {best}")


def check_learns(run: ContractRun) -> None:
    """The easy pattern is learnt within a few epochs (chance macro-F1 is 1/3)."""
    f1 = [r[VAL_MACRO_F1] for r in run.reports]
    _require(max(f1) > 0.45, f"{run.family}: val_macro_f1 per epoch {f1} never exceeds 0.45 (chance is 1/3)")
    _require(f1[-1] > f1[0], f"{run.family}: val_macro_f1 per epoch {f1} did not improve")


def check_reload(run: ContractRun) -> None:
    """A checkpoint reloads to the same predictions: (batch, H, T, 3) probabilities summing to 1."""
    checkpoint = run.reporter.checkpoints[1]
    model = load_checkpoint(checkpoint)
    evaluation = model.evaluate(run.bundle.batches("valid", BATCH))
    valid = run.bundle.splits["valid"]
    _require(
        _close(evaluation.loss, run.reports[1][VAL_LOSS], rel=1e-5),
        f"{run.family}: the reloaded model's val_loss {evaluation.loss} differs from the reported "
        f"{run.reports[1][VAL_LOSS]}",
    )
    for key, value in validation_report(valid.labels, evaluation.probs).items():
        _require(
            _close(value, run.reports[1][key], abs_=1e-12),
            f"{run.family}: the reloaded model's {key} {value} differs from the reported {run.reports[1][key]}",
        )
    x = run.bundle.windows("valid", slice(0, 40))
    probs = model.predict_proba(x)
    shape = run.bundle.shape
    expected = (40, shape.horizon, shape.n_targets, 3)
    _require(
        tuple(probs.shape) == expected,
        f"{run.family}: predict_proba gives shape {tuple(probs.shape)}, expected (batch, H, T, 3) = {expected}",
    )
    again = load_checkpoint(checkpoint).predict_proba(x)
    np.testing.assert_array_equal(probs, again, err_msg=f"{run.family}: two reloads predict differently")
    np.testing.assert_allclose(
        probs.sum(axis=-1),
        1.0,
        rtol=1e-5,
        err_msg=f"{run.family}: probabilities do not sum to 1 over classes",
    )


def check_resume(run: ContractRun, root: Path) -> None:
    """A resumed trial continues at the next epoch with its optimizer state (torch: bit for bit)."""
    checkpoint = run.reporter.checkpoints[1]
    steps = load_checkpoint(checkpoint).optimizer_steps
    _require(
        steps == 2 * run.batches_per_epoch,
        f"{run.family}: the epoch-2 checkpoint has {steps} optimizer steps, not {2 * run.batches_per_epoch}",
    )
    resumed = rerun(run, root, restore_from=checkpoint, epochs=3)
    epochs = [r[EPOCH] for r in resumed.reports]
    _require(epochs == [3], f"{run.family}: resuming after epoch 2 of 3 reported epochs {epochs}")
    _require(resumed.reports[0][FINAL_EPOCH] is True, f"{run.family}: the resumed last epoch is not final")
    after = load_checkpoint(resumed.checkpoints[0])
    steps = after.optimizer_steps
    _require(
        steps == 3 * run.batches_per_epoch,
        f"{run.family}: after the resumed epoch the optimizer made {steps} steps, not {3 * run.batches_per_epoch}",
    )
    if after.framework.exact_resume:
        # same shuffle, same dropout draws (reseeded per epoch), restored optimizer: the resumed epoch 3
        # is the uninterrupted one (torch). Keras dropout generators restart after a reload: only close.
        _require(
            _close(resumed.reports[0][TRAIN_LOSS], run.reports[2][TRAIN_LOSS], rel=1e-5),
            f"{run.family}: resumed epoch 3 train_loss {resumed.reports[0][TRAIN_LOSS]} differs from the "
            f"uninterrupted {run.reports[2][TRAIN_LOSS]}",
        )


def check_determinism(run: ContractRun, root: Path) -> None:
    """The same config and seed give the same scores. The whole config, epochs included: how a Keras
    LSTM executes (unrolled or not, `keras_networks.UNROLL_MIN_BATCHES`) follows the trial's planned
    batches, so a shorter rerun computes the same math with other float rounding."""
    again = rerun(run, root)
    for key in (VAL_MACRO_F1, TRAIN_LOSS):
        _require(
            again.reports[0][key] == run.reports[0][key],
            f"{run.family}: same config and seed, but {key} {again.reports[0][key]} != {run.reports[0][key]}",
        )


CHECKS: tuple[Callable[[ContractRun], None], ...] = (
    check_reports,
    check_val_skill,
    check_checkpoints,
    check_learns,
    check_reload,
)
"""The checks that read one run; `check_resume` and `check_determinism` also train (into a folder)."""


def check_family(model: str, config: Mapping[str, Any] | None = None) -> None:
    """Run the whole trainable contract on `model` (`"mypkg.models:build"` or a built-in family name).

    `config`: the model's hyperparameters (default: the family's `example_config`, or none for a user
    model); keep it small, the family is trained a few epochs on a synthetic bundle on the CPU.
    Raises AssertionError naming the family and the broken rule; returns None when the contract holds.
    """
    from seqsweep.cli import quiet_environment

    # TensorFlow's and Ray's start-up chatter off, as for a command (the README's check returns quietly)
    with quiet_environment(verbose=False), tempfile.TemporaryDirectory(prefix="seqsweep-contract-") as folder:
        root = Path(folder)
        run = run_family(model, config, root=root / "run")
        for check in CHECKS:
            check(run)
        check_resume(run, root / "resume")
        check_determinism(run, root / "again")
