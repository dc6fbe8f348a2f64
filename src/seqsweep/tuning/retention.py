"""Checkpoint retention: each trial keeps its best `checkpoints.keep` checkpoints and its latest.

Tune's own `num_to_keep` deletes a checkpoint the moment a better one arrives, while the experiment
state it saved a few seconds earlier may still point at the deleted one: a driver killed in that gap
leaves a trial that cannot be restored. So Tune keeps every checkpoint while the sweep runs, and
`prune_checkpoints` applies the retention once `fit()` has returned (after `run` or `resume`) and
the sweep was not interrupted; Tune's saved experiment state is rewritten to match. It also removes
checkpoint folders Tune does not track (`untracked_checkpoints`): a prune stopped half way leaves them,
and no later prune would ever see them again.
"""

from __future__ import annotations

import logging
import math
import shutil
from pathlib import Path
from typing import Any

from seqsweep.tuning.experiment_state import forget_checkpoints

logger = logging.getLogger(__name__)


def kept_checkpoints(result: Any) -> list[tuple[Any, dict[str, Any]]]:
    """A Tune `Result`'s (checkpoint, metrics) pairs whose directory is still on disk."""
    return [(c, m) for c, m in (result.best_checkpoints or []) if Path(c.path).exists()]


def untracked_checkpoints(result: Any) -> list[str]:
    """Checkpoint folders (`checkpoint_*`) in a finished trial's folder that its `Result` does not list.

    Once `fit()` has returned, Tune's state lists every checkpoint it registered, so such a folder is one a
    prune stopped half way (Tune's state rewritten, the folder not yet deleted) left behind, or one a worker
    wrote before it died, unregistered: no result row names it and nothing reads it. (An unfinished trial's
    whole folders are taken up by `resume` instead: `experiment_state.reconcile_for_resume`.)
    """
    trial_dir = Path(str(result.path)) if getattr(result, "path", None) else None
    if trial_dir is None or not trial_dir.is_dir():
        return []
    tracked = {Path(checkpoint.path).resolve() for checkpoint, _ in (result.best_checkpoints or [])}
    return [
        str(folder)
        for folder in sorted(trial_dir.glob("checkpoint_*"))
        if folder.is_dir() and folder.resolve() not in tracked
    ]


def checkpoints_to_prune(results: Any, *, keep: int, metric: str, mode: str) -> list[str]:
    """Paths of every checkpoint but each trial's best `keep` (by `metric`) and its latest, and of every
    checkpoint folder Tune does not track (`untracked_checkpoints`)."""
    doomed: list[str] = []
    for result in results:
        doomed.extend(untracked_checkpoints(result))
        pairs = kept_checkpoints(result)
        if len(pairs) <= keep:
            continue
        latest = max(pairs, key=lambda pair: pair[1].get("training_iteration", -1))[0].path
        ranked = sorted(pairs, key=lambda pair: _rank_key(pair[1].get(metric), mode))
        kept = {checkpoint.path for checkpoint, _ in ranked[:keep]} | {latest}
        doomed.extend(checkpoint.path for checkpoint, _ in pairs if checkpoint.path not in kept)
    return doomed


def prune_checkpoints(
    results: Any, *, keep: int, metric: str, mode: str, experiment_dir: Path | None = None
) -> int:
    """Delete every checkpoint but each trial's best `keep` (by `metric`) and its latest; returns how many.

    With `experiment_dir`, Tune's saved state and result rows stop naming the doomed checkpoints
    first (see `experiment_state.forget_checkpoints`), so Ray's readers never hand out a deleted one.
    """
    doomed = checkpoints_to_prune(results, keep=keep, metric=metric, mode=mode)
    if experiment_dir is not None:
        forget_checkpoints(experiment_dir, doomed)
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    if doomed:
        logger.info(
            "checkpoints: removed %d beyond the best %d and the latest of each trial", len(doomed), keep
        )
    return len(doomed)


def _rank_key(value: Any, mode: str) -> float:
    """Sort key putting the best score first and missing or non-finite scores last."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.inf
    if not math.isfinite(number):
        return math.inf
    return -number if mode == "max" else number
