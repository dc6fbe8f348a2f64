"""Where the shared loop sends each epoch's metrics and checkpoint.

The loop only sees the `Reporter` protocol. `InMemoryReporter` serves tests, scripts and a GPU box
without Ray; `seqsweep.trainables.tune_reporter.TuneReporter` forwards to Ray Tune.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol


class Reporter(Protocol):
    """The loop's view of whoever runs the trial."""

    @property
    def trial_id(self) -> str:
        """Stable id of the trial; with the sweep seed it decides the trial's seed."""
        ...

    def restored_checkpoint(self) -> Path | None:
        """A checkpoint folder to resume from (called once, before training), or None to start fresh."""
        ...

    def report(self, metrics: Mapping[str, Any], checkpoint_dir: Path | None) -> None:
        """Called once per epoch. `checkpoint_dir` is deleted after the call: copy what you keep.

        None only on data-parallel workers other than rank 0, which report metrics without a checkpoint.
        """
        ...


class InMemoryReporter:
    """Keeps every report and a copy of every checkpoint folder in a fresh folder under `root`."""

    def __init__(
        self, trial_id: str = "local", root: str | Path | None = None, restore_from: str | Path | None = None
    ) -> None:
        self._trial_id = trial_id
        if root is not None:
            Path(root).mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="seqsweep-trial-", dir=root))
        self._restore_from = Path(restore_from) if restore_from is not None else None
        self.reports: list[dict[str, Any]] = []
        self.checkpoints: list[Path] = []

    @property
    def trial_id(self) -> str:
        return self._trial_id

    def restored_checkpoint(self) -> Path | None:
        return self._restore_from

    def report(self, metrics: Mapping[str, Any], checkpoint_dir: Path | None) -> None:
        if checkpoint_dir is None:
            raise ValueError(
                "InMemoryReporter runs single-worker trials, whose every report has a checkpoint"
            )
        target = self.root / f"checkpoint_{len(self.checkpoints):06d}"
        shutil.copytree(checkpoint_dir, target)
        self.reports.append(dict(metrics))
        self.checkpoints.append(target)

    @property
    def last_checkpoint(self) -> Path | None:
        return self.checkpoints[-1] if self.checkpoints else None


class RestoreFolder:
    """A local copy of the Ray checkpoint a trial resumes from, removed by `close`.

    Ray hands checkpoints that may live on shared or remote storage; the loop reads a plain folder.
    """

    def __init__(self) -> None:
        self._folder: Path | None = None

    def copy(self, checkpoint: Any | None) -> Path | None:
        """`checkpoint.to_directory` into a fresh temporary folder (None stays None)."""
        if checkpoint is None:
            return None
        self._folder = Path(tempfile.mkdtemp(prefix="seqsweep-restore-"))
        return Path(checkpoint.to_directory(str(self._folder)))

    def close(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
