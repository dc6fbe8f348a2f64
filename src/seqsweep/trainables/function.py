"""Any training function as a trial: `trainable: "package.module:function"` in a sweep file.

The function is called once per trial as

    function(config: dict, data: DatasetView, reporter: Reporter) -> None

- `config`: the trial's searched and fixed parameters (plain values, exactly as the sweep file names
  them; no defaults are added).
- `data`: a read-only `DatasetView` of the built dataset: the train and validation windows as numpy
  arrays, their labels and moves, the data shape, the mask value, the trial's seed, and
  `validation_metrics(probs)`, which scores validation probabilities with the metrics every built-in
  family reports (so the leaderboard compares them). The test split is not offered: it never chooses.
- `reporter`: `report(metrics, checkpoint_dir=None)` once per step (an epoch, a boosting stage, ...)
  with at least the sweep's search metric, and `restored_checkpoint()` (a folder to resume from after a
  retry or `seqsweep resume`, or None). The metrics go to Ray Tune, so ASHA, Optuna, budgets, resume and
  the leaderboard treat the trial like any other. `epoch` is added (1, 2, ... continued over a resume)
  when the function does not report it. A report whose `train_loss`, `val_loss` or any metric a sweep
  may search on (`seqsweep.constants.SEARCH_METRICS`) is NaN, infinite or not a number fails the trial
  with a `TrialError`, as a built-in family's NaN loss does: it errors alone, Optuna records it FAIL,
  and it is never a sweep's best. Each checkpoint folder gets a small `seqsweep_function.json`
  (the function's import path and the step), which `results` and `export` read.

Test scores and export need predictions: the function's module may define the hook

    predict(checkpoint_dir: pathlib.Path, windows: np.ndarray) -> np.ndarray

mapping (n, L, F) float32 windows (MASK_VALUE at missing inputs) to (n, H, T, 3) class probabilities
(down, flat, up) from a checkpoint the function reported. Without it `results` ranks the trials on
their validation reports and says that test scores are unavailable. Example:
`seqsweep.examples.sklearn_gbm`.
"""

from __future__ import annotations

import importlib
import json
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqsweep.constants import EPOCH, MASK_VALUE, SEARCH_METRICS, VAL_MACRO_F1, VAL_SKILL
from seqsweep.data.bundle import DatasetBundle, DataShape
from seqsweep.errors import ConfigError, TrialError, error_line
from seqsweep.trainables.reporting import Reporter

FUNCTION_MARKER = "seqsweep_function.json"
"""Written into every checkpoint folder a function trainable reports: {"trainable", "epoch"}."""
PREDICT_HOOK = "predict"
"""Name of the optional prediction hook in the training function's module."""
FUNCTION_CHECKPOINT_DIR = "checkpoint"
"""In an exported bundle's `model/`: the trial's best checkpoint folder, as the function wrote it."""
FUNCTION_FILE = "function.json"
"""In an exported bundle's `model/`: {"trainable": import path, "predict_hook": import path or null}."""
VIEW_SPLITS = ("train", "valid")
"""The splits a training function may read; the test split is kept for the winners' scores."""


def import_trainable(spec: str, what: str = "trainable") -> Callable[..., Any]:
    """The callable named by `package.module:function`; ConfigError (one line) if it cannot be had or
    cannot be called as `function(config, data, reporter)`."""
    from seqsweep.trainables.user import check_signature, import_function

    try:
        function = import_function(spec)
        check_signature(spec, function, ("config", "data", "reporter"))
        return function
    except Exception as exc:  # UnknownModelError speaks of `model`; say `trainable`
        raise ConfigError(
            str(exc).replace("model ", f"{what} ", 1).replace("a user model", "a function")
        ) from None


def predict_hook(spec: str) -> Callable[[Path, np.ndarray], np.ndarray] | None:
    """The `predict(checkpoint_dir, windows)` hook of the trainable's module, or None when it has none
    (or the module cannot be imported here)."""
    module_name = spec.partition(":")[0]
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit):  # results must not crash (or exit) on a module not importable here
        return None
    hook = getattr(module, PREDICT_HOOK, None)
    return hook if callable(hook) else None


def user_code_failure(error: BaseException) -> str:
    """What a user's function did, for a one-line error: `called sys.exit(2)`, or `raised Type: message`
    (`error_line`: passwords hidden, cut to a bounded length)."""
    if isinstance(error, SystemExit):
        return f"called sys.exit({error.code!r})"
    return f"raised {error_line(error)}"


def hook_import_error(spec: str) -> str:
    """` (importing its module failed: Type: message)` when the trainable's module fails to import
    in this process (a SyntaxError, a missing dependency), else "": a line saying the module has no
    `predict` hook must not hide that the module itself is broken."""
    try:
        importlib.import_module(spec.partition(":")[0])
    except (Exception, SystemExit) as exc:
        return f" (importing its module failed: {error_line(exc)})"
    return ""


def hook_path(spec: str) -> str:
    """`package.module:predict` for the trainable `package.module:function`."""
    return f"{spec.partition(':')[0]}:{PREDICT_HOOK}"


def read_marker(checkpoint_dir: str | Path) -> dict[str, Any] | None:
    """The `seqsweep_function.json` of a function trainable's checkpoint; None for any other checkpoint."""
    path = Path(checkpoint_dir) / FUNCTION_MARKER
    if not path.is_file():
        return None
    payload = json.loads(path.read_text(encoding="utf-8"))
    return payload if isinstance(payload, dict) else None


@dataclass(frozen=True)
class DatasetView:
    """A training function's read-only view of the built dataset (train and validation splits only).

    Arrays are gathered on each call (copies; the bundle itself stays in Ray's object store):
    `windows(split)` (n, L, F) float32 scaled inputs, MASK_VALUE (-50) where missing;
    `labels(split)` (n, H, T) int8 classes 0 down / 1 flat / 2 up, MASK_VALUE where the target is missing;
    `moves(split)` (n, H, T) float32 scaled moves from the last observed value, MASK_VALUE where missing.
    `split` is `train` or `valid`; anything else raises ConfigError.
    """

    bundle: DatasetBundle
    seed: int = 0
    """The trial's seed (from the sweep's `search.seed` and the trial id): seed your model with it."""
    cpus: int = 1
    """CPUs the trial was given (`resources.cpu`): size thread pools to it."""

    @property
    def shape(self) -> DataShape:
        """lookback L, n_features F, horizon H, n_targets T."""
        return self.bundle.shape

    @property
    def mask_value(self) -> float:
        return MASK_VALUE

    @property
    def target_names(self) -> tuple[str, ...]:
        return tuple(self.bundle.target_names)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(self.bundle.feature_names)

    def _check(self, split: str) -> str:
        if split not in VIEW_SPLITS:
            raise ConfigError(
                f"DatasetView: split {split!r} is not offered (use train or valid; the test split only "
                f"scores the winners)"
            )
        return split

    def n_windows(self, split: str) -> int:
        return len(self.bundle.splits[self._check(split)])

    def windows(self, split: str) -> np.ndarray:
        """(n, L, F) float32 inputs of every window of `split`, in the bundle's order."""
        return self.bundle.windows(self._check(split))

    def labels(self, split: str) -> np.ndarray:
        """(n, H, T) int8 classes of `split` (a copy)."""
        return np.array(self.bundle.splits[self._check(split)].labels)

    def moves(self, split: str) -> np.ndarray:
        """(n, H, T) float32 scaled moves of `split` (a copy)."""
        return np.array(self.bundle.splits[self._check(split)].moves)

    def validation_metrics(self, probs: np.ndarray) -> dict[str, float]:
        """Score (n_valid, H, T, 3) probabilities of the validation windows as every family does:
        val_macro_f1 (the mean per-cell macro-F1), val_macro_f1_pooled, val_accuracy,
        val_precision_macro, val_recall_macro and val_skill (val_macro_f1 minus persistence's)."""
        from seqsweep.baselines import persistence_valid_f1
        from seqsweep.metrics import validation_report

        labels = self.bundle.splits["valid"].labels
        probs = np.asarray(probs)
        expected = (*labels.shape, 3)
        if probs.shape != expected:
            raise ConfigError(f"validation_metrics: probabilities must be {expected}, got {probs.shape}")
        metrics = validation_report(labels, probs)
        metrics[VAL_SKILL] = metrics[VAL_MACRO_F1] - persistence_valid_f1(self.bundle)
        return metrics


FINITE_METRICS = SEARCH_METRICS
"""The reported metrics that must be finite numbers when present: both losses and every metric a sweep
may search on (`results` ranks a trial only on epochs whose search metric and losses are finite)."""


def require_finite_report(
    trainable: str, metrics: Mapping[str, Any], epoch: int, metric: str | None = None
) -> None:
    """TrialError naming the metric, its value and the epoch when a report's loss or search metric
    (`FINITE_METRICS` and the sweep's own `metric`, those present) is NaN, infinite or not a real
    number: that trial fails alone."""
    for name in dict.fromkeys((*FINITE_METRICS, *([metric] if metric else []))):
        if name not in metrics:
            continue
        value = metrics[name]
        number = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
        if not (number and math.isfinite(float(value))):
            shown = float(value) if number else repr(value)
            raise TrialError(
                f"trainable {trainable}: {name} is {shown} at epoch {epoch}; the losses and search "
                f"metrics a training function reports must be finite numbers"
            )


class FunctionReporter:
    """The `Reporter` a training function gets: adds `epoch` and the checkpoint marker, checks that the
    losses and search metrics are finite (`require_finite_report`), then forwards."""

    def __init__(self, inner: Reporter, trainable: str, metric: str | None = None) -> None:
        self._inner = inner
        self._trainable = trainable
        self._metric = metric
        self._epoch = 0
        self.reports = 0
        """Reports forwarded so far."""

    @property
    def trial_id(self) -> str:
        return self._inner.trial_id

    def restored_checkpoint(self) -> Path | None:
        """The folder to resume from (None to start fresh); reports go on at the step after its own."""
        restored = self._inner.restored_checkpoint()
        marker = read_marker(restored) if restored is not None else None
        if marker is not None:
            self._epoch = int(marker.get("epoch", 0))
        return restored

    def report(self, metrics: Mapping[str, Any], checkpoint_dir: str | Path | None = None) -> None:
        """Report one step's metrics (a mapping of names to numbers), with an optional checkpoint folder.

        TrialError (nothing is forwarded) when a loss or search metric is not a finite number, when the
        sweep's search metric is missing, when `metrics` gives an `epoch` that is not a whole number
        above the last one reported, or when `checkpoint_dir` is not a folder."""
        if not isinstance(metrics, Mapping):
            raise ConfigError(
                f"trainable {self._trainable}: report(metrics, ...) takes a mapping, got {type(metrics).__name__}"
            )
        payload = dict(metrics)
        given = payload.get(EPOCH)
        if given is not None and (
            isinstance(given, bool) or not isinstance(given, numbers.Integral) or given <= self._epoch
        ):
            # `results` keeps one row per epoch (the last): a repeated or smaller epoch would rank and
            # prune other reports than the ones Tune and the searcher saw
            raise TrialError(
                f"trainable {self._trainable}: report gave epoch {given!r} after epoch {self._epoch}; each "
                f"report is one step, with `{EPOCH}` a whole number that grows (or leave `{EPOCH}` out: it "
                f"is counted 1, 2, ...)"
            )
        self._epoch = int(payload.get(EPOCH, self._epoch + 1))
        payload[EPOCH] = self._epoch
        if self._metric is not None and self._metric not in payload:
            # Tune would end the whole sweep on it with its own TuneError (exit 3), naming no trainable
            raise TrialError(
                f"trainable {self._trainable}: the report of epoch {self._epoch} has no {self._metric!r}, the "
                f"sweep's search metric (it gave: {', '.join(sorted(map(str, payload)))}); report it every "
                f"step, or set search.metric to a metric the function reports"
            )
        require_finite_report(self._trainable, payload, self._epoch, self._metric)
        folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
        if folder is not None and not folder.is_dir():
            # the marker written into it failed with FileNotFoundError naming seqsweep's own file
            raise TrialError(
                f"trainable {self._trainable}: report at epoch {self._epoch} gave checkpoint_dir "
                f"{str(folder)!r}, which is not a folder; write the checkpoint's files into a folder that "
                f"exists (e.g. a tempfile.TemporaryDirectory()) and pass that, or leave checkpoint_dir out"
            )
        if folder is not None:
            (folder / FUNCTION_MARKER).write_text(
                json.dumps({"trainable": self._trainable, "epoch": self._epoch}) + "\n", encoding="utf-8"
            )
        self._inner.report(payload, folder)
        self.reports += 1

    def check_reported(self) -> None:
        """TrialError when the function returned without one report on a fresh start: Tune would record
        the trial as finished with no metric (`best none`) and the sweep would end with exit 0. A resumed
        trial may have reported its last epoch before the driver died, so it is not checked."""
        if self.reports == 0 and self._inner.restored_checkpoint() is None:
            raise TrialError(
                f"trainable {self._trainable}: the function returned without reporting any epoch; call "
                f"reporter.report(metrics) once per epoch"
            )


def train_function(
    trainable: str,
    config: Mapping[str, Any],
    bundle: DatasetBundle,
    reporter: Reporter,
    *,
    sweep_seed: int = 0,
    fixed: Mapping[str, Any] | None = None,
    metric: str | None = None,
) -> None:
    """Run the training function `trainable` for one trial: `function(config, DatasetView, reporter)`.

    `fixed` (the sweep's fixed parameters) is merged under `config`; `metric` (the sweep's search metric)
    must be finite in every report that gives it. Raises ConfigError when the function
    cannot be imported or the dataset has walk-forward folds (a function trains on one split).
    """
    from seqsweep.trainables.seeding import trial_seed

    function = import_trainable(trainable)
    if bundle.n_folds > 1:
        raise ConfigError(
            f"trainable {trainable}: a training function trains on one split; dataset.split.folds must be 1"
        )
    device = getattr(reporter, "device_settings", None)
    cpus = device().cpus if callable(device) else 1
    view = DatasetView(bundle, seed=trial_seed(sweep_seed, reporter.trial_id), cpus=cpus)
    forwarding = FunctionReporter(reporter, trainable, metric)
    try:
        function({**(fixed or {}), **config}, view, forwarding)
    except SystemExit as exc:
        # Tune took it for the function's end and then failed on an assertion of its own
        raise TrialError(
            f"trainable {trainable}: the function called sys.exit({exc.code!r}) after {forwarding.reports} "
            f"report(s); return from it instead"
        ) from None
    forwarding.check_reported()


class HookModel:
    """A function trainable's checkpoint behind its module's `predict` hook, as a `predict_proba` model."""

    def __init__(
        self, hook: Callable[[Path, np.ndarray], np.ndarray] | None, checkpoint: Path, trainable: str
    ) -> None:
        self.hook = hook
        """None when the module has no `predict` hook (or cannot be imported here): nothing to predict with."""
        self.checkpoint = Path(checkpoint)
        self.trainable = trainable

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(B, L, F) → (B, H, T, 3) probabilities from the hook; ConfigError without a hook or when its
        output has another shape."""
        if self.hook is None:
            raise ConfigError(
                f"the training function {self.trainable} has no {hook_path(self.trainable)} hook"
                f"{hook_import_error(self.trainable)}, so its checkpoints cannot predict"
            )
        try:
            out = np.asarray(self.hook(self.checkpoint, np.asarray(x, dtype=np.float32)), dtype=np.float32)
        except (Exception, SystemExit) as exc:  # the user's code: one line naming it (`results` said
            # "unexpected error"; a sys.exit(0) there ended `results` and `predict` with exit 0 and no output)
            raise ConfigError(
                f"{hook_path(self.trainable)} on the checkpoint {self.checkpoint}: {user_code_failure(exc)}; "
                f"fix the hook"
            ) from exc
        if out.ndim != 4 or out.shape[0] != len(x) or out.shape[-1] != 3:
            raise ConfigError(
                f"{hook_path(self.trainable)}: must return (n, H, T, 3) probabilities for {len(x)} windows, "
                f"got shape {out.shape}"
            )
        return out
