"""`lstm_vae`: the notebook's LSTM-VAE classifier (Keras). Importing this module does not import Keras."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from seqsweep.data.bundle import DataShape
from seqsweep.trainables.family import ModelFamily
from seqsweep.trainables.hyperparameters import Float, Hyperparameter, Int


def latent_size(cell_size: int, latent_divisor: int) -> int:
    """(cell_size // 2) // latent_divisor: an int (the notebook divided with `/` and got a float)."""
    return (cell_size // 2) // latent_divisor


class LSTMVAEFamily(ModelFamily):
    """Encoder → z_mean, z_log_var → sampling → Dense → LSTM(c//2) → BN → LSTM(c) → BN → Dropout → (H, T, 3).

    Loss = masked cross-entropy + kl_weight · mean KL, the KL counted once (see `VariationalSampling`).
    """

    name = "lstm_vae"
    framework = "keras"
    hyperparameters: ClassVar[Mapping[str, Hyperparameter]] = {
        "cell_size": Int(2, default=80),
        "dropout_rate_1": Float(0, 1, closed="left", default=0.3),
        "latent_divisor": Int(1, default=3),  # the notebook tried 6, 3 and 2
        "kl_weight": Float(0, default=0.1),  # the notebook's loss weight for the KL output
    }
    example_config: ClassVar[Mapping[str, Any]] = {
        # cell 32 without dropout: learns the contract's four lead → class cells within five epochs
        "cell_size": 32,
        "dropout_rate_1": 0.0,
        "latent_divisor": 2,
        "kl_weight": 0.01,
    }

    def check(self, config: dict[str, Any]) -> None:
        """The latent layer needs at least one unit."""
        cell, divisor = config["cell_size"], config["latent_divisor"]
        if latent_size(cell, divisor) < 1:
            raise self.invalid(
                "latent_divisor",
                f"latent size (cell_size // 2) // latent_divisor must be >= 1, got ({cell} // 2) // {divisor} "
                f"= 0; use latent_divisor <= {cell // 2} or a larger cell_size",
            )

    def network(self, config: dict[str, Any], shape: DataShape) -> Any:
        from seqsweep.trainables.keras_networks import build_lstm_vae

        return build_lstm_vae(config, shape)
