"""Keras pieces: the masked loss in keras.ops, optimizer state in checkpoints, the torch backend."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from trainables_helpers import HERE, TINY_CONFIGS, hand_masked_cross_entropy

from seqsweep.constants import MASK_VALUE
from seqsweep.data.bundle import DatasetBundle
from seqsweep.trainables import DeviceSettings, load_checkpoint, resolve_family


def test_masked_loss_ignores_whatever_sits_under_the_mask() -> None:
    from seqsweep.trainables.keras_common import masked_sparse_categorical_crossentropy

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=(8, 2, 2)).astype(np.float32)  # (B, H, T, 3)
    labels = rng.integers(0, 3, size=(8, 2, 2)).astype(np.int8)
    labels[rng.random(labels.shape) < 0.3] = int(MASK_VALUE)
    loss = float(masked_sparse_categorical_crossentropy(labels, probs))
    assert loss == pytest.approx(hand_masked_cross_entropy(labels, probs), rel=1e-5)

    garbage = probs.copy()
    garbage[labels == MASK_VALUE] = np.nan  # predictions under the mask cannot reach the loss
    assert float(masked_sparse_categorical_crossentropy(labels, garbage)) == pytest.approx(loss, rel=1e-6)


def test_fused_adadelta_steps_as_keras_adadelta_does() -> None:
    import keras

    from seqsweep.trainables.keras_common import FusedAdadelta

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = rng.normal(size=(64, 3)).astype("float32")

    def trained(optimizer: keras.optimizers.Optimizer) -> tuple[list[np.ndarray], list[np.ndarray]]:
        keras.utils.set_random_seed(1)
        model = keras.Sequential(
            [keras.Input((6,)), keras.layers.Dense(5, activation="tanh"), keras.layers.Dense(3)]
        )
        model.compile(optimizer=optimizer, loss="mse")
        initial = [np.asarray(w) for w in model.weights]
        for _ in range(60):
            model.train_on_batch(x, y)
        weights = [np.asarray(w) for w in model.weights]
        assert any(np.abs(w - i).max() > 1e-3 for w, i in zip(weights, initial, strict=True))  # it trained
        return weights, [np.asarray(v) for v in optimizer.variables]

    settings = {"learning_rate": 1.0, "rho": 0.8, "epsilon": 1e-7}
    fused, fused_state = trained(FusedAdadelta(**settings))
    plain, plain_state = trained(keras.optimizers.Adadelta(**settings))
    for f, k in zip(fused + fused_state, plain + plain_state, strict=True):
        np.testing.assert_allclose(f, k, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("family", ["lstm", "tiny_user_models:keras_model"])
def test_adadelta_accumulators_survive_a_checkpoint(
    family: str, synthetic_bundle: DatasetBundle, tmp_path: Path
) -> None:
    model = resolve_family(family).build(TINY_CONFIGS[family], synthetic_bundle.shape, DeviceSettings())
    model.train_epoch(synthetic_bundle.batches("train", 256))
    model.save(tmp_path)
    before = [(v.path, np.asarray(v)) for v in model.model.optimizer.variables]
    after = [np.asarray(v) for v in load_checkpoint(tmp_path).model.optimizer.variables]
    accumulators = [value for path, value in before if "accumulated" in path]
    assert accumulators and all(np.abs(value).sum() > 0 for value in accumulators)
    assert len(before) == len(after)  # (a rebuilt user model may name its layers differently)
    for (_, saved), loaded in zip(before, after, strict=True):
        np.testing.assert_array_equal(saved, loaded)


@pytest.mark.slow
def test_keras_families_run_on_the_torch_backend(tmp_path: Path) -> None:
    script = f"""
import sys
sys.path.insert(0, {str(HERE)!r})
import keras
from trainables_helpers import make_bundle
from seqsweep.trainables import DeviceSettings, InMemoryReporter, TrialSettings, load_checkpoint, train
assert keras.backend.backend() == "torch"
bundle = make_bundle(n_rows=400)
for family in ("lstm", "lstm_vae"):
    reporter = InMemoryReporter(root={str(tmp_path)!r})
    config = {{"cell_size": 8, "epochs": 1, "batch_size": 64}}
    train(config, bundle, TrialSettings(model=family), reporter, DeviceSettings())
    probs = load_checkpoint(reporter.last_checkpoint).predict_proba(bundle.windows("valid", slice(0, 4)))
    print(family, reporter.reports[0]["val_loss"], probs.shape)
"""
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "lstm " in done.stdout and "lstm_vae " in done.stdout and "(4, 2, 2, 3)" in done.stdout
