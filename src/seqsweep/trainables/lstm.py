"""`lstm`: the notebook's base network (Keras). Importing this module does not import Keras."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from seqsweep.data.bundle import DataShape
from seqsweep.trainables.family import KerasFamily, as_float, as_int


class LSTMFamily(KerasFamily):
    """Masking(-50) → LSTM(c) → BN → Dropout(d1) → LSTM(c//2) → BN → Dropout(d2) → Dense → (H, T, 3) softmax.

    Optimizer: Adadelta(learning_rate=1.0, rho=0.8, epsilon=1e-7), the notebook's standard.
    """

    name = "lstm"
    defaults: ClassVar[Mapping[str, Any]] = {
        "cell_size": 80,  # the notebook's default
        "dropout_rate_1": 0.3,
        "dropout_rate_2": 0.1,
    }

    def _check(self, config: dict[str, Any]) -> None:
        config["cell_size"] = as_int(self.name, "cell_size", config["cell_size"], 2)  # c // 2 >= 1
        for key in ("dropout_rate_1", "dropout_rate_2"):
            config[key] = as_float(self.name, key, config[key], 0.0, 1.0)

    def network(self, config: dict[str, Any], shape: DataShape) -> Any:
        from seqsweep.trainables.keras_networks import build_lstm

        return build_lstm(config, shape)
