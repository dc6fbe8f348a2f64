"""Checkpoint retention on real directories: best `keep` by the metric plus the latest survive."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqsweep.tuning.retention import kept_checkpoints, prune_checkpoints


@dataclass
class FakeCheckpoint:
    path: str


@dataclass
class FakeResult:
    """The attributes of a Tune `Result` that retention reads."""

    best_checkpoints: list[tuple[FakeCheckpoint, dict[str, Any]]] = field(default_factory=list)
    path: str | None = None


def _trial(root: Path, scores: list[float]) -> FakeResult:
    result = FakeResult(path=str(root))
    for iteration, score in enumerate(scores, start=1):
        path = root / f"checkpoint_{iteration:06d}"
        path.mkdir(parents=True)
        result.best_checkpoints.append(
            (FakeCheckpoint(str(path)), {"training_iteration": iteration, "f1": score})
        )
    return result


def _survivors(result: FakeResult) -> list[int]:
    return sorted(m["training_iteration"] for _, m in kept_checkpoints(result))


def test_keeps_best_by_metric_and_the_latest(tmp_path: Path) -> None:
    rising = _trial(tmp_path / "a", [0.1, 0.5, 0.4, 0.6, 0.2])
    short = _trial(tmp_path / "b", [0.3, 0.2])
    removed = prune_checkpoints([rising, short], keep=2, metric="f1", mode="max")
    assert _survivors(rising) == [2, 4, 5]  # best two (0.6, 0.5) and the latest
    assert _survivors(short) == [1, 2]
    assert removed == 2
    assert not (tmp_path / "a" / "checkpoint_000001").exists()


def test_min_mode_and_nan_scores_rank_last(tmp_path: Path) -> None:
    result = _trial(tmp_path, [float("nan"), 0.9, 0.3, 0.5])
    prune_checkpoints([result], keep=1, metric="f1", mode="min")
    assert _survivors(result) == [3, 4]  # lowest loss and the latest; the NaN epoch goes first


def test_already_deleted_checkpoints_are_not_reported(tmp_path: Path) -> None:
    result = _trial(tmp_path, [0.1, 0.2])
    Path(result.best_checkpoints[0][0].path).rmdir()
    assert _survivors(result) == [2]
    assert prune_checkpoints([result], keep=1, metric="f1", mode="max") == 0


def test_folders_tune_no_longer_tracks_are_removed_and_the_kept_ones_stay(tmp_path: Path) -> None:
    """A prune killed after it rewrote Tune's state, before it deleted the folders, left them on disk for
    good: `resume` pruned the state's list again (already short) and kept every orphan, 6 checkpoint
    folders beyond `keep: 1` on a 3-trial sweep. A folder a dying worker wrote before Tune registered it
    was kept alike."""
    result = _trial(tmp_path, [0.1, 0.9, 0.2])
    orphans = [tmp_path / "checkpoint_000000", tmp_path / "checkpoint_000004"]  # forgotten, unregistered
    for orphan in orphans:
        (orphan / "model").mkdir(parents=True)
    (tmp_path / "checkpoint_notes.txt").write_text("not a folder: left alone")
    assert prune_checkpoints([result], keep=1, metric="f1", mode="max") == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint_000002",  # the best
        "checkpoint_000003",  # the latest
        "checkpoint_notes.txt",
    ]
