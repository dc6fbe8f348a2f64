"""The Keras speed paths compute what the plain network math does: unrolled LSTMs, one-pass evaluation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from trainables_helpers import TINY_CONFIGS

from seqsweep.constants import MASK_VALUE
from seqsweep.data.bundle import DatasetBundle, DataShape
from seqsweep.trainables import DeviceSettings, InMemoryReporter, TrialSettings, resolve_family, train

SHAPE = DataShape(lookback=6, n_features=3, horizon=2, n_targets=2)


def build(family: str, unroll: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The family's network with its recurrences unrolled or not (the same seed, so the same weights)."""
    import keras

    from seqsweep.trainables import keras_networks

    monkeypatch.setattr(keras_networks, "unroll_recurrence", lambda steps: unroll)
    keras.utils.set_random_seed(5)
    builder = keras_networks.build_lstm if family == "lstm" else keras_networks.build_lstm_vae
    config = {
        "cell_size": 8,
        "dropout_rate_1": 0.3,
        "dropout_rate_2": 0.1,
        "latent_divisor": 2,
        "kl_weight": 0.1,
    }
    return builder(config, SHAPE)


def masked_windows() -> tuple[np.ndarray, np.ndarray]:
    """Windows with masked steps at the start, in the middle and at the end; and the same windows with
    each masked step dropped and the earlier steps shifted right behind a leading masked step."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, SHAPE.lookback, SHAPE.n_features)).astype(np.float32)
    x[0, 0] = MASK_VALUE  # a leading gap
    x[1, 3] = MASK_VALUE  # a missing row in the middle
    x[2, -1] = MASK_VALUE  # the last row missing
    shifted = x.copy()
    for window, step in ((0, 0), (1, 3), (2, SHAPE.lookback - 1)):
        kept = np.delete(x[window], step, axis=0)
        shifted[window] = np.concatenate([np.full((1, SHAPE.n_features), MASK_VALUE), kept])
    return x, shifted


@pytest.mark.parametrize("family", ["lstm", "lstm_vae"])
def test_unrolled_network_computes_the_rolled_one_and_still_skips_masked_steps(
    family: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rolled = build(family, unroll=False, monkeypatch=monkeypatch)
    unrolled = build(family, unroll=True, monkeypatch=monkeypatch)
    assert all(layer.unroll for layer in unrolled.layers if hasattr(layer, "unroll"))
    assert not any(layer.unroll for layer in rolled.layers if hasattr(layer, "unroll"))
    unrolled.set_weights(rolled.get_weights())

    x, shifted = masked_windows()
    expected = np.asarray(rolled.predict_on_batch(x))
    np.testing.assert_allclose(np.asarray(unrolled.predict_on_batch(x)), expected, rtol=1e-5, atol=1e-6)
    # a masked step is skipped (the state carries over it): dropping it changes nothing
    np.testing.assert_allclose(np.asarray(unrolled.predict_on_batch(shifted)), expected, rtol=1e-5, atol=1e-6)
    # ...while a real step does change the output
    assert not np.allclose(np.asarray(unrolled.predict_on_batch(x[:, ::-1])), expected, atol=1e-4)


def test_short_lookbacks_are_unrolled_on_a_cpu_only() -> None:
    from seqsweep.trainables.keras_networks import UNROLL_MAX_STEPS, gpu_visible, unroll_recurrence

    assert unroll_recurrence(UNROLL_MAX_STEPS) is not gpu_visible()
    assert unroll_recurrence(UNROLL_MAX_STEPS + 1) is False


@pytest.fixture
def no_plan() -> Iterator[None]:
    """Leave no planned batch count behind for later tests of this thread."""
    from seqsweep.trainables.keras_networks import plan_training

    yield
    plan_training(None)


def lstm_unrolls(model: Any) -> list[bool]:
    """Each recurrent layer's `unroll` of a Keras model."""
    return [layer.unroll for layer in model.layers if hasattr(layer, "unroll")]


@pytest.mark.parametrize(
    ("planned", "unrolled"), [(None, True), ("min", True), ("min - 1", False), (1, False)]
)
def test_a_trials_planned_batches_decide_whether_its_lstms_unroll(
    planned: Any, unrolled: bool, synthetic_bundle: DatasetBundle, no_plan: None
) -> None:
    from seqsweep.trainables.frameworks import get_framework
    from seqsweep.trainables.keras_networks import UNROLL_MIN_BATCHES, gpu_visible

    if gpu_visible():
        pytest.skip("on a GPU the rolled loop is always kept (the fused kernel needs it)")
    batches = {"min": UNROLL_MIN_BATCHES, "min - 1": UNROLL_MIN_BATCHES - 1}.get(planned, planned)
    device = DeviceSettings(planned_batches=batches)
    get_framework("keras").configure(device)
    for family in ("lstm", "lstm_vae"):
        model = resolve_family(family).build(TINY_CONFIGS[family], synthetic_bundle.shape, device).model
        assert lstm_unrolls(model) and all(flag is unrolled for flag in lstm_unrolls(model)), family


def test_the_loop_plans_epochs_times_batches_and_a_short_trial_keeps_the_rolled_loop(
    synthetic_bundle: DatasetBundle, tmp_path: Path, no_plan: None
) -> None:
    import keras

    from seqsweep.trainables.checkpoint import KERAS_MODEL_FILE
    from seqsweep.trainables.frameworks import get_framework
    from seqsweep.trainables.keras_networks import UNROLL_MIN_BATCHES, gpu_visible
    from seqsweep.trainables.loop import planned_batches

    n_train = len(synthetic_bundle.splits["train"])
    full = {"epochs": 3, "batch_size": 64}
    assert planned_batches(full, [synthetic_bundle]) == 3 * -(-n_train // 64)
    # with folds, per model: the mean over the folds' models of each one's batches
    small = replace(
        synthetic_bundle, splits={**synthetic_bundle.splits, "train": synthetic_bundle.splits["valid"]}
    )
    n_small = len(small.splits["train"])
    assert planned_batches(full, [synthetic_bundle, small]) == 3 * round(
        (-(-n_train // 64) + -(-n_small // 64)) / 2
    )
    assert planned_batches(full, [synthetic_bundle]) < UNROLL_MIN_BATCHES

    reporter = InMemoryReporter(root=tmp_path)
    config = {**TINY_CONFIGS["lstm"], **full}
    train(config, synthetic_bundle, TrialSettings(model="lstm"), reporter, DeviceSettings())
    assert reporter.last_checkpoint is not None
    saved = keras.saving.load_model(
        reporter.last_checkpoint / KERAS_MODEL_FILE,
        custom_objects=get_framework("keras").custom_objects(),
        compile=False,
    )
    assert lstm_unrolls(saved) == [False, False] or gpu_visible()


@pytest.mark.parametrize("family", ["lstm", "lstm_vae", "tiny_user_models:keras_model"])
def test_one_pass_evaluation_gives_keras_own_loss_and_probabilities(
    family: str, synthetic_bundle: DatasetBundle
) -> None:
    model = resolve_family(family).build(TINY_CONFIGS[family], synthetic_bundle.shape, DeviceSettings())
    model.train_epoch(synthetic_bundle.batches("train", 128))
    batches = list(synthetic_bundle.batches("valid", 32))
    assert len(batches) > 1 and (batches[0][1] == MASK_VALUE).any()
    evaluation = model.evaluate(batches)

    # what Keras's own calls give, batch by batch (the loss includes the VAE's KL term)
    losses = [
        float(model.model.test_on_batch(x, labels, return_dict=True)["loss"]) for x, labels, _ in batches
    ]
    sizes = [len(x) for x, _, _ in batches]
    probs = np.concatenate([np.asarray(model.model.predict_on_batch(x)) for x, _, _ in batches])
    assert evaluation.loss == pytest.approx(np.average(losses, weights=sizes), rel=1e-5)
    np.testing.assert_allclose(evaluation.probs, probs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("family", ["lstm", "lstm_vae", "tiny_user_models:keras_model"])
def test_compiled_training_step_gives_train_on_batch_losses_and_weights_with_one_trace_per_shape(
    family: str, synthetic_bundle: DatasetBundle
) -> None:
    import keras

    from seqsweep.trainables.keras_common import CompiledTrainingStep

    def fresh() -> Any:
        keras.utils.set_random_seed(11)  # the same weights and dropout draws for both
        return resolve_family(family).build(TINY_CONFIGS[family], synthetic_bundle.shape, DeviceSettings())

    # two epochs of batches of 96: full ones and a shorter last one, labels with masked positions
    batches = [b for _ in range(2) for b in synthetic_bundle.batches("train", 96, np.random.default_rng(0))]
    sizes = {len(x) for x, _, _ in batches}
    assert len(sizes) == 2 and any((labels == MASK_VALUE).any() for _, labels, _ in batches)

    keras_own = fresh()
    expected = [
        float(keras_own.model.train_on_batch(x, labels, return_dict=True)["loss"]) for x, labels, _ in batches
    ]
    compiled = fresh()
    step = CompiledTrainingStep(compiled.model)
    losses = [step(x, labels) for x, labels, _ in batches]

    np.testing.assert_allclose(losses, expected, rtol=1e-5)  # each batch's own loss, not a running mean
    for ours, theirs in zip(compiled.model.get_weights(), keras_own.model.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
    assert compiled.optimizer_steps == keras_own.optimizer_steps == len(batches)
    assert step.traces == len(sizes)  # once per batch shape: no second trace for variable creation


def test_train_epoch_uses_the_compiled_step_and_its_mean_loss(synthetic_bundle: DatasetBundle) -> None:
    model = resolve_family("lstm").build(TINY_CONFIGS["lstm"], synthetic_bundle.shape, DeviceSettings())
    batches = list(synthetic_bundle.batches("train", 96, np.random.default_rng(1)))
    loss = model.train_epoch(batches)
    from seqsweep.trainables.keras_common import CompiledTrainingStep

    assert isinstance(model._training_step, CompiledTrainingStep)
    assert model._training_step.traces == len({len(x) for x, _, _ in batches})
    assert np.isfinite(loss) and loss > 0
