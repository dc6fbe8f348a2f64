"""A user family for tests: `output: frozen` pins every prediction to "down" with near-certainty, so its
validation loss is far worse than any trained model's and ASHA's first rung must stop it."""

from __future__ import annotations

from typing import Any

import numpy as np

FROZEN_LOGITS = (20.0, 0.0, 0.0)
"""down/flat/up logits of the frozen head: about -20 log-likelihood on every window that is not "down"."""


def build(config: dict[str, Any], shape: Any) -> Any:
    import keras

    outputs = shape.horizon * shape.n_targets * 3
    inputs = keras.Input((shape.lookback, shape.n_features))
    hidden = keras.layers.LSTM(config["cell_size"])(inputs)
    head = keras.layers.Dense(outputs, trainable=config["output"] != "frozen")
    logits = head(hidden)
    if config["output"] == "frozen":
        head.set_weights([np.zeros((config["cell_size"], outputs)), np.tile(FROZEN_LOGITS, outputs // 3)])
    logits = keras.layers.Reshape((shape.horizon, shape.n_targets, 3))(logits)
    return keras.Model(inputs, keras.layers.Softmax(axis=-1)(logits))
