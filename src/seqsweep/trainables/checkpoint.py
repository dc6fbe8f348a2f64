"""The checkpoint folder: what a trial reports each epoch and what reloads a model for prediction.

Layout (one folder per report; Ray copies it to the trial's storage):

    model.json          ModelInfo: family name, framework, full config, data shape (written by the model)
    state.json          LoopState: epoch, early-stopping state, best val loss, trial seed, the epoch's metrics
    model.keras         Keras built-in families: the whole model with its optimizer state
    model.weights.h5    a user's Keras model: weights + optimizer variables (the function rebuilds the graph)
    model.pt            torch families: {"model", "optimizer", "scheduler"} state dicts

With walk-forward folds (`dataset.split.folds: k > 1`) the folder holds the trial's k models: the last
fold's at the top, in exactly the layout above (so reloading, evaluating and exporting a checkpoint
takes the last fold's model, and a checkpoint's completeness is judged as for one fold), and each
earlier fold's in `fold_0/` … `fold_{k-2}/`, in the same layout without `state.json`. `state.json`
records `n_folds` (absent for one fold: a one-fold checkpoint is byte-for-byte today's layout).

JSON files are written to a temporary name first and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqsweep._fs import atomic_write_json
from seqsweep.data.bundle import DataShape
from seqsweep.trainables.base import DeviceSettings, TrainableModel

MODEL_INFO_FILE = "model.json"
STATE_FILE = "state.json"
KERAS_MODEL_FILE = "model.keras"
KERAS_WEIGHTS_FILE = "model.weights.h5"
TORCH_STATE_FILE = "model.pt"
FOLD_DIR = "fold_{}"
"""Sub-folder of an earlier fold's model in a k-fold checkpoint (the last fold's model is at the top)."""


class DamagedCheckpointFile(OSError):
    """A checkpoint's model file that its framework cannot read: cut short, emptied, or not what was saved.

    An OSError, as h5py's own error for a cut-short `model.weights.h5` is, so every reader takes it for the
    folder's fault (`results.winner_outputs.load_trial_checkpoint`: one line naming the checkpoint), never for an
    error of a user's model function, which runs in the same call."""

    def __init__(self, path: Path, cause: BaseException) -> None:
        reason = " ".join(str(cause).split()).split(". ")[0]  # torch's goes on with sentences of advice
        kind = type(cause).__name__
        self.detail = (
            f"{path.name} cannot be read, {kind}: {reason}"
            if reason
            else f"{path.name} cannot be read, {kind}"
        )
        """What is wrong, naming the file but not its folder."""
        super().__init__(f"{path.parent}: {self.detail}")
        self.filename = str(path)


def write_json(path: Path, payload: Mapping[str, Any]) -> None:
    """Write JSON atomically (temporary file in the same folder, then `os.replace`)."""
    atomic_write_json(path, payload, indent=2, sort_keys=True, default=_plain, newline=False)


def _plain(value: Any) -> Any:
    """JSON for numpy scalars and arrays that reach a config from a search space."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


@dataclass(frozen=True)
class ModelInfo:
    """What a family needs to rebuild a model before loading its weights."""

    family: str
    """Registry name or `package.module:function`."""
    framework: str
    """`keras` or `torch`: the name of the adapter (`frameworks.get_framework`) that saved the weights."""
    config: dict[str, Any]
    shape: DataShape

    def write(self, directory: Path) -> None:
        payload = {**dataclasses.asdict(self), "shape": dataclasses.asdict(self.shape)}
        write_json(directory / MODEL_INFO_FILE, payload)

    @classmethod
    def read(cls, directory: Path) -> ModelInfo:
        payload = json.loads((Path(directory) / MODEL_INFO_FILE).read_text(encoding="utf-8"))
        return cls(
            family=payload["family"],
            framework=payload["framework"],
            config=dict(payload["config"]),
            shape=DataShape(**payload["shape"]),
        )


@dataclass
class LoopState:
    """The shared loop's progress, saved beside the model so that a resumed trial goes on where it was."""

    trial_seed: int
    epoch: int = 0
    """Last finished epoch (1-based; 0 before the first)."""
    best_val_loss: float = math.inf
    epochs_without_improvement: int = 0
    early_stopped: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)
    """The metrics reported with this checkpoint."""
    n_folds: int = 1
    """Walk-forward folds trained in lockstep (k models in the checkpoint, see `fold_model_dir`)."""

    def update(self, val_loss: float, patience: int | None) -> bool:
        """Record an epoch's val loss; True when the plateau rule says stop (never without `patience`)."""
        if val_loss < self.best_val_loss:
            self.best_val_loss = val_loss
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
        self.early_stopped = patience is not None and self.epochs_without_improvement >= patience
        return self.early_stopped

    def write(self, directory: Path) -> None:
        payload = dataclasses.asdict(self)
        payload["best_val_loss"] = None if math.isinf(self.best_val_loss) else self.best_val_loss
        if self.n_folds == 1:
            del payload["n_folds"]  # a one-fold checkpoint keeps the state.json it always had
        write_json(directory / STATE_FILE, payload)

    @classmethod
    def read(cls, directory: Path) -> LoopState:
        payload = json.loads((Path(directory) / STATE_FILE).read_text(encoding="utf-8"))
        if payload.get("best_val_loss") is None:
            payload["best_val_loss"] = math.inf
        return cls(**payload)


def fold_model_dir(directory: str | Path, fold: int, n_folds: int) -> Path:
    """Where fold `fold` (0 … n_folds − 1) keeps its model in a checkpoint: the top for the last fold,
    `fold_<fold>/` for an earlier one. Raises IndexError for a fold outside 0 … n_folds − 1."""
    if not 0 <= fold < n_folds:
        raise IndexError(f"fold {fold}: the checkpoint holds {n_folds} fold(s)")
    directory = Path(directory)
    return directory if fold == n_folds - 1 else directory / FOLD_DIR.format(fold)


def checkpoint_folds(directory: str | Path) -> int:
    """How many fold models a reported checkpoint holds (1 for a checkpoint without `n_folds`)."""
    payload = json.loads((Path(directory) / STATE_FILE).read_text(encoding="utf-8"))
    return int(payload.get("n_folds", 1))


def load_checkpoint(directory: str | Path, device: DeviceSettings | None = None) -> TrainableModel:
    """Reload a reported checkpoint (model and optimizer) for prediction or further training.

    Works on any folder the loop reported, e.g. `result.checkpoint.to_directory()` of a Tune result.
    For a walk-forward trial (k folds) this is the last fold's model, the one trained on every row
    before the last validation block; the earlier folds' are in `fold_model_dir(directory, f, k)`.
    """
    from seqsweep.trainables.registry import resolve_family

    directory = Path(directory)
    device = device or DeviceSettings()
    family = resolve_family(ModelInfo.read(directory).family)
    for framework in family.frameworks:
        framework.configure(device)
    return family.load(directory, device)


def read_state(directory: str | Path) -> LoopState:
    """The loop state saved with a checkpoint (epoch, early stop, metrics of that epoch)."""
    return LoopState.read(Path(directory))
