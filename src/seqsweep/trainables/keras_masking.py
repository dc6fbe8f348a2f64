"""A Keras network's twin without its input `Masking`, for the batches that have no masked step.

`Masking(mask_value)` marks a time step as missing when every feature equals `mask_value`; every
layer after it then carries the mask: each LSTM step computes `where(mask, new state, old state)`
and BatchNormalization takes masked moments. A batch with no missing step computes exactly what the
network without the mask computes, but pays for the masking ops all the same: about 3 ms of a
15–16 ms training step of `lstm` (cell 80, lookback 24, batch 50, one thread, unrolled; 2026-12-01).

`UnmaskedTwin` is the same network called without its `Masking` layers: the same layer objects,
hence the same variables, optimizer slots and dropout seed generators (`keras.models.clone_model`
with the layers themselves and a call that passes the input past `Masking`). A training or
evaluation step picks the twin for a batch without masked steps (`UnmaskedTwin.covers`, checked on
the host), the network itself otherwise; saving, loading and exports only ever see the network.

What differs on a covered batch is float rounding alone: a BatchNormalization after a masked layer
divides its masked sums by (count + 1e-7), where the unmasked one takes the plain mean (a relative
difference of 1e-10 at 1,200 steps a batch, below float32's resolution).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np


class UnmaskedTwin:
    """`model` (a functional Keras model with one input) called without the `Masking` layers it applies
    directly to that input; None from `unmasked_twin` for any other model.

    `covers(x)` says whether a batch x (B, L, F) has no masked step for any of those layers (no step
    whose every feature equals the layer's `mask_value`), i.e. whether the twin computes what `model`
    computes on it.
    """

    def __init__(self, model: keras.Model, mask_values: tuple[float, ...]) -> None:
        self.mask_values = mask_values
        self.model = keras.models.clone_model(
            model, clone_function=lambda layer: layer, call_function=_skip_masking
        )
        self.model.compile(optimizer=model.optimizer, loss=model.loss, jit_compile=bool(model.jit_compile))

    def covers(self, x: np.ndarray) -> bool:
        """True when no step of any window of x (B, L, F) is masked: the twin's output equals the model's."""
        return not any(bool(np.all(x == value, axis=-1).any()) for value in self.mask_values)


def _skip_masking(layer: Any, *args: Any, **kwargs: Any) -> Any:
    """`clone_model`'s call: a `Masking` layer hands its input on unchanged, and no layer is handed the
    mask its node recorded (`clone_model` would otherwise rebuild it from the input)."""
    if isinstance(layer, keras.layers.Masking):
        return args[0]
    kwargs.pop("mask", None)
    return layer(*args, **kwargs)


def unmasked_twin(model: keras.Model) -> UnmaskedTwin | None:
    """The twin of a compiled functional `model` whose `Masking` layers all read its one input; None for
    a model without `Masking`, a subclassed model, a model with several inputs, or a `Masking` fed by
    another layer (whose mask the host cannot check)."""
    masking = [layer for layer in model.layers if isinstance(layer, keras.layers.Masking)]
    if not masking or model.optimizer is None or not _is_functional(model) or len(model.inputs) != 1:
        return None
    source = model.inputs[0]
    for layer in masking:
        if len(layer._inbound_nodes) != 1 or layer.input is not source:
            return None
    if any(_makes_masks(layer) for layer in model.layers):
        return None
    return UnmaskedTwin(model, tuple(float(layer.mask_value) for layer in masking))


def _makes_masks(layer: Any) -> bool:
    """Whether `layer` may create a mask of its own (an `Embedding` with `mask_zero`, an attention layer, a
    custom `compute_mask`): a layer that overrides `compute_mask`, other than `Masking` itself and the
    recurrent layers (which pass the mask on or end it). Such a model gets no twin: dropping every mask
    would drop that one too."""
    if isinstance(layer, keras.layers.Masking | keras.layers.RNN | keras.layers.Bidirectional):
        return False
    return type(layer).compute_mask is not keras.layers.Layer.compute_mask


def _is_functional(model: keras.Model) -> bool:
    from keras.src.models.functional import Functional

    return isinstance(model, Functional)


def use_unmasked_twin() -> bool:
    """Whether a Keras model built now gets its twin: in a trial that plans long training
    (`keras_networks.plans_long_training`, the rule that unrolls the LSTMs).

    The twin is traced only if a batch without masked steps comes, and the network only if one with
    them comes; data with both pays for one more graph in the first epoch. Measured on `lstm` (real
    ETHUSDT join, 90 of 111 training batches without a masked step, 2026-12-01): the first epoch
    10.2 / 10.2 / 11.3 s with the twin against 10.2 / 10.1 / 11.7 s without, within the machine's noise,
    and every later epoch about 10 % shorter.
    """
    from seqsweep.trainables.keras_networks import plans_long_training

    return plans_long_training()
