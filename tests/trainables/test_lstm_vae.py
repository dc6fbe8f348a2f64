"""The LSTM-VAE's loss: masked cross-entropy + kl_weight · mean KL, with the KL counted once."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from trainables_helpers import hand_masked_cross_entropy

from seqsweep.data.bundle import DatasetBundle
from seqsweep.errors import ConfigError
from seqsweep.trainables import DeviceSettings, get_framework, resolve_family
from seqsweep.trainables.seeding import seed_everything

CONFIG = {"cell_size": 16, "dropout_rate_1": 0.1, "latent_divisor": 2, "batch_size": 32}


def build(bundle: DatasetBundle, kl_weight: float):
    seed_everything(11, [get_framework("keras")])  # same seed: the same initial weights for every kl_weight
    return resolve_family("lstm_vae").build(
        {**CONFIG, "kl_weight": kl_weight}, bundle.shape, DeviceSettings()
    )


def hand_loss(model, x: np.ndarray, labels: np.ndarray, kl_weight: float) -> float:
    """CE of the model's probabilities + kl_weight · mean KL of its z_mean / z_log_var, computed here."""
    net = model.model
    probe = keras.Model(
        net.input, [net.get_layer("z_mean").output, net.get_layer("z_log_var").output, net.output]
    )
    z_mean, z_log_var, probs = (np.asarray(a, dtype=np.float64) for a in probe.predict_on_batch(x))
    kl = -0.5 * np.sum(1 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=-1)  # (B,)
    return hand_masked_cross_entropy(labels, probs) + kl_weight * float(kl.mean())


def test_kl_term_is_counted_once_and_weighted(synthetic_bundle: DatasetBundle) -> None:
    valid = synthetic_bundle.splits["valid"]
    x = synthetic_bundle.windows("valid", slice(0, 64))
    batch = [(x, valid.labels[:64], valid.moves[:64])]

    weighted = build(synthetic_bundle, kl_weight=0.5)
    loss_weighted = weighted.evaluate(batch).loss
    assert loss_weighted == pytest.approx(hand_loss(weighted, x, valid.labels[:64], 0.5), rel=1e-5)

    plain = build(synthetic_bundle, kl_weight=0.0)
    loss_plain = plain.evaluate(batch).loss
    assert loss_plain == pytest.approx(hand_loss(plain, x, valid.labels[:64], 0.0), rel=1e-5)
    assert loss_weighted > loss_plain  # the KL of an untrained encoder is positive


def test_latent_size_of_zero_is_rejected_with_the_rule() -> None:
    family = resolve_family("lstm_vae")
    with pytest.raises(ConfigError) as info:
        family.validate_config({"cell_size": 8, "latent_divisor": 6})
    message = str(info.value)
    assert "(cell_size // 2) // latent_divisor must be >= 1" in message and "(8 // 2) // 6 = 0" in message
    assert "\n" not in message
    family.validate_config({"cell_size": 8, "latent_divisor": 4})  # latent 1 is fine
