"""A user family for tests: a tiny Keras model that refuses one config, to prove a raising trial
errors alone while the sweep completes."""

from __future__ import annotations

from typing import Any


def build(config: dict[str, Any], shape: Any) -> Any:
    import keras

    if config["cell_size"] == 13:
        raise ValueError("cell_size 13 is refused by this test family")
    inputs = keras.Input((shape.lookback, shape.n_features))
    hidden = keras.layers.LSTM(config["cell_size"])(inputs)
    logits = keras.layers.Dense(shape.horizon * shape.n_targets * 3)(hidden)
    logits = keras.layers.Reshape((shape.horizon, shape.n_targets, 3))(logits)
    return keras.Model(inputs, keras.layers.Softmax(axis=-1)(logits))
