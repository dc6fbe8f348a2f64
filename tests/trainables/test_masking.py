"""Masked labels and non-finite losses, checked on each family's adapter directly (no loop)."""

from __future__ import annotations

import numpy as np
import pytest
from trainables_helpers import FAMILIES, TINY_CONFIGS, hand_masked_cross_entropy

from seqsweep.constants import MASK_VALUE
from seqsweep.data.bundle import DatasetBundle
from seqsweep.errors import TrialError
from seqsweep.trainables import DeviceSettings, resolve_family
from seqsweep.trainables.seeding import seed_everything


@pytest.mark.parametrize("family", FAMILIES)
def test_masked_labels_do_not_change_the_loss_and_nan_fails_the_trial(
    family: str, synthetic_bundle: DatasetBundle
) -> None:
    config = {**TINY_CONFIGS[family], "batch_size": 32}
    if family == "lstm_vae":
        config["kl_weight"] = 0.0  # the KL term is checked in test_lstm_vae.py
    fam = resolve_family(family)
    seed_everything(3, fam.frameworks)
    model = fam.build(config, synthetic_bundle.shape, DeviceSettings())

    valid = synthetic_bundle.splits["valid"]
    x = synthetic_bundle.windows("valid", slice(0, 48))
    labels, moves = valid.labels[:48].copy(), valid.moves[:48].copy()
    assert (labels == MASK_VALUE).any() and (labels != MASK_VALUE).any()
    loss = model.evaluate([(x, labels, moves)]).loss

    # the loss is the mean cross-entropy over unmasked positions of the model's own probabilities
    assert loss == pytest.approx(hand_masked_cross_entropy(labels, model.predict_proba(x)), rel=1e-5)

    # windows whose labels are all masked (with arbitrary inputs) add nothing to the loss
    rng = np.random.default_rng(0)
    garbage_x = rng.normal(size=(16, *x.shape[1:])).astype(np.float32) * 100
    masked = np.full((16, *labels.shape[1:]), MASK_VALUE, dtype=np.int8)
    masked_moves = np.full((16, *moves.shape[1:]), MASK_VALUE, dtype=np.float32)
    padded_batch = (
        np.concatenate([x, garbage_x]),
        np.concatenate([labels, masked]),
        np.concatenate([moves, masked_moves]),
    )
    padded = model.evaluate([padded_batch])
    assert padded.loss == pytest.approx(loss, rel=1e-5)

    # a NaN in the inputs gives a NaN loss: the trial fails with a clear error
    poisoned = x.copy()
    poisoned[:, -1, 0] = np.nan
    with pytest.raises(TrialError, match="training loss is nan at batch 1"):
        model.train_epoch([(poisoned, labels, moves)])
