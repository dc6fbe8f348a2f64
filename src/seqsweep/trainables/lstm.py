"""`lstm`: the notebook's base network (Keras). Importing this module does not import Keras."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from seqsweep.data.bundle import DataShape
from seqsweep.trainables.family import ModelFamily
from seqsweep.trainables.hyperparameters import Float, Hyperparameter, Int


class LSTMFamily(ModelFamily):
    """Masking(-50) → LSTM(c) → BN → Dropout(d1) → LSTM(c//2) → BN → Dropout(d2) → Dense → (H, T, 3) softmax.

    Optimizer: Adadelta(learning_rate=1.0, rho=0.8, epsilon=1e-7), the notebook's standard.
    """

    name = "lstm"
    framework = "keras"
    hyperparameters: ClassVar[Mapping[str, Hyperparameter]] = {
        "cell_size": Int(2, default=80),  # the notebook's default; c // 2 >= 1
        "dropout_rate_1": Float(0, 1, closed="left", default=0.3),
        "dropout_rate_2": Float(0, 1, closed="left", default=0.1),
    }
    example_config: ClassVar[Mapping[str, Any]] = {
        "cell_size": 16,
        "dropout_rate_1": 0.1,
        "dropout_rate_2": 0.0,
    }

    def network(self, config: dict[str, Any], shape: DataShape) -> Any:
        from seqsweep.trainables.keras_networks import build_lstm

        return build_lstm(config, shape)
