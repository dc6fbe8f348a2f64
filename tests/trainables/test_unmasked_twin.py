"""The unmasked twin (`keras_masking`): the network without its input Masking, used only for batches that
have no masked step, trains and scores exactly as the network does and never reaches a checkpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from trainables_helpers import TINY_CONFIGS

from seqsweep.constants import MASK_VALUE
from seqsweep.data.bundle import DataShape
from seqsweep.trainables import DeviceSettings, resolve_family

SHAPE = DataShape(lookback=6, n_features=3, horizon=2, n_targets=2)


@pytest.fixture
def no_plan() -> Iterator[None]:
    """Leave no planned batch count behind for later tests of this thread."""
    from seqsweep.trainables.keras_networks import plan_training

    yield
    plan_training(None)


def batches(n: int, masked: set[int], size: int = 16) -> list[tuple[np.ndarray, np.ndarray]]:
    """`n` batches (x (size, L, F), labels (size, H, T)); those in `masked` have one window with a fully
    masked step in its middle (a missing input row)."""
    rng = np.random.default_rng(3)
    out = []
    for index in range(n):
        x = rng.normal(size=(size, SHAPE.lookback, SHAPE.n_features)).astype(np.float32)
        if index in masked:
            x[1, 2] = MASK_VALUE
        labels = rng.integers(0, 3, size=(size, SHAPE.horizon, SHAPE.n_targets)).astype(np.int8)
        out.append((x, labels))
    return out


def network(family: str, seed: int = 7) -> Any:
    import keras

    keras.utils.set_random_seed(seed)  # the same weights and dropout draws for every copy
    return resolve_family(family).build(TINY_CONFIGS[family], SHAPE, DeviceSettings()).model


@pytest.mark.parametrize("family", ["lstm", "lstm_vae"])
def test_the_twin_predicts_what_the_network_does_on_unmasked_batches_only(family: str) -> None:
    from seqsweep.trainables.keras_masking import unmasked_twin

    model = network(family)
    twin = unmasked_twin(model)
    assert twin is not None
    assert not any(type(layer).__name__ == "Masking" for layer in twin.model.layers)
    assert {id(v) for v in twin.model.trainable_variables} == {id(v) for v in model.trainable_variables}

    (clean, _), (gappy, _) = batches(2, masked={1})
    assert twin.covers(clean) and not twin.covers(gappy)
    np.testing.assert_allclose(
        np.asarray(twin.model(clean, training=False)), np.asarray(model(clean, training=False)), atol=1e-6
    )
    # on a batch with a masked step the twin reads the -50s as values: it must never get such a batch
    assert not np.allclose(
        np.asarray(twin.model(gappy, training=False)), np.asarray(model(gappy, training=False)), atol=1e-4
    )


@pytest.mark.parametrize("family", ["lstm", "lstm_vae"])
def test_training_with_the_twin_gives_the_networks_losses_and_weights(family: str) -> None:
    from seqsweep.trainables.keras_common import CompiledTrainingStep, compile_model
    from seqsweep.trainables.keras_masking import unmasked_twin

    data = batches(8, masked={2, 5})  # the twin takes 6, the network 2, interleaved
    plain = compile_model(network(family))
    plain_step = CompiledTrainingStep(plain)
    expected = [plain_step(x, labels) for x, labels in data]

    model = compile_model(network(family))
    twin = unmasked_twin(model)
    step = CompiledTrainingStep(model, twin)
    losses = [step(x, labels) for x, labels in data]

    np.testing.assert_allclose(losses, expected, rtol=1e-5)  # the VAE's KL term included
    for ours, theirs in zip(model.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
    assert int(model.optimizer.iterations) == len(data)  # one optimizer, one count
    assert step.traces == 2  # one graph each, one batch shape


def test_a_keras_model_trains_and_scores_through_its_twin_and_saves_the_network(
    tmp_path: Path, no_plan: None
) -> None:
    import keras

    from seqsweep.trainables.checkpoint import KERAS_MODEL_FILE
    from seqsweep.trainables.frameworks import get_framework

    keras.utils.set_random_seed(2)
    model = resolve_family("lstm").build(TINY_CONFIGS["lstm"], SHAPE, DeviceSettings())
    data = [(x, labels, None) for x, labels in batches(4, masked={0})]
    model.train_epoch(data)
    evaluation = model.evaluate(data)
    assert model._twin() is not None and model._training_step.twin is model._twin()  # type: ignore[union-attr]

    model.save(tmp_path)
    saved = keras.saving.load_model(
        tmp_path / KERAS_MODEL_FILE, custom_objects=get_framework("keras").custom_objects()
    )
    assert [type(layer).__name__ for layer in saved.layers] == [
        type(layer).__name__ for layer in model.model.layers
    ]
    assert any(type(layer).__name__ == "Masking" for layer in saved.layers)
    probs = np.concatenate([np.asarray(saved.predict_on_batch(x)) for x, _, _ in data])
    np.testing.assert_allclose(evaluation.probs, probs, rtol=1e-5, atol=1e-6)


def test_a_short_trial_builds_no_twin(no_plan: None) -> None:
    from seqsweep.trainables.frameworks import get_framework
    from seqsweep.trainables.keras_networks import UNROLL_MIN_BATCHES

    get_framework("keras").configure(DeviceSettings(planned_batches=UNROLL_MIN_BATCHES - 1))
    model = resolve_family("lstm").build(TINY_CONFIGS["lstm"], SHAPE, DeviceSettings())
    model.train_epoch([(x, labels, None) for x, labels in batches(2, masked=set())])
    assert model._twin() is None


def masking_models() -> dict[str, Any]:
    """Keras models the twin must refuse: a mask made elsewhere, or a Masking the host cannot check."""
    import keras
    from keras import layers

    inputs = keras.Input((SHAPE.lookback, SHAPE.n_features))
    tokens = keras.Input((SHAPE.lookback,), dtype="int32")
    scaled = layers.Masking(MASK_VALUE)(layers.Dense(SHAPE.n_features)(inputs))
    embedded = layers.Embedding(10, 4, mask_zero=True)(tokens)
    return {
        "no Masking": keras.Model(inputs, layers.LSTM(4)(inputs)),
        "Masking after another layer": keras.Model(inputs, layers.LSTM(4)(scaled)),
        "an Embedding's own mask": keras.Model(
            [inputs, tokens], layers.LSTM(4)(layers.Concatenate()([layers.Masking()(inputs), embedded]))
        ),
        "a Sequential model": keras.Sequential(
            [keras.Input(inputs.shape[1:]), layers.Masking(), layers.LSTM(4)]
        ),
    }


@pytest.mark.parametrize(
    "case", ["no Masking", "Masking after another layer", "an Embedding's own mask", "a Sequential model"]
)
def test_no_twin_where_dropping_the_mask_could_change_the_result(case: str) -> None:
    from seqsweep.trainables.keras_common import compile_model
    from seqsweep.trainables.keras_masking import unmasked_twin

    assert unmasked_twin(compile_model(masking_models()[case])) is None
