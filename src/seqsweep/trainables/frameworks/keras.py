"""The Keras adapter. Keras (and its backend) is imported inside the methods, never on import.

Checkpoints: a built-in family saves the whole model (`model.keras`, optimizer state included); a
user's function saves weights and optimizer variables only (`model.weights.h5`), because its graph may
use layers only its own module defines, and the function rebuilds it. Bundles hold `model.keras`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqsweep.constants import N_CLASSES
from seqsweep.errors import ConfigError
from seqsweep.trainables.checkpoint import KERAS_MODEL_FILE, MODEL_INFO_FILE, ModelInfo
from seqsweep.trainables.frameworks.base import Framework

if TYPE_CHECKING:
    from seqsweep.trainables.base import DeviceSettings, TrainableModel
    from seqsweep.trainables.family import ModelFamily

BUNDLE_FILE = "model.keras"
"""The exported model in a bundle's `model/` folder."""

CUSTOM_OBJECTS = (
    "seqsweep.trainables.keras_common:MaskedSparseCategoricalCrossentropy",
    "seqsweep.trainables.keras_common:FusedAdadelta",
    "seqsweep.trainables.keras_networks:VariationalSampling",
)
"""`module:class` of every custom layer, loss and optimizer a built-in Keras model may hold. A family with a
custom layer adds it here; every load (checkpoint, bundle) passes them, so no import order matters."""


class KerasFramework(Framework):
    """Keras 3 on TensorFlow or torch: masked cross-entropy, the notebook's Adadelta."""

    name = "keras"
    missing_inputs = "the Keras network skips fully masked steps (Masking)"

    def configure(self, device: DeviceSettings) -> None:
        """TensorFlow's (or torch's, with KERAS_BACKEND=torch) threads and GPU memory, and the trial's
        planned batches for the networks built next (`keras_networks.plan_training`)."""
        import keras

        from seqsweep.trainables.device import configure_tensorflow, configure_torch
        from seqsweep.trainables.keras_networks import plan_training

        plan_training(device.planned_batches)

        if keras.backend.backend() == "tensorflow":
            configure_tensorflow(device)
        elif keras.backend.backend() == "torch":
            configure_torch(device)

    def seed(self, seed: int) -> None:
        """Drop the previous trial's models and Keras's global state, then seed the backend.

        Tune reuses trial processes, hence the `clear_session`. On TensorFlow `set_random_seed` seeds
        TF and Keras's global SeedGenerator; on torch, torch's generator. Other Keras layers draw their
        seeds from Python's `random`, which the caller seeds (and `set_random_seed` would import
        TensorFlow just to seed it). Keras is not reseeded per epoch: its layers keep their own
        SeedGenerator variables, and reseeding TensorFlow would retrace every compiled step.
        """
        import keras

        keras.utils.clear_session(free_memory=True)
        backend = keras.backend.backend()
        if backend == "tensorflow":
            keras.utils.set_random_seed(seed)
        elif backend == "torch":
            import torch

            torch.manual_seed(seed)

    def owns(self, network: Any) -> bool:
        keras = sys.modules.get("keras")
        return keras is not None and isinstance(network, keras.Model)

    def wrap(
        self, network: Any, info: ModelInfo, device: DeviceSettings, family: ModelFamily
    ) -> TrainableModel:
        """Compiled with the masked loss and the standard optimizer (`keras_common.compile_model`)."""
        from seqsweep.trainables.keras_common import KerasModel, compile_model

        output = tuple(network.output_shape[1:])
        expected = (info.shape.horizon, info.shape.n_targets, N_CLASSES)
        if output != expected:
            raise ConfigError(
                f"model {info.family!r}: the keras.Model outputs (batch, {', '.join(map(str, output))}); "
                f"the dataset needs (batch, {', '.join(map(str, expected))})"
            )
        compile_model(network)
        return KerasModel(network, info, whole_model=not family.rebuild_on_load)

    def restore(
        self, directory: Path, info: ModelInfo, device: DeviceSettings, rebuild: Callable[[], TrainableModel]
    ) -> TrainableModel:
        """`model.keras` when the checkpoint has one, else `rebuild()` plus `model.weights.h5`."""
        from seqsweep.trainables.keras_common import KerasModel

        if (directory / KERAS_MODEL_FILE).is_file():
            import keras

            model = keras.models.load_model(
                directory / KERAS_MODEL_FILE, custom_objects=self.custom_objects()
            )
            return KerasModel(model, info, whole_model=True)
        rebuilt: KerasModel = self.rebuilt(directory, info, rebuild, KerasModel)
        rebuilt.load_weights(directory)
        return rebuilt

    def export(self, model: Any, directory: Path, example: np.ndarray) -> dict[str, str]:
        """The whole model as `model.keras` (reloaded for inference with `compile=False`) and its
        `model.json` (family, config, data shape)."""
        model.info.write(directory)
        model.model.save(directory / BUNDLE_FILE)
        return {"keras": BUNDLE_FILE, "model_info": MODEL_INFO_FILE}

    def load_export(self, directory: Path) -> Any:
        import keras

        return keras.models.load_model(
            directory / BUNDLE_FILE, compile=False, custom_objects=self.custom_objects()
        )

    def predict_export(self, exported: Any, x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.empty((0, *exported.output_shape[1:]), dtype=np.float32)
        return np.asarray(exported.predict_on_batch(x))

    def custom_objects(self) -> dict[str, Any]:
        import keras

        found = {}
        for target in CUSTOM_OBJECTS:
            module_name, _, attribute = target.partition(":")
            cls = getattr(importlib.import_module(module_name), attribute)
            found[keras.saving.get_registered_name(cls)] = cls
        return found


FRAMEWORK = KerasFramework()
