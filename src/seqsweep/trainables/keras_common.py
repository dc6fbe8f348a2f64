"""Keras pieces shared by every Keras family: the masked loss, the standard optimizer, the adapter.

Only `keras.ops` is used in model and loss code, so the Keras families also run with
KERAS_BACKEND=torch. Importing this module imports Keras (and its backend).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import ops

from seqsweep.constants import MASK_VALUE
from seqsweep.trainables.adapters import WeightedMean, predict_in_chunks, require_finite_batch
from seqsweep.trainables.base import Batch, Evaluation
from seqsweep.trainables.checkpoint import KERAS_MODEL_FILE, KERAS_WEIGHTS_FILE, ModelInfo


def masked_sparse_categorical_crossentropy(y_true: Any, y_pred: Any) -> Any:
    """Mean of -log p(true class) over the positions whose label is not MASK_VALUE.

    `y_true` (B, H, T) class ids with MASK_VALUE where missing; `y_pred` (B, H, T, 3) probabilities
    (softmax over the class axis). Masked positions are excluded with `where`, not multiplied by 0,
    so whatever the model predicts there (even NaN) cannot reach the loss. The mean is over the
    batch's valid positions, so adding fully masked windows leaves it unchanged.
    """
    labels = ops.cast(y_true, "int32")  # the compiled loss hands labels over as float32
    valid = ops.not_equal(labels, int(MASK_VALUE))  # (B, H, T)
    safe = ops.where(valid, labels, 0)
    picked = ops.take_along_axis(y_pred, ops.expand_dims(safe, axis=-1), axis=-1)[..., 0]  # (B, H, T)
    nll = -ops.log(ops.clip(picked, keras.config.epsilon(), 1.0))
    nll = ops.where(valid, nll, ops.zeros_like(nll))
    count = ops.sum(ops.cast(valid, nll.dtype))
    return ops.sum(nll) / ops.maximum(count, 1.0)


@keras.saving.register_keras_serializable(package="seqsweep")
class MaskedSparseCategoricalCrossentropy(keras.losses.Loss):
    """`masked_sparse_categorical_crossentropy` as a serialisable Loss (it travels inside `.keras` files)."""

    def __init__(self, name: str = "masked_sparse_categorical_crossentropy", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return masked_sparse_categorical_crossentropy(y_true, y_pred)


def standard_optimizer() -> keras.optimizers.Optimizer:
    """The notebook's optimizer for every Keras model, so families compare on the network alone."""
    return keras.optimizers.Adadelta(learning_rate=1.0, rho=0.8, epsilon=1e-7)


def compile_model(model: keras.Model) -> keras.Model:
    model.compile(optimizer=standard_optimizer(), loss=MaskedSparseCategoricalCrossentropy())
    return model


class KerasModel:
    """`TrainableModel` around a compiled `keras.Model` mapping (B, L, F) → (B, H, T, 3) probabilities.

    The loss is the compiled one plus every `add_loss` term (the VAE's KL), as Keras computes it in
    `train_on_batch`/`test_on_batch`; the adapter adds nothing, so nothing is counted twice.
    """

    framework = "keras"

    def __init__(self, model: keras.Model, info: ModelInfo, whole_model: bool = True) -> None:
        self.model = model
        self.info = info
        self.whole_model = whole_model
        """True: save a self-contained `.keras`; False: weights only (a user's function rebuilds the graph)."""

    def train_epoch(self, batches: Iterable[Batch]) -> float:
        mean = WeightedMean()
        for index, (x, labels, _moves) in enumerate(batches):
            logs = self.model.train_on_batch(x, labels, return_dict=True)
            mean.add(require_finite_batch(float(logs["loss"]), "training", index), len(x))
        return mean.value

    def evaluate(self, batches: Iterable[Batch]) -> Evaluation:
        mean = WeightedMean()
        probs = []
        for index, (x, labels, _moves) in enumerate(batches):
            logs = self.model.test_on_batch(x, labels, return_dict=True)
            mean.add(require_finite_batch(float(logs["loss"]), "validation", index), len(x))
            probs.append(np.asarray(self.model.predict_on_batch(x)))
        return Evaluation(loss=mean.value, probs=np.concatenate(probs, axis=0))

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        return predict_in_chunks(lambda chunk: np.asarray(self.model.predict_on_batch(chunk)), x)

    @property
    def optimizer_steps(self) -> int:
        """Updates the optimizer has made (restored with a checkpoint)."""
        return int(ops.convert_to_numpy(self.model.optimizer.iterations))

    def save(self, directory: Path) -> None:
        self.info.write(directory)
        if self.whole_model:
            self.model.save(directory / KERAS_MODEL_FILE)
        else:
            self.model.save_weights(directory / KERAS_WEIGHTS_FILE)  # optimizer variables included

    def load_weights(self, directory: Path) -> None:
        """Load weights and optimizer state saved with `whole_model=False` into this (compiled) model."""
        # Keras skips optimizer variables it has not created yet; build them first.
        self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(directory / KERAS_WEIGHTS_FILE)


def load_whole_model(directory: Path) -> KerasModel:
    """Reload a built-in family's `.keras` checkpoint with its optimizer state."""
    import seqsweep.trainables.keras_networks  # noqa: F401  (registers the VAE's sampling layer)

    model = keras.models.load_model(directory / KERAS_MODEL_FILE)
    return KerasModel(model, ModelInfo.read(directory), whole_model=True)
