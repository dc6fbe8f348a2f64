"""`seqsweep export DIR --refit`: the winner's configuration retrained on train + validation.

The sweep chose a configuration and its best epoch count on the validation windows; once chosen,
those windows can also train. The refit trains the trial's configuration (its searched parameters and
the sweep's fixed ones) for exactly the best epoch count, plateau early stopping off, with the shared
loop (`seqsweep.trainables.loop.train`) in this process (no Ray) and the trial's own seed (the sweep
seed and the trial id, `seqsweep.trainables.seeding.trial_seed`), on a view of the dataset whose
train split is the train and the valid windows together (`train_valid_view`). The scalers, PCA and
label thresholds stay the train split's: they were fitted before the validation windows were looked
at, and the exported preprocessing must be the one the inputs were scaled with. The valid split stays
in the view only because the loop reports on it every epoch; those scores are in-sample and unused.

The refit model and the trial's best checkpoint are then scored side by side on the test windows,
beside the baselines, with the same block-bootstrap intervals `results` draws (`score_on_test`).

Refused with a ConfigError where a refit cannot mean the same model: a training function (`trainable:`
sweeps: no model family to rebuild) and a walk-forward experiment (`dataset.split.folds` > 1: its
exported model is the last fold's, already trained on every row before the last validation block).
A data-parallel sweep (`resources.workers` > 1) is refit single-worker here: its workers step on the
same global batches one worker would (`seqsweep.trainables.parallel`), so only dropout draws differ.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from seqsweep._text import CELL_DIGITS, signed
from seqsweep.data.bundle import DatasetBundle, SplitWindows
from seqsweep.errors import ConfigError, TrialError
from seqsweep.results import bootstrap
from seqsweep.results.evaluate import TEST_NOTE, TEST_SPLIT, SplitEvaluation, evaluate_split
from seqsweep.results.experiment import Experiment, TrialSummary
from seqsweep.results.winner_outputs import winner_outputs

REFIT_SUFFIX = "refit"
"""The refit model's name in the test table: `<trial id>-refit`."""
THRESHOLDS_NOTE = (
    "the scalers, PCA and label thresholds stay the train split's, fitted before the refit (the validation "
    "windows are scaled and labelled with them, as in the sweep), so the exported preprocessing is the one "
    "every refit input was scaled with"
)


@dataclasses.dataclass(frozen=True)
class Refit:
    """One refit: what it trained on, how long, with which seed, and where its last checkpoint is."""

    trial_id: str
    epochs: int
    """The trial's best epoch: every epoch of the refit (plateau early stopping off)."""
    sweep_seed: int
    seed: int
    """The trial's own seed, `trial_seed(sweep_seed, trial_id)`."""
    n_train_windows: int
    """Windows the refit trained on: the train split's plus the valid split's."""
    n_train_only: int
    n_valid_windows: int
    epochs_reported: int
    """Reports the loop made (one per epoch): equals `epochs` for a complete refit."""
    checkpoint: Path
    """The last epoch's checkpoint folder (under the caller's temporary folder)."""
    workers: int = 1
    """The sweep's data-parallel workers per trial; the refit itself always trains single-worker."""

    @property
    def name(self) -> str:
        return f"{self.trial_id}-{REFIT_SUFFIX}"

    @property
    def description(self) -> str:
        return f"trial {self.trial_id}'s configuration refit on train + validation for {self.epochs} epochs"

    def to_dict(self) -> dict[str, Any]:
        """The manifest's `refit` entry (JSON-ready)."""
        out: dict[str, Any] = {
            "trained_on": "train + valid",
            "epochs": self.epochs,
            "early_stopping": "off",
            "n_train_windows": self.n_train_windows,
            "n_train_split_windows": self.n_train_only,
            "n_valid_split_windows": self.n_valid_windows,
            "sweep_seed": self.sweep_seed,
            "seed": self.seed,
            "preprocessing": THRESHOLDS_NOTE,
        }
        if self.workers > 1:
            out["workers"] = (
                f"the sweep trained on {self.workers} data-parallel workers; the refit trained single-worker "
                "on the same global batches"
            )
        return out


def check_refit(experiment: Experiment, trial: TrialSummary) -> None:
    """Raise ConfigError (one line) when `trial` of `experiment` cannot be refit; see the module doc."""
    spec = experiment.sweep
    if spec is None:
        raise ConfigError(
            f"--refit: {experiment.path} has no sweep.yaml, so the configuration to retrain is unknown"
        )
    if spec.file.trainable is not None:
        raise ConfigError(
            f"--refit: {experiment.name} trains with the training function {spec.file.trainable} (`trainable:`), "
            "which has no model family to rebuild; export without --refit (its best checkpoint)"
        )
    folds = spec.file.dataset.split.folds
    if folds > 1:
        raise ConfigError(
            f"--refit: {experiment.name} is a walk-forward experiment ({folds} folds); export without --refit "
            "exports the last fold's model, already trained on every row before the last validation block"
        )
    if trial.best_epoch is None or trial.best_epoch < 1:
        raise ConfigError(
            f"--refit: trial {trial.trial_id} reported no epoch number, so its best epoch count is unknown"
        )


def train_valid_view(bundle: DatasetBundle) -> DatasetBundle:
    """A view of `bundle` whose train split is its train and valid windows together.

    The windows' ends, labels and moves are concatenated (train first); the valid split stays as it is
    (the loop reports on it; in-sample after a refit), the test split is left out, and the features,
    scalers and label thresholds are the bundle's own (train-fitted). Nothing is copied but the window
    index. Raises ConfigError for a walk-forward dataset (folds > 1).
    """
    if bundle.n_folds > 1:
        raise ConfigError(f"--refit: the dataset has {bundle.n_folds} walk-forward folds; refit needs one")
    train, valid = bundle.splits["train"], bundle.splits["valid"]
    union = SplitWindows(
        ends=np.concatenate([train.ends, valid.ends]),
        labels=np.concatenate([train.labels, valid.labels]),
        moves=np.concatenate([train.moves, valid.moves]),
    )
    return dataclasses.replace(bundle, splits={"train": union, "valid": valid})


def refit_trial(experiment: Experiment, trial: TrialSummary, bundle: DatasetBundle, root: Path) -> Refit:
    """Train `trial`'s configuration on `train_valid_view(bundle)` for its best epoch count; the
    checkpoints go under `root` (the caller removes it). Raises ConfigError as `check_refit` does, and
    TrialError when training fails (a non-finite loss)."""
    from seqsweep.trainables import loop
    from seqsweep.trainables.base import DeviceSettings, TrialSettings
    from seqsweep.trainables.reporting import InMemoryReporter
    from seqsweep.trainables.seeding import trial_seed

    check_refit(experiment, trial)
    spec = experiment.sweep
    assert spec is not None and trial.best_epoch is not None  # check_refit
    view = train_valid_view(bundle)
    sweep_settings = TrialSettings(
        model=spec.model_name, seed=spec.file.search.seed, fixed=spec.fixed, families=spec.families
    )
    # as the trial ran it (a mixed-family sweep: the family its config names, that family's flat config)
    settings, config = sweep_settings.for_trial(trial.config)
    config["epochs"] = trial.best_epoch
    # The epoch count is chosen: no plateau rule may cut it short, whether the sweep set `patience` or the
    # family's own default did (gru's 5, judged on the valid windows the refit trains on).
    config["patience"] = None
    resources = spec.file.resources
    device = DeviceSettings(cpus=os.cpu_count() or 1, gpu_fraction=min(1.0, float(resources.gpu)))
    reporter = InMemoryReporter(trial.trial_id, root=root)
    loop.train(config, view, settings, reporter, device)
    if reporter.last_checkpoint is None:
        raise ConfigError(f"--refit: trial {trial.trial_id}'s refit reported no epoch")
    if len(reporter.reports) != trial.best_epoch:
        raise TrialError(
            f"--refit: trial {trial.trial_id}'s refit stopped after {len(reporter.reports)} of its "
            f"{trial.best_epoch} epochs; nothing was exported"
        )
    return Refit(
        trial_id=trial.trial_id,
        epochs=trial.best_epoch,
        sweep_seed=settings.seed,
        seed=trial_seed(settings.seed, trial.trial_id),
        n_train_windows=len(view.splits["train"]),
        n_train_only=len(bundle.splits["train"]),
        n_valid_windows=len(bundle.splits["valid"]),
        epochs_reported=len(reporter.reports),
        checkpoint=reporter.last_checkpoint,
        workers=resources.workers,
    )


def score_on_test(
    trial: TrialSummary, refit: Refit, bundle: DatasetBundle
) -> tuple[SplitEvaluation, bootstrap.Interval]:
    """The refit model (first) and the trial's best checkpoint scored on `bundle`'s test windows beside
    both baselines, each with its bootstrap intervals against them (the draws `results` uses, so the
    checkpoint's interval is the one `results` shows), and the interval of refit minus checkpoint."""
    refitted = dataclasses.replace(trial, checkpoint=str(refit.checkpoint))
    outputs = {
        refit.name: (refit.description, winner_outputs(refitted, bundle, [TEST_SPLIT])[TEST_SPLIT]),
        trial.trial_id: (
            f"best epoch {trial.best_epoch} of trial {trial.trial_id} ({trial.family})",
            winner_outputs(trial, bundle, [TEST_SPLIT])[TEST_SPLIT],
        ),
    }
    settings = bootstrap.settings_for(bundle, TEST_SPLIT)
    evaluation = evaluate_split(bundle, TEST_SPLIT, outputs, note=TEST_NOTE, intervals=settings)
    pair = (refit.name, trial.trial_id)
    versus = bootstrap.compare(
        bundle.splits[TEST_SPLIT].labels,
        {name: out.classes for name, (_, out) in outputs.items()},
        [pair],
        bootstrap.window_groups(bundle, TEST_SPLIT),
        settings,
    )[pair]
    return evaluation, versus


def refit_sentence(refit: dict[str, Any], model: dict[str, Any], checkpoint: dict[str, Any]) -> str:
    """The model card's paragraph on which model was exported and why (from metrics.json's entries)."""
    versus = refit.get("vs_checkpoint") or {}
    interval = (
        f" (refit minus checkpoint {signed(versus['delta'], CELL_DIGITS)}, 95 % interval "
        f"{signed(versus['ci95'][0], CELL_DIGITS)} to {signed(versus['ci95'][1], CELL_DIGITS)})"
        if versus
        else ""
    )
    epochs = f"{refit['epochs']} epoch{'s' if refit['epochs'] != 1 else ''}"
    workers = f" {refit['workers'][0].upper()}{refit['workers'][1:]}." if refit.get("workers") else ""
    return (
        f"**Exported: this configuration refit on train + validation for {epochs}; its test macro-F1 (per "
        f"cell) {model['macro_f1']:.4f} vs the best checkpoint's {checkpoint['macro_f1']:.4f}**{interval}. "
        f"`export --refit` retrained the trial's configuration on the train and validation windows together "
        f"({refit['n_train_windows']}: {refit['n_train_split_windows']} train + {refit['n_valid_split_windows']} "
        f"valid) for the trial's best epoch count, plateau early stopping off, with the trial's own seed "
        f"({refit['seed']}, from sweep seed {refit['sweep_seed']} and the trial id). The refit was asked for, "
        f"not chosen on test: it is exported whatever the two scores. Preprocessing: {THRESHOLDS_NOTE}.{workers}"
    )
