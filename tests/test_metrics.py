"""The ranking score: per-cell macro-F1, checked against scikit-learn and against a constant guess."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from seqsweep import metrics
from seqsweep.constants import MASK_VALUE


def _random_case(
    seed: int, n: int = 300, horizon: int = 3, targets: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=(n, horizon, targets)).astype(np.int8)
    predictions = np.where(rng.random(labels.shape) < 0.5, labels, rng.integers(0, 3, size=labels.shape))
    labels[rng.random(labels.shape) < 0.1] = MASK_VALUE
    return labels, predictions.astype(np.int8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_match_scikit_learn_per_cell_and_pooled(seed: int) -> None:
    labels, predictions = _random_case(seed)
    common = {"labels": [0, 1, 2], "average": "macro", "zero_division": 0}
    per_cell_f1, per_cell_precision, per_cell_recall = [], [], []
    for h in range(labels.shape[1]):
        for t in range(labels.shape[2]):
            valid = labels[:, h, t] != MASK_VALUE
            y, p = labels[valid, h, t], predictions[valid, h, t]
            per_cell_f1.append(f1_score(y, p, **common))
            per_cell_precision.append(precision_score(y, p, **common))
            per_cell_recall.append(recall_score(y, p, **common))
    valid = labels != MASK_VALUE
    got = metrics.scores(labels, predictions)
    assert got["macro_f1"] == pytest.approx(np.mean(per_cell_f1), abs=1e-12)
    assert got["precision_macro"] == pytest.approx(np.mean(per_cell_precision), abs=1e-12)
    assert got["recall_macro"] == pytest.approx(np.mean(per_cell_recall), abs=1e-12)
    assert got["macro_f1_pooled"] == pytest.approx(
        f1_score(labels[valid], predictions[valid], **common), abs=1e-12
    )
    assert got["accuracy"] == pytest.approx(accuracy_score(labels[valid], predictions[valid]), abs=1e-12)
    cells = metrics.cell_macro_f1(labels, predictions)
    assert cells.shape == (3, 2)
    assert cells.ravel() == pytest.approx(
        per_cell_f1, abs=1e-12
    )  # (H, T) in step-major order, as looped above


def test_a_constant_guess_per_cell_is_capped_while_its_pooled_score_is_not() -> None:
    """Balanced labels: one fixed class per (target, step) scores 2p/(3(1+p)) = 1/6 per cell."""
    rng = np.random.default_rng(0)
    n, horizon, targets = 900, 2, 3
    labels = np.stack(
        [
            np.stack([rng.permutation(np.repeat([0, 1, 2], n // 3)) for _ in range(targets)], axis=-1)
            for _ in range(horizon)
        ],
        axis=1,
    ).astype(np.int8)  # (n, H, T), each cell exactly balanced: p = 1/3
    constant = np.empty_like(labels)
    for t in range(targets):
        constant[:, :, t] = t  # target 0 always "down", 1 always "flat", 2 always "up"
    got = metrics.scores(labels, constant)
    p = 1 / 3
    bound = 2 * p / (3 * (1 + p))
    assert np.nanmax(metrics.cell_macro_f1(labels, constant)) <= bound + 1e-12
    assert got["macro_f1"] == pytest.approx(bound)  # about 0.167
    assert (
        got["macro_f1_pooled"] > 1.5 * got["macro_f1"]
    )  # pooled, it looks like a model using all three classes
    assert got["macro_f1_pooled"] == pytest.approx(1 / 3)


def test_empty_cells_are_left_out_of_the_mean() -> None:
    labels = np.array([[[0, MASK_VALUE]], [[1, MASK_VALUE]], [[2, MASK_VALUE]]], dtype=np.int8)  # (3, 1, 2)
    predictions = np.array([[[0, 0]], [[1, 0]], [[2, 0]]], dtype=np.int8)
    assert np.isnan(metrics.cell_macro_f1(labels, predictions)[0, 1])
    assert metrics.scores(labels, predictions)["macro_f1"] == pytest.approx(1.0)  # not (1 + 0) / 2
    everything_masked = np.full((4, 1, 1), MASK_VALUE, dtype=np.int8)
    assert metrics.scores(everything_masked, np.zeros((4, 1, 1), np.int8))["macro_f1"] == 0.0


def test_shape_mismatch_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\(n, H, T\)"):
        metrics.scores(np.zeros((3, 2, 1), np.int8), np.zeros((3, 2), np.int8))


def test_the_chance_score_is_what_the_same_class_mix_scores_without_the_labels() -> None:
    """Cohen's chance counts: a one-class guess scores exactly its chance score; a guess drawn apart from
    the labels scores about its chance score (1/3 for uniform guesses on balanced labels, twice the best
    constant guess); a predictor that follows the labels scores far above it."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=(20000, 2, 2)).astype(np.int8)
    labels[rng.random(labels.shape) < 0.05] = MASK_VALUE
    constant = np.ones_like(labels)
    assert metrics.chance_macro_f1(labels, constant) == pytest.approx(
        metrics.scores(labels, constant)["macro_f1"]
    )
    guess = rng.integers(0, 3, size=labels.shape).astype(np.int8)
    by_chance = metrics.chance_macro_f1(labels, guess)
    assert by_chance == pytest.approx(1 / 3, abs=0.01)
    assert metrics.scores(labels, guess)["macro_f1"] == pytest.approx(by_chance, abs=0.01)
    follows = np.where(rng.random(labels.shape) < 0.5, np.clip(labels, 0, 2), guess).astype(np.int8)
    assert metrics.scores(labels, follows)["macro_f1"] > metrics.chance_macro_f1(labels, follows) + 0.2
    counts = metrics.confusion_counts(labels, guess)
    expected = metrics.chance_counts(counts)
    np.testing.assert_allclose(expected.sum(axis=-1), counts.sum(axis=-1))  # the same true-class totals
    np.testing.assert_allclose(expected.sum(axis=-2), counts.sum(axis=-2))  # and predicted-class totals
    assert (metrics.chance_counts(np.zeros((1, 1, 3, 3))) == 0).all()  # an empty cell stays empty
