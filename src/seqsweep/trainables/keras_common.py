"""Keras pieces shared by every Keras family: the masked loss, the standard optimizer, the adapter.

Only `keras.ops` is used in model and loss code, so the Keras families also run with
KERAS_BACKEND=torch. Importing this module imports Keras (and its backend).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import ops

from seqsweep.constants import MASK_VALUE
from seqsweep.trainables.adapters import WeightedMean, predict_in_chunks, require_finite_batch
from seqsweep.trainables.base import Batch, Evaluation, TrainableModel
from seqsweep.trainables.checkpoint import KERAS_MODEL_FILE, KERAS_WEIGHTS_FILE, ModelInfo
from seqsweep.trainables.keras_masking import UnmaskedTwin, unmasked_twin, use_unmasked_twin


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


@keras.saving.register_keras_serializable(package="seqsweep")
class FusedAdadelta(keras.optimizers.Adadelta):
    """Keras's Adadelta (Zeiler 2012, "ADADELTA: an adaptive learning rate method", arXiv:1212.5701)
    whose per-variable update on TensorFlow is one fused kernel, `tf.raw_ops.ResourceApplyAdadelta`,
    instead of Keras's eight or so element-wise ops.

    Same variables (`accumulated_grad`, `accumulated_delta_var`), same formula:
    E[g²] ← ρ E[g²] + (1 − ρ) g²; Δ = √(E[Δ²] + ε) / √(E[g²] + ε) · g; E[Δ²] ← ρ E[Δ²] + (1 − ρ) Δ²;
    w ← w − lr · Δ. The kernel computes 1/√ with `rsqrt`, so values differ from Keras's in the last
    float digits (a loss after 500 steps: 0.80558503 vs 0.80558485). Any other backend, and sparse
    gradients (`tf.IndexedSlices`), take Keras's own update.

    Measured on `lstm_vae` (cell 80, lookback 24, batch 50, one thread, unrolled, 2026-11-30): a
    compiled training step 13.7 → 13.0 ms (median of four fresh processes a side); benchmark rows 3a/3b.
    """

    def update_step(self, grad: Any, variable: Any, learning_rate: Any) -> None:
        import tensorflow as tf

        if keras.backend.backend() != "tensorflow" or isinstance(grad, tf.IndexedSlices):
            super().update_step(grad, variable, learning_rate)
            return
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        tf.raw_ops.ResourceApplyAdadelta(
            var=variable.handle,
            accum=self._accumulated_grads[index].value.handle,
            accum_update=self._accumulated_delta_vars[index].value.handle,
            lr=tf.cast(learning_rate, dtype),
            rho=tf.cast(self.rho, dtype),
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(grad, dtype),
            use_locking=False,
        )


def standard_optimizer() -> keras.optimizers.Optimizer:
    """The notebook's optimizer for every Keras model (Adadelta, lr 1.0, ρ 0.8, ε 1e-7), so families
    compare on the network alone; `FusedAdadelta` runs its update."""
    return FusedAdadelta(learning_rate=1.0, rho=0.8, epsilon=1e-7)


def compile_model(model: keras.Model) -> keras.Model:
    model.compile(optimizer=standard_optimizer(), loss=MaskedSparseCategoricalCrossentropy())
    return model


TrainingStep = Callable[[np.ndarray, np.ndarray], float]
"""(x (B, L, F), labels (B, H, T)) → that batch's loss, after one optimizer update on it."""


class CompiledTrainingStep:
    """One optimizer update on a batch, returning the batch's loss: what `train_on_batch` does, traced once
    per batch shape. TensorFlow only (see `training_step`).

    The steps are `train_on_batch`'s: reset the metrics (so the loss reported is this batch's, not a
    running mean), then the model's own `train_step` (forward pass, compiled loss plus every `add_loss`
    term, gradients, optimizer update). Two things differ, neither in what is computed:

    - the optimizer's variables are created before the first trace (`optimizer.build`, as Keras's
      `_symbolic_build` does), so TensorFlow traces the step once instead of twice (a `tf.function`
      that creates variables on its first call is traced again);
    - each batch shape gets its own graph (`reduce_retracing=False`): a trial sees at most two per
      split (the batch size and the last, shorter batch), where Keras relaxes the second to a
      batch-agnostic graph that takes about twice as long to trace and runs slower per batch.

    Measured on `lstm_vae` with its unrolled LSTMs (lookback 24, cell 80, batch 50, one thread): the
    tracing of a trial with a shorter last batch fell from about 16.5 s to 8.5–10 s of CPU, and each
    training batch from about 21 to 18–19 ms (`train_on_batch`'s per-batch Python work: metric resets and
    log conversion); the throughput rows 3a and 3b of benchmarks/README.md run it.
    """

    def __init__(self, model: keras.Model, twin: UnmaskedTwin | None = None) -> None:
        self.model = model
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        self.function = _compiled_train_step(model)
        self.twin = twin
        self.twin_function = None if twin is None else _compiled_train_step(twin.model)

    def __call__(self, x: np.ndarray, labels: np.ndarray) -> float:
        function = self.function
        if self.twin is not None and self.twin_function is not None and self.twin.covers(x):
            function = self.twin_function
        return float(ops.convert_to_numpy(function(x, labels)))

    @property
    def traces(self) -> int:
        """How many times the step has been traced (one per batch shape seen, and per graph: the network
        and its unmasked twin)."""
        functions = [self.function] if self.twin_function is None else [self.function, self.twin_function]
        return sum(int(function.experimental_get_tracing_count()) for function in functions)


def _compiled_train_step(model: keras.Model) -> Any:
    """`model`'s `train_on_batch` steps as a `tf.function` traced once per batch shape (XLA where the
    model's `jit_compile` says so); (x, labels) → the batch's loss tensor."""
    import tensorflow as tf

    def step(x: Any, labels: Any) -> Any:
        for metric in model.metrics:
            metric.reset_state()
        return model.train_step((x, labels, None))["loss"]

    return tf.function(step, reduce_retracing=False, jit_compile=bool(model.jit_compile))


def training_step(model: keras.Model, twin: UnmaskedTwin | None = None) -> CompiledTrainingStep | None:
    """`CompiledTrainingStep` for `model` (with its `twin` for batches without masked steps); None for a
    backend other than TensorFlow, a model that runs eagerly, or one without an optimizer: the caller
    keeps `train_on_batch`."""
    if model.run_eagerly or model.optimizer is None or keras.backend.backend() != "tensorflow":
        return None
    return CompiledTrainingStep(model, twin)


EvaluationStep = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]
"""(x (B, L, F), labels (B, H, T)) → (loss, probabilities (B, H, T, 3)) from one forward pass."""


def evaluation_step(model: keras.Model, twin: UnmaskedTwin | None = None) -> EvaluationStep | None:
    """Loss and probabilities of a batch from one inference-mode forward pass, compiled like Keras's own.

    It computes what `test_on_batch` (the loss: the compiled loss plus every `add_loss` term) and
    `predict_on_batch` (the probabilities) compute, in one call instead of two forward passes: the
    steps of Keras's `test_step` (`model(x, training=False)`, then `model.compute_loss`). TensorFlow
    runs it as a `tf.function` with a graph per batch shape, as `CompiledTrainingStep` (XLA only where
    the model's `jit_compile` says so), torch under `no_grad`. A batch without masked steps runs on
    `twin` where one is given (`keras_masking`). None for a model with its own `test_step` or
    `run_eagerly`: its caller keeps Keras's two calls.
    """
    if model.run_eagerly or type(model).test_step is not keras.Model.test_step:
        return None
    compiled = _compiled_forward(model)
    twin_compiled = None if twin is None else _compiled_forward(twin.model)

    def run(x: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
        forward = compiled
        if twin is not None and twin_compiled is not None and twin.covers(x):
            forward = twin_compiled
        loss, probs = forward(x, labels)
        return float(ops.convert_to_numpy(loss)), np.asarray(ops.convert_to_numpy(probs))

    return run


def _compiled_forward(model: keras.Model) -> Callable[[Any, Any], tuple[Any, Any]]:
    """(x, labels) → (loss, probabilities) tensors of one inference-mode pass of `model`, compiled for
    its backend (see `evaluation_step`)."""

    def step(x: Any, labels: Any) -> tuple[Any, Any]:
        probs = model(x, training=False)
        return model.compute_loss(x=x, y=labels, y_pred=probs, training=False), probs

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(step, reduce_retracing=False, jit_compile=bool(model.jit_compile))  # type: ignore[no-any-return]
    if backend == "torch":
        import torch

        def no_grad_step(x: Any, labels: Any) -> tuple[Any, Any]:
            with torch.no_grad():
                return step(ops.convert_to_tensor(x), ops.convert_to_tensor(labels))

        return no_grad_step
    return step


class KerasModel(TrainableModel):
    """`TrainableModel` around a compiled `keras.Model` mapping (B, L, F) → (B, H, T, 3) probabilities.

    The loss is the compiled one plus every `add_loss` term (the VAE's KL), as Keras computes it in
    `train_on_batch`/`test_on_batch` (`evaluate` runs the same steps as `test_on_batch`, see
    `evaluation_step`); the adapter adds nothing, so nothing is counted twice.
    """

    def __init__(self, model: keras.Model, info: ModelInfo, whole_model: bool = True) -> None:
        self.model = model
        self.info = info
        self.whole_model = whole_model
        """True: save a self-contained `.keras`; False: weights only (a user's function rebuilds the graph)."""
        self._training_step: TrainingStep | None = None
        self._evaluation_step: EvaluationStep | None = None
        self._unmasked_twin: UnmaskedTwin | None = None
        self._twin_built = False

    def _twin(self) -> UnmaskedTwin | None:
        """The network's `UnmaskedTwin` (built once, shared by the training and evaluation steps); None
        where the model has none or `use_unmasked_twin` declines it."""
        if not self._twin_built:
            self._twin_built = True
            self._unmasked_twin = unmasked_twin(self.model) if use_unmasked_twin() else None
        return self._unmasked_twin

    def train_epoch(self, batches: Iterable[Batch]) -> float:
        """One update per batch (`training_step`); the epoch's mean batch loss, weighted by windows."""
        if self._training_step is None:
            self._training_step = training_step(self.model, self._twin()) or self._train_on_batch
        mean = WeightedMean()
        for index, (x, labels, _moves) in enumerate(batches):
            mean.add(require_finite_batch(self._training_step(x, labels), "training", index), len(x))
        return mean.value

    def _train_on_batch(self, x: np.ndarray, labels: np.ndarray) -> float:
        """Keras's own call, where `training_step` cannot stand in for it."""
        return float(self.model.train_on_batch(x, labels, return_dict=True)["loss"])

    def evaluate(self, batches: Iterable[Batch]) -> Evaluation:
        """Mean loss over `batches` (weighted by windows) and their probabilities, one forward pass each."""
        if self._evaluation_step is None:
            self._evaluation_step = evaluation_step(self.model, self._twin()) or self._two_pass_step
        mean = WeightedMean()
        probs = []
        for index, (x, labels, _moves) in enumerate(batches):
            loss, batch_probs = self._evaluation_step(x, labels)
            mean.add(require_finite_batch(loss, "validation", index), len(x))
            probs.append(batch_probs)
        return Evaluation(loss=mean.value, probs=np.concatenate(probs, axis=0))

    def _two_pass_step(self, x: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
        """Keras's own calls, for a model `evaluation_step` cannot stand in for."""
        logs = self.model.test_on_batch(x, labels, return_dict=True)
        return float(logs["loss"]), np.asarray(self.model.predict_on_batch(x))

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
