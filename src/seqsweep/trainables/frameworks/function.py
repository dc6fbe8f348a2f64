"""The adapter of a training function's checkpoints (`trainable: "package.module:function"`).

A training function trains itself (`seqsweep.trainables.function`), so this adapter only serves
`results`: its checkpoint predicts through the `predict(checkpoint_dir, windows)` hook of the
function's module, an export copies the checkpoint folder whole, and the bundle records the import
paths of the function and of its hook (`function.json`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqsweep._fs import atomic_write_json
from seqsweep.errors import ConfigError
from seqsweep.trainables import function  # looked up per call: one place to find (and patch) the hook
from seqsweep.trainables.frameworks.base import Framework
from seqsweep.trainables.function import (
    FUNCTION_CHECKPOINT_DIR,
    FUNCTION_FILE,
    HookModel,
    hook_path,
    read_marker,
)

if TYPE_CHECKING:
    from seqsweep.trainables.base import DeviceSettings


class FunctionFramework(Framework):
    """A training function's checkpoint folder behind its module's `predict` hook."""

    name = "function"

    def load_checkpoint(self, directory: Path, device: DeviceSettings) -> HookModel:
        """The checkpoint behind the hook (`hook` None when the module has none or cannot be imported)."""
        marker = read_marker(directory) or {}
        trainable = str(marker.get("trainable"))
        return HookModel(function.predict_hook(trainable), Path(directory), trainable)

    def require_predicts(self, model: Any, directory: Path) -> None:
        """A checkpoint without its module's `predict` hook cannot be scored: ConfigError naming the hook."""
        if isinstance(model, HookModel) and model.hook is None:
            raise ConfigError(
                f"{directory}: the training function {model.trainable} has no {hook_path(model.trainable)} "
                f"hook{function.hook_import_error(model.trainable)}, so its checkpoints cannot predict"
            )

    def verifiable(self, model: Any) -> bool:
        return isinstance(model, HookModel) and model.hook is not None

    def export(self, model: Any, directory: Path, example: np.ndarray) -> dict[str, str]:
        """The checkpoint folder copied whole, and `function.json` with the function's and hook's paths."""
        shutil.copytree(model.checkpoint, directory / FUNCTION_CHECKPOINT_DIR)
        hook = hook_path(model.trainable) if model.hook is not None else None
        atomic_write_json(
            directory / FUNCTION_FILE,
            {"trainable": model.trainable, "predict_hook": hook},
            indent=2,
        )
        return {"checkpoint": FUNCTION_CHECKPOINT_DIR, "function": FUNCTION_FILE}

    def load_export(self, directory: Path) -> HookModel:
        """The exported checkpoint behind the hook; ConfigError when the hook is not importable here."""
        entry = self.manifest_entry(directory)["trainable"]
        trainable = str(entry["trainable"])
        hook = function.predict_hook(trainable)
        if hook is None:
            raise ConfigError(
                f"bundle: the training function {trainable} has no {hook_path(trainable)} hook importable "
                f"here{function.hook_import_error(trainable)}, so its checkpoint cannot predict"
            )
        return HookModel(hook, directory / FUNCTION_CHECKPOINT_DIR, trainable)

    def predict_export(self, exported: Any, x: np.ndarray) -> np.ndarray:
        return np.asarray(exported.predict_proba(x))

    def manifest_entry(self, directory: Path) -> dict[str, Any]:
        """{"trainable": {"trainable": import path, "predict_hook": import path or null}}."""
        import json

        return {"trainable": json.loads((directory / FUNCTION_FILE).read_text(encoding="utf-8"))}


FRAMEWORK = FunctionFramework()
