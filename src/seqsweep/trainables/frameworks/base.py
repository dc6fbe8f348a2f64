"""`Framework`: everything seqsweep does differently per framework, behind one object.

The loop, the checkpoint loader and `results` (export, predict) call these methods and never ask
which framework they hold. Each method's docstring says when it is called. Importing this module (or
any adapter module) imports neither Keras nor torch: an adapter imports its framework inside the
methods that need it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from seqsweep.trainables.base import DeviceSettings, TrainableModel
    from seqsweep.trainables.checkpoint import ModelInfo
    from seqsweep.trainables.family import ModelFamily


class Framework(ABC):
    """One framework's adapter: threads and seeds, wrapping a network, checkpoints, export and predict."""

    name: str
    """The name in checkpoints (`model.json`) and bundles (`bundle.json`): `keras`, `torch`, `function`."""
    exact_resume: bool = False
    """True when a resumed trial draws exactly what an uninterrupted one would (its dropout generator is
    reseeded per epoch), so the contract suite can demand a bit-for-bit resumed epoch."""
    missing_inputs: str = "the training function's model decides how to read them"
    """How its networks read MASK_VALUE inputs, for the model card ("Missing inputs carry -50: ...")."""

    # --- training: called by the loop -------------------------------------------------------------

    def configure(self, device: DeviceSettings) -> None:  # noqa: B027  (optional hook)
        """Size thread pools and GPU memory to `device`. Called once per trial, before any model is
        built or loaded. Default: nothing."""

    def seed(self, seed: int) -> None:  # noqa: B027  (optional hook)
        """Seed the framework's global generators (Python's and NumPy's are seeded by the caller).
        Called before each fold's model is built and before a checkpoint is resumed. Default: nothing."""

    def reseed_epoch(self, seed: int) -> None:  # noqa: B027  (optional hook)
        """Reseed what an epoch draws from without a generator state of its own (torch's dropout).
        Called at the start of every epoch of every fold. Default: nothing."""

    def owns(self, network: Any) -> bool:
        """True when `network` is this framework's model class (checked without importing anything).
        Called by `frameworks.detect` on what a family's `network` returned. Default: False."""
        return False

    def wrap(
        self, network: Any, info: ModelInfo, device: DeviceSettings, family: ModelFamily
    ) -> TrainableModel:
        """`network` (which `owns`) with its loss and optimizer, as the `TrainableModel` the loop drives.
        Called by `ModelFamily.build`. Raises ConfigError when the network's output is not (B, H, T, 3)."""
        from seqsweep.errors import ConfigError

        raise ConfigError(f"model {info.family!r}: the {self.name} framework does not train networks")

    def restore(
        self, directory: Path, info: ModelInfo, device: DeviceSettings, rebuild: Callable[[], TrainableModel]
    ) -> TrainableModel:
        """The model a checkpoint folder of this framework holds, optimizer state included. `rebuild()`
        builds the same network afresh from `info` (for weights-only checkpoints). Called by
        `ModelFamily.load` (resume, `load_checkpoint`)."""
        from seqsweep.errors import ConfigError

        raise ConfigError(f"{directory}: the {self.name} framework keeps no family checkpoints")

    def rebuilt(
        self, directory: Path, info: ModelInfo, rebuild: Callable[[], TrainableModel], kind: type
    ) -> Any:
        """`rebuild()`, checked to be this framework's model class `kind` (for `restore`); raises
        ConfigError when the family now builds another kind of model than the checkpoint holds."""
        from seqsweep.errors import ConfigError

        model = rebuild()
        if not isinstance(model, kind):
            raise ConfigError(
                f"{directory}: a {self.name} checkpoint, but {info.family!r} now builds another kind of model"
            )
        return model

    # --- results: called by export, evaluate and predict ------------------------------------------

    def load_checkpoint(self, directory: Path, device: DeviceSettings) -> Any:
        """What a reported checkpoint folder predicts with (an object with `predict_proba(x)`).
        Called by `seqsweep export` on the trial's best checkpoint. Default: the family's model
        (`seqsweep.trainables.load_checkpoint`)."""
        from seqsweep import trainables  # the public entry, looked up per call

        return trainables.load_checkpoint(directory, device)

    def require_predicts(self, model: Any, directory: Path) -> None:  # noqa: B027  (optional hook)
        """Raise ConfigError when `model`, loaded from the checkpoint `directory`, cannot predict (a training
        function without its `predict` hook). Called by `seqsweep results` before it scores a winner.
        Default: nothing (a family's model always predicts)."""

    def verifiable(self, model: Any) -> bool:
        """Whether an export of `model` can be reloaded and compared with it (False: a training function
        without its `predict` hook). Called by `seqsweep export` before its check. Default: True."""
        return True

    @abstractmethod
    def export(self, model: Any, directory: Path, example: np.ndarray) -> dict[str, str]:
        """Write `model` (from `load_checkpoint`) into the bundle's empty `directory` and return the
        files written, as {role: file name in `directory`}. `example` (B, L, F) float32 windows serve a
        tracer. Called once by `seqsweep export`."""

    @abstractmethod
    def load_export(self, directory: Path) -> Any:
        """What `export` wrote, loaded for inference without Ray. Called by `seqsweep predict` (and by
        `export`'s check). Raises ConfigError when it cannot predict here."""

    @abstractmethod
    def predict_export(self, exported: Any, x: np.ndarray) -> np.ndarray:
        """(B, L, F) float32 → (B, H, T, 3) class probabilities from what `load_export` returned."""

    def manifest_entry(self, directory: Path) -> dict[str, Any]:
        """Extra keys for the bundle's manifest, read from the exported `directory`. Default: none."""
        return {}

    def custom_objects(self) -> dict[str, Any]:
        """Serialisable classes a saved model may name, by their registered name, passed to every load.
        The one registration point for custom layers and losses. Default: none."""
        return {}

    def __repr__(self) -> str:
        return f"<framework {self.name}>"
