"""`lstm_vae`: the notebook's LSTM-VAE classifier (Keras). Importing this module does not import Keras."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from seqsweep.data.bundle import DataShape
from seqsweep.errors import ConfigError
from seqsweep.trainables.family import KerasFamily, as_float, as_int


def latent_size(cell_size: int, latent_divisor: int) -> int:
    """(cell_size // 2) // latent_divisor: an int (the notebook divided with `/` and got a float)."""
    return (cell_size // 2) // latent_divisor


class LSTMVAEFamily(KerasFamily):
    """Encoder → z_mean, z_log_var → sampling → Dense → LSTM(c//2) → BN → LSTM(c) → BN → Dropout → (H, T, 3).

    Loss = masked cross-entropy + kl_weight · mean KL, the KL counted once (see `VariationalSampling`).
    """

    name = "lstm_vae"
    defaults: ClassVar[Mapping[str, Any]] = {
        "cell_size": 80,
        "dropout_rate_1": 0.3,
        "latent_divisor": 3,  # the notebook tried 6, 3 and 2
        "kl_weight": 0.1,  # the notebook's loss weight for the KL output
    }

    def _check(self, config: dict[str, Any]) -> None:
        cell = config["cell_size"] = as_int(self.name, "cell_size", config["cell_size"], 2)
        config["dropout_rate_1"] = as_float(self.name, "dropout_rate_1", config["dropout_rate_1"], 0.0, 1.0)
        divisor = config["latent_divisor"] = as_int(self.name, "latent_divisor", config["latent_divisor"], 1)
        config["kl_weight"] = as_float(self.name, "kl_weight", config["kl_weight"], 0.0)
        if latent_size(cell, divisor) < 1:
            raise ConfigError(
                f"{self.name} config: latent size (cell_size // 2) // latent_divisor must be >= 1, "
                f"got ({cell} // 2) // {divisor} = 0; use latent_divisor <= {cell // 2} or a larger cell_size"
            )

    def network(self, config: dict[str, Any], shape: DataShape) -> Any:
        from seqsweep.trainables.keras_networks import build_lstm_vae

        return build_lstm_vae(config, shape)
