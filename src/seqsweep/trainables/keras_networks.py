"""The notebook's Keras networks, rebuilt without its bugs.

Both share `lstm_encoder` and `class_head`. The softmax is over the class axis only (the notebook
took it over all H·T·3 outputs at once). On a GPU with TensorFlow, Keras uses the fused cuDNN LSTM
kernel only when each window's mask is right-padded (masked steps only at the end); a window with a
masked step at its start or in its middle (a missing input row) makes that batch fall back to the
generic kernel, which is correct, only slower.

On a CPU the recurrences over short sequences (at most `UNROLL_MAX_STEPS` steps) of a trial that
plans enough training batches (at least `UNROLL_MIN_BATCHES`) are unrolled: the same cell applied step
by step with the same masking, written out as straight-line ops instead of a backend while-loop
(14–18 % less CPU time per training epoch of `lstm` at lookback 24, cell 80, batch 50; benchmarks/
README.md, row 3a), at the price of a longer first epoch (a larger graph to trace and optimise). A GPU
keeps the rolled loop, which the fused cuDNN kernel needs.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import keras
from keras import layers, ops

from seqsweep.constants import MASK_VALUE, N_CLASSES
from seqsweep.data.bundle import DataShape
from seqsweep.trainables.lstm_vae import latent_size

UNROLL_MAX_STEPS = 32
"""Longest sequence whose recurrence is unrolled on a CPU (the graph grows linearly with the steps)."""


def gpu_visible() -> bool:
    """True when the Keras backend will run on a GPU (TensorFlow's visible GPUs, or torch's CUDA)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.get_visible_devices("GPU"))
    if backend == "torch":
        import torch

        return bool(torch.cuda.is_available())
    return False


UNROLL_MIN_BATCHES = 400
"""Fewest planned training batches for which a trial's LSTMs are unrolled. Unrolling makes the first
epoch longer (tracing and graph optimisation) and every later batch shorter; measured at lookback 24,
batch 50, one thread (2026-11-30): `lstm` cell 16 +1.9 s once, −2.2 ms a batch; cell 8 +2.3 s,
−3.4 ms; cell 80 about +3 s, −8 ms; `lstm_vae` cell 16 +2.4 s, −3.2 ms. It pays from about 375
(cell 80, the product's default size) to 880 (cell 16) batches; a trial that ASHA would stop after a
few short epochs never earns it back."""

_PLANNED_BATCHES: ContextVar[int | None] = ContextVar("seqsweep_planned_batches", default=None)


def plan_training(batches: int | None) -> None:
    """Tell the networks built next in this thread how many training batches their trial plans (None:
    unknown); `KerasFramework.configure` calls it with `DeviceSettings.planned_batches`."""
    _PLANNED_BATCHES.set(batches)


def unroll_recurrence(steps: int) -> bool:
    """Whether a recurrence over `steps` time steps is unrolled: short ones (≤ UNROLL_MAX_STEPS) on a CPU,
    in a trial that plans at least `UNROLL_MIN_BATCHES` training batches or whose plan is unknown.

    Unrolling changes how the loop is executed, not what it computes: the same cell, weights and mask
    (a masked step keeps the previous state) at every step. On a GPU the rolled loop is kept so that
    Keras can use the fused cuDNN kernel, which refuses `unroll=True`.
    """
    return steps <= UNROLL_MAX_STEPS and plans_long_training() and not gpu_visible()


def plans_long_training() -> bool:
    """Whether the trial building networks in this thread plans at least `UNROLL_MIN_BATCHES` training
    batches (or did not say): long enough to trade tracing time in the first epoch for faster batches
    (unrolled recurrences here, the unmasked twin of `keras_masking`)."""
    planned = _PLANNED_BATCHES.get()
    return planned is None or planned >= UNROLL_MIN_BATCHES


def lstm_layer(units: int, steps: int, return_sequences: bool = False) -> layers.LSTM:
    """A Keras LSTM of `units` over sequences of `steps` steps, unrolled where `unroll_recurrence` says."""
    return layers.LSTM(units, return_sequences=return_sequences, unroll=unroll_recurrence(steps))


def lstm_encoder(inputs: Any, cell_size: int, dropout_rate: float) -> Any:
    """Masking(-50) → LSTM(c, seq) → BN → Dropout → LSTM(c // 2) → BN: (B, L, F) → (B, c // 2)."""
    steps = int(inputs.shape[1])  # L
    x = layers.Masking(mask_value=MASK_VALUE)(inputs)
    x = lstm_layer(cell_size, steps, return_sequences=True)(x)  # (B, L, c)
    x = layers.BatchNormalization()(x)
    x = layers.Dropout(dropout_rate)(x)
    x = lstm_layer(cell_size // 2, steps)(x)  # (B, c // 2): the mask ends here
    return layers.BatchNormalization()(x)


def class_head(features: Any, shape: DataShape) -> Any:
    """Dense(H·T·3) → Reshape(H, T, 3) → softmax over the last (class) axis: (B, …) → (B, H, T, 3)."""
    x = layers.Dense(shape.horizon * shape.n_targets * N_CLASSES)(features)
    x = layers.Reshape((shape.horizon, shape.n_targets, N_CLASSES))(x)
    return layers.Softmax(axis=-1, name="class")(x)


def build_lstm(config: dict[str, Any], shape: DataShape) -> keras.Model:
    """The notebook's base network (uncompiled)."""
    inputs = keras.Input(shape=(shape.lookback, shape.n_features))  # (B, L, F)
    x = lstm_encoder(inputs, config["cell_size"], config["dropout_rate_1"])
    x = layers.Dropout(config["dropout_rate_2"])(x)
    return keras.Model(inputs, class_head(x, shape), name="lstm")


@keras.saving.register_keras_serializable(package="seqsweep")
class VariationalSampling(layers.Layer):
    """The reparameterisation trick plus the KL term, which it adds exactly once, with `add_loss`.

    Training: z = mean + exp(log_var / 2) · ε, ε ~ N(0, 1). Inference: z = mean, so predictions
    are deterministic and a reloaded checkpoint predicts exactly what the saved model did.
    Loss term: kl_weight · mean over the batch of KL(N(mean, var) ‖ N(0, 1)) summed over latent units.
    """

    def __init__(self, kl_weight: float = 0.1, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kl_weight = kl_weight
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        z_mean, z_log_var = inputs  # (B, latent) each
        kl = -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)  # (B,)
        self.add_loss(self.kl_weight * ops.mean(kl))
        if not training:
            return z_mean
        epsilon = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape[0]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "kl_weight": self.kl_weight, "seed": self.seed}


def build_lstm_vae(config: dict[str, Any], shape: DataShape) -> keras.Model:
    """The notebook's LSTM-VAE (uncompiled): encoder → z → LSTM decoder → class head."""
    cell = config["cell_size"]
    half = cell // 2
    latent = latent_size(cell, config["latent_divisor"])
    inputs = keras.Input(shape=(shape.lookback, shape.n_features))  # (B, L, F)
    encoded = lstm_encoder(inputs, cell, config["dropout_rate_1"])  # (B, c // 2)
    z_mean = layers.Dense(latent, name="z_mean")(encoded)  # (B, latent)
    z_log_var = layers.Dense(latent, name="z_log_var")(encoded)
    z = VariationalSampling(kl_weight=config["kl_weight"], name="sampling")([z_mean, z_log_var])
    x = layers.Dense(half, activation="relu")(z)  # (B, c // 2)
    x = layers.Reshape((1, half))(x)  # (B, 1, c // 2)
    x = lstm_layer(half, 1, return_sequences=True)(x)
    x = layers.BatchNormalization()(x)
    x = lstm_layer(cell, 1, return_sequences=True)(x)  # (B, 1, c)
    x = layers.BatchNormalization()(x)
    x = layers.Dropout(config["dropout_rate_1"])(x)
    return keras.Model(inputs, class_head(x, shape), name="lstm_vae")
