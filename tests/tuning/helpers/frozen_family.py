"""User families for tests: `output: frozen` pins every prediction to "down" with near-certainty, so
the validation loss is far worse than any trained model's and ASHA's first rung must stop the trial.

`build` is the Keras form, `build_torch` the torch form (which data-parallel trials can train).
"""

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


def build_torch(config: dict[str, Any], shape: Any) -> Any:
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = nn.GRU(shape.n_features, config["cell_size"], batch_first=True)
            self.head = nn.Linear(config["cell_size"], shape.horizon * shape.n_targets * 3)
            if config["output"] == "frozen":
                with torch.no_grad():
                    self.head.weight.zero_()
                    self.head.bias.copy_(torch.tensor(FROZEN_LOGITS).repeat(shape.horizon * shape.n_targets))
                self.head.requires_grad_(False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out, _ = self.gru(x)
            return self.head(out[:, -1]).view(-1, shape.horizon, shape.n_targets, 3)

    return Net()


def trained_then_frozen(model: str, batch_size: int) -> dict[str, Any]:
    """Sweep sections (for the `write_sweep` fixture): grid over `output`, trained first, under ASHA.

    ASHA compares a trial only with those that reached the rung before it, so the order matters; the
    grid sampler's seed 1 draws `trained` first (the tests check it).
    """
    return {
        "model": model,
        "params": {
            "cell_size": 8,
            "output": {"type": "choice", "values": ["trained", "frozen"]},
            "batch_size": batch_size,
            "epochs": 3,
        },
        "search": {"algorithm": "grid", "num_samples": None, "metric": "val_loss", "mode": "min", "seed": 1},
        "scheduler": {"type": "asha", "grace_period": 1, "reduction_factor": 2},
    }
