"""Each winner's predictions on a split: read back from those an earlier call kept (`prediction_cache`), else its
checkpoint loaded once and run over the split's windows; and the one-line errors for a checkpoint gone
or damaged, or a user's own model failing outside its trial (`results` and `export` both load winners).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from seqsweep import metrics
from seqsweep.constants import N_CLASSES
from seqsweep.data.bundle import DatasetBundle
from seqsweep.errors import ConfigError, SeqsweepError
from seqsweep.results import prediction_cache
from seqsweep.results.experiment import TrialSummary

WINDOW_CHUNK = 2048
"""Windows gathered per forward pass: bounds the (B, L, F) copy on large splits."""


@dataclass(frozen=True)
class WinnerOutput:
    """One winner's predictions on one split."""

    classes: np.ndarray
    """(n, H, T) int8 predicted class ids."""
    moves: np.ndarray | None = None
    """(n, H, T) predicted moves, for a model with the regression objective."""


WITHOUT_THIS_TRIAL: Final = (
    "`results --no-test` reads no checkpoint, `export --trial ID` exports another trial"
)
"""The ways on when one winner's checkpoint cannot be used: `results` scores every winner on test."""


def missing_checkpoint(trial: TrialSummary) -> str:
    """One line: the trial's best-epoch checkpoint is not on disk, naming the folder its report names."""
    where = f" {trial.missing_checkpoint}" if trial.missing_checkpoint else ""
    return (
        f"trial {trial.trial_id}: the checkpoint of its best epoch ({trial.best_epoch}){where} is not on "
        f"disk (checkpoints.keep did not keep it, or it was deleted); restore it, or go on without it: "
        f"{WITHOUT_THIS_TRIAL}"
    )


def winner_outputs(
    trial: TrialSummary,
    bundle: DatasetBundle,
    splits: Sequence[str],
    *,
    cpus: int | None = None,
    keep_in: Path | None = None,
) -> dict[str, WinnerOutput]:
    """The trial's best checkpoint, loaded once, on each split: class ids, and moves when it predicts them.

    For a walk-forward trial the checkpoint's model is its last fold's (`load_checkpoint`), whose
    scaling and thresholds are the dataset's own, so `bundle`'s splits apply as they are. With `keep_in`
    (the experiment folder) each split's output is read from, or written to, the predictions kept there
    under the checkpoint's, the dataset's and the code's key (`prediction_cache`); the checkpoint is
    loaded only when a split is not kept. Raises ConfigError when the checkpoint of the best epoch was
    not kept.
    """
    from seqsweep.trainables import TrainableModel

    if trial.checkpoint is None:
        raise ConfigError(missing_checkpoint(trial))
    checkpoint = Path(trial.checkpoint)
    kept_at = _kept_paths(trial, checkpoint, bundle, splits, keep_in)
    outputs = {
        split: out for split, path in kept_at.items() if (out := _kept(path, bundle, split)) is not None
    }
    if len(outputs) == len(splits):
        return outputs
    with user_model_code(trial, rebuilt_from(checkpoint)):
        framework, model = load_trial_checkpoint(trial.trial_id, checkpoint, cpus, family=trial.family)
        framework.require_predicts(model, checkpoint)
        for split in splits:
            if split in outputs:
                continue
            if isinstance(model, TrainableModel) and model.regression:
                evaluation = model.evaluate(bundle.batches(split, WINDOW_CHUNK))
                outputs[split] = WinnerOutput(metrics.predicted_classes(evaluation.probs), evaluation.moves)
            else:
                outputs[split] = WinnerOutput(metrics.predicted_classes(predict_split(model, bundle, split)))
            if split in kept_at:
                prediction_cache.store(kept_at[split], outputs[split])
    return {split: outputs[split] for split in splits}


def _kept_paths(
    trial: TrialSummary, checkpoint: Path, bundle: DatasetBundle, splits: Sequence[str], keep_in: Path | None
) -> dict[str, Path]:
    """{split: where its predictions are kept} for `winner_outputs`; empty without `keep_in`, for a
    user's own model (`prediction_cache` says why), or a checkpoint folder gone or unreadable (loading it
    then says so in one line)."""
    from seqsweep.trainables.registry import is_user_model

    if keep_in is None or is_user_model(trial.family) or not checkpoint.is_dir():
        return {}
    try:
        keys = prediction_cache.prediction_keys(checkpoint, bundle.cache_key, splits)
    except OSError:
        return {}
    return {
        split: prediction_cache.stored_path(keep_in, trial.trial_id, split, keys[split]) for split in splits
    }


def _kept(path: Path, bundle: DatasetBundle, split: str) -> WinnerOutput | None:
    """The split's predictions kept at `path` when they fit its windows (n, H, T), else None."""
    shape = (len(bundle.splits[split]), bundle.spec.horizon, len(bundle.target_names))
    kept = prediction_cache.load(path, shape)
    return None if kept is None else WinnerOutput(*kept)


def rebuilt_from(checkpoint: Path) -> str:
    """`user_model_code`'s `doing` while a model is rebuilt from `checkpoint` and predicts."""
    return f"rebuilt from its checkpoint {checkpoint} to predict"


@contextmanager
def user_model_code(trial: TrialSummary, doing: str) -> Iterator[None]:
    """An error of a user's own model (`model: package.module:function`) while it runs outside the trial
    (`results`, `export`: rebuilt from a checkpoint to predict, or retrained by `export --refit`), `doing`
    saying which, as one ConfigError line naming the trial, the model and the error; it ended the command
    as an "unexpected error" (exit 3), or, a ValueError, as a checkpoint "damaged or changed after the
    run". Built-in families' errors are left as they are."""
    from seqsweep.trainables.function import user_code_failure
    from seqsweep.trainables.registry import is_user_model

    try:
        yield
    except SeqsweepError:
        raise
    except (Exception, SystemExit) as exc:  # a sys.exit(0) there ended the command with exit 0, no line
        if not is_user_model(trial.family):
            raise
        raise ConfigError(
            f"trial {trial.trial_id}: its model {trial.family} failed outside the trial, {doing}: it "
            f"{user_code_failure(exc)}; fix the model function (results and export call it again), or go "
            f"on without it: {WITHOUT_THIS_TRIAL}"
        ) from exc


def load_trial_checkpoint(
    trial_id: str, checkpoint: Path, cpus: int | None = None, *, family: str | None = None
) -> tuple[Any, Any]:
    """(framework adapter, model) of a trial's checkpoint folder. Raises ConfigError (one line) when the
    folder is gone or its files cannot be loaded (deleted or changed by hand after the run), instead of
    the loader's own error naming a file the checkpoint never had. For a user's own model (`family`
    `package.module:function`) an error other than OSError, raised once seqsweep's own files of the
    checkpoint (`model.json`, a training function's marker) were read, is left to `user_model_code`: its
    function runs here again."""
    from seqsweep.trainables import DeviceSettings
    from seqsweep.trainables.frameworks import checkpoint_framework
    from seqsweep.trainables.registry import is_user_model

    if not checkpoint.is_dir():
        raise ConfigError(f"trial {trial_id}: its checkpoint {checkpoint} is gone (deleted after the run?)")
    try:
        framework = checkpoint_framework(checkpoint)  # seqsweep's own JSON: never the user's code
    except (OSError, ValueError, KeyError) as exc:
        raise _damaged_checkpoint(trial_id, checkpoint, exc) from None
    try:
        return framework, framework.load_checkpoint(
            checkpoint, DeviceSettings(cpus=cpus or os.cpu_count() or 1)
        )
    except (OSError, ValueError, KeyError) as exc:
        if family is not None and is_user_model(family) and not isinstance(exc, OSError):
            raise  # the user's function may have raised it (a file missing or unreadable is the folder's)
        raise _damaged_checkpoint(trial_id, checkpoint, exc) from None


def _damaged_checkpoint(trial_id: str, checkpoint: Path, exc: Exception) -> ConfigError:
    """The one line for a checkpoint folder whose files cannot be loaded: what failed and what it holds."""
    from seqsweep.trainables.checkpoint import DamagedCheckpointFile

    present = ", ".join(sorted(p.name for p in checkpoint.iterdir())) or "nothing"
    what = exc.detail if isinstance(exc, DamagedCheckpointFile) else type(exc).__name__
    return ConfigError(
        f"trial {trial_id}: its checkpoint {checkpoint} cannot be loaded ({what}; it holds "
        f"{present}): damaged or changed after the run; go on without it: {WITHOUT_THIS_TRIAL}"
    )


def predict_split(model: Any, bundle: DatasetBundle, split: str) -> np.ndarray:
    """`model.predict_proba` over every window of `split`, gathered in chunks: (n, H, T, 3)."""
    n = len(bundle.splits[split])
    parts = [
        model.predict_proba(bundle.windows(split, slice(s, s + WINDOW_CHUNK)))
        for s in range(0, n, WINDOW_CHUNK)
    ]
    shape = (0, bundle.spec.horizon, len(bundle.target_names), N_CLASSES)
    return np.concatenate(parts, axis=0) if parts else np.empty(shape, dtype=np.float32)
