"""The contract between the shared training loop and a model family.

A family turns a config into a `TrainableModel`; the loop in `loop.py` drives it epoch by epoch,
scores it with `seqsweep.metrics`, and hands metrics plus a checkpoint folder to a `Reporter`.
Only `tune_reporter` (Ray Tune) and `train_workers` (Ray Train) know about Ray, so every family also
trains outside Ray.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from seqsweep.data.bundle import DataShape

Batch = tuple[np.ndarray, np.ndarray, np.ndarray]
"""(x (B, L, F) float32, labels (B, H, T) int8, moves (B, H, T) float32), as `DatasetBundle.batches` yields."""


@dataclass(frozen=True)
class Evaluation:
    loss: float
    probs: np.ndarray
    """(n, H, T, 3) class probabilities in the order of the batches."""
    moves: np.ndarray | None = None
    """(n, H, T) predicted moves, for the regression objective only."""


class TrainableModel(Protocol):
    """A built model with its optimizer: what the loop drives."""

    def train_epoch(self, batches: Iterable[Batch]) -> float:
        """One pass over `batches`; returns the mean training loss."""
        ...

    def evaluate(self, batches: Iterable[Batch]) -> Evaluation:
        """Loss and predictions without updating weights (dropout off)."""
        ...

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(B, L, F) → (B, H, T, 3) class probabilities."""
        ...

    def save(self, directory: Path) -> None:
        """Write weights, optimizer state and whatever `ModelFamily.load` needs into `directory`."""
        ...


class ModelFamily(Protocol):
    """A named way to build, check and reload models. Registered in `registry.py`."""

    name: str
    framework: str
    """`keras` or `torch`: decides how threads, seeds and GPU memory are set up."""

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Raise ConfigError for a config this family cannot build (e.g. a latent size of 0)."""
        ...

    def build(
        self, config: Mapping[str, Any], shape: DataShape, device: DeviceSettings
    ) -> TrainableModel: ...

    def load(self, directory: Path, device: DeviceSettings) -> TrainableModel:
        """Reload what `TrainableModel.save` wrote, optimizer state included."""
        ...


@dataclass(frozen=True)
class DeviceSettings:
    """The resources a trial was given, so it uses exactly those."""

    cpus: int = 1
    gpu_fraction: float = 0.0
    """0 = CPU only; (0, 1] = share of one GPU, enforced as a memory cap."""


@dataclass(frozen=True)
class TrialSettings:
    """What every trial of a sweep shares besides its searched config (passed with `tune.with_parameters`)."""

    model: str
    """A family name from the registry or `package.module:function` (a model builder, or with
    `function` a training function)."""
    seed: int = 0
    """The sweep seed; each trial derives its own from this and its trial id."""
    fixed: Mapping[str, Any] = field(default_factory=dict)
    """Fixed hyperparameters merged under the searched ones."""
    data_parallel: DataParallelSettings | None = None
    """Set when each trial trains on several Ray Train workers (torch models only)."""
    function: bool = False
    """True when `model` is a training function (a sweep's `trainable`, `seqsweep.trainables.function`)."""
    families: tuple[str, ...] = ()
    """A mixed-family sweep's families: each trial's config then names its family under `model` and
    holds that family's block; `for_trial` turns both into one family's settings and flat config."""

    def for_trial(self, config: Mapping[str, Any]) -> tuple[TrialSettings, dict[str, Any]]:
        """(settings of the family the trial's config names, its flat config) for a mixed-family sweep;
        (self, the config) otherwise."""
        if not self.families:
            return self, dict(config)
        from dataclasses import replace

        from seqsweep.search_spaces.mixed import trial_config

        family, flat, fixed = trial_config(config, self.fixed, self.families)
        return replace(self, model=family, fixed=fixed, families=()), flat


@dataclass(frozen=True)
class DataParallelSettings:
    """How a data-parallel trial runs: its workers, what each is given, where Ray Train writes."""

    workers: int
    worker_device: DeviceSettings
    scratch_path: str
    """A folder on the sweep's shared storage for the Train run's checkpoints until Tune copies them;
    each trial's part is removed when the trial ends."""
