"""The contract between the shared training loop and the models it drives, plus the trial settings.

A family (`seqsweep.trainables.family.ModelFamily`) turns a config into a `TrainableModel`; the loop
in `loop.py` drives it epoch by epoch, scores it with `seqsweep.metrics`, and hands metrics plus a
checkpoint folder to a `Reporter`.
Only `tune_reporter` (Ray Tune) and `train_workers` (Ray Train) know about Ray, so every family also
trains outside Ray.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqsweep.errors import ConfigError

if TYPE_CHECKING:
    from seqsweep.trainables.checkpoint import ModelInfo
    from seqsweep.trainables.frameworks import Framework

Batch = tuple[np.ndarray, np.ndarray, np.ndarray]
"""(x (B, L, F) float32, labels (B, H, T) int8, moves (B, H, T) float32), as `DatasetBundle.batches` yields."""


@dataclass(frozen=True)
class Evaluation:
    loss: float
    probs: np.ndarray
    """(n, H, T, 3) class probabilities in the order of the batches."""
    moves: np.ndarray | None = None
    """(n, H, T) predicted moves, for the regression objective only."""


class TrainableModel(ABC):
    """A built model with its optimizer: what the loop drives. Made by a `Framework` adapter
    (`KerasModel`, `TorchModel`); a family never subclasses it."""

    info: ModelInfo
    """Family, framework, full config and data shape: what rebuilds it (written with every save)."""
    regression: bool = False
    """True when `evaluate` also returns predicted moves (the regression objective)."""

    @abstractmethod
    def train_epoch(self, batches: Iterable[Batch]) -> float:
        """One pass over `batches` with weight updates; returns the mean training loss (weighted by
        windows per batch). Called once per epoch, first."""

    @abstractmethod
    def evaluate(self, batches: Iterable[Batch]) -> Evaluation:
        """Loss and predictions without updating weights (dropout off). Called once per epoch after
        `train_epoch`, on the validation split; also by `results` on other splits."""

    @abstractmethod
    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(B, L, F) float32 → (B, H, T, 3) class probabilities. Called by `results` and `export`."""

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write weights, optimizer state and `model.json` into `directory`. Called after every epoch
        (by the chief worker only) into the checkpoint folder the loop reports."""

    @property
    @abstractmethod
    def optimizer_steps(self) -> int:
        """Updates the optimizer has made (restored with a checkpoint)."""

    @property
    def framework(self) -> Framework:
        """The adapter that made this model (`info.framework` resolved through the frameworks table)."""
        from seqsweep.trainables.frameworks import get_framework

        return get_framework(self.info.framework)

    def end_epoch(self, val_loss: float) -> None:  # noqa: B027  (optional hook)
        """React to the epoch's validation loss (a learning-rate scheduler). Called after validation,
        before the checkpoint is saved. Default: nothing."""

    def distribute(self) -> None:
        """Train data-parallel in the current torch.distributed process group. Called once, before the
        first epoch, when a trial trains on several workers. Default: ConfigError naming the family."""
        raise ConfigError(
            f"resources.workers: model {self.info.family!r} is not a torch model; data-parallel trials "
            f"train torch models only (use workers: 1)"
        )


@dataclass(frozen=True)
class DeviceSettings:
    """The resources a trial was given, so it uses exactly those, and how much work it plans on them."""

    cpus: int = 1
    gpu_fraction: float = 0.0
    """0 = CPU only; (0, 1] = share of one GPU, enforced as a memory cap."""
    planned_batches: int | None = None
    """Training batches each of the trial's models plans to run (epochs × batches per epoch), set by the
    epoch loop before it builds them; None when unknown (loading a checkpoint to predict).
    Read only to choose between ways of executing the same math: see
    `keras_networks.unroll_recurrence`."""


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
    metric: str | None = None
    """The sweep's `search.metric`: a training function's reports must give it as a finite number, as
    they must the built-in search metrics (`function.require_finite_report`)."""

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
