"""Classification scores of masked (n, H, T) labels, the one place every score is computed.

Trainables, the results report and the exported bundle all call these functions, so a validation
score during the search and a test score in the report mean the same thing.

Why the ranking score is per cell
---------------------------------
A prediction has one class per (window, horizon step h, target t). The notebook pooled every
(window, step, target) position and took one three-class macro-F1 over the pool. Pooling lets a model
that ignores its input look as if it used all three classes: a predictor that always says "up" for one
target and "down" for another covers two classes of the pool and scores like a model with some skill.
On real data such a constant per-(target, step) guess out-scored a sweep's winner.

`macro_f1` is therefore the mean over (target, step) cells of each cell's own three-class macro-F1
(masked positions skipped; a cell with no valid position is left out of the mean). Within one cell a
constant guess of class c, whose share of the cell's labels is p, has F1 = 2p / (1 + p) for c and 0 for
the other two classes, so its macro-F1 is at most 2p / (3(1 + p)): 1/6 on balanced labels (p = 1/3).
The pooled score stays available as `macro_f1_pooled`, reported beside it, never used to rank.

Per-cell precision and recall are averaged the same way; accuracy is over every valid position.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seqsweep.constants import MASK_VALUE, N_CLASSES

_CLASSES = list(range(N_CLASSES))


def predicted_classes(probs: np.ndarray) -> np.ndarray:
    """(…, 3) class probabilities → (…) int8 argmax."""
    return np.argmax(probs, axis=-1).astype(np.int8)


def confusion_counts(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Confusion counts per (step, target) cell: (H, T, 3, 3) int64, [h, t, true, predicted].

    `labels` (n, H, T) with MASK_VALUE where missing; `predictions` the same shape, class ids 0..2.
    Masked positions are skipped. Every score below is a function of these counts, which is what lets the
    bootstrap in `seqsweep.results.bootstrap` resample windows as weighted sums of per-window counts.
    """
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    if labels.shape != predictions.shape or labels.ndim != 3:
        raise ValueError(
            f"labels and predictions must both be (n, H, T), got {labels.shape} and {predictions.shape}"
        )
    _, horizon, n_targets = labels.shape
    valid = labels != MASK_VALUE
    cell = np.broadcast_to(np.arange(horizon * n_targets).reshape(horizon, n_targets), labels.shape)
    codes = (cell * N_CLASSES + labels.astype(np.int64)) * N_CLASSES + predictions.astype(np.int64)
    counts = np.bincount(codes[valid], minlength=horizon * n_targets * N_CLASSES * N_CLASSES)
    return counts.reshape(horizon, n_targets, N_CLASSES, N_CLASSES)


def _per_class(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(…, 3, 3) confusion counts → precision, recall, F1 per class, each (…, 3); 0 where undefined.

    Matches scikit-learn's `precision_recall_fscore_support(..., zero_division=0)` for labels 0..2.
    """
    counts = counts.astype(np.float64)
    tp = np.diagonal(counts, axis1=-2, axis2=-1)
    predicted = counts.sum(axis=-2)
    actual = counts.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(predicted + actual > 0, 2 * tp / (predicted + actual), 0.0)
    return precision, recall, f1


def cell_macro_f1_from_counts(counts: np.ndarray) -> np.ndarray:
    """(…, H, T, 3, 3) confusion counts → (…, H, T) float64 macro-F1 per cell, NaN for an empty cell."""
    _, _, f1 = _per_class(counts)
    empty = counts.sum(axis=(-2, -1)) == 0
    return np.where(empty, np.nan, f1.mean(axis=-1))


def macro_f1_from_counts(counts: np.ndarray) -> np.ndarray:
    """(…, H, T, 3, 3) confusion counts → (…) the ranking score: mean of the non-empty cells' macro-F1.

    0.0 when every cell is empty.
    """
    cells = cell_macro_f1_from_counts(counts)
    flat = cells.reshape(*cells.shape[:-2], -1)
    filled = ~np.isnan(flat)
    total = np.where(filled, flat, 0.0).sum(axis=-1)
    n = filled.sum(axis=-1)
    return np.where(n > 0, total / np.maximum(n, 1), 0.0)


def chance_counts(counts: np.ndarray) -> np.ndarray:
    """(…, 3, 3) confusion counts → the counts expected if the same predictions were independent of the
    labels: true-class total × predicted-class total / positions, per cell (float64; 0 for an empty cell).

    The chance agreement of Cohen's kappa (J. Cohen, "A coefficient of agreement for nominal scales",
    Educational and Psychological Measurement 20(1), 1960), applied to every count: a predictor that
    draws its classes at random, in the shares the scored one predicts them, without looking at its
    input, gets these counts in expectation (and, over many positions, about their macro-F1). Its macro-F1 (`macro_f1_from_counts` of them) is what a model
    that ignores its input scores with that mix of classes: 1/6 for one class on balanced labels, but
    about 1/3 for uniform random guesses, far above the train majority's constant guess.
    """
    counts = np.asarray(counts, dtype=np.float64)
    actual = counts.sum(axis=-1, keepdims=True)
    predicted = counts.sum(axis=-2, keepdims=True)
    total = counts.sum(axis=(-2, -1), keepdims=True)
    return actual * predicted / np.maximum(total, 1.0)


def chance_macro_f1(labels: np.ndarray, predictions: np.ndarray) -> float:
    """The ranking score `predictions` would get by chance: `macro_f1_from_counts` of `chance_counts`."""
    return float(macro_f1_from_counts(chance_counts(confusion_counts(labels, predictions))))


def cell_macro_f1(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """(H, T) float64: the three-class macro-F1 of each (step, target) cell; NaN where no valid position."""
    return cell_macro_f1_from_counts(confusion_counts(labels, predictions))


def scores(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """The scores of one predictor on masked (n, H, T) labels.

    - `macro_f1`: mean over (step, target) cells of the cell's three-class macro-F1 (the ranking score,
      see the module docstring); `precision_macro`, `recall_macro`: averaged the same way;
    - `macro_f1_pooled`: the notebook's three-class macro-F1 over every pooled position;
    - `accuracy`: over every valid position.

    `labels` (n, H, T) with MASK_VALUE where missing; `predictions` the same shape, class ids. F1,
    precision and recall use zero_division=0; with no valid position at all every score is 0.0.
    Raises ValueError when the shapes differ or are not (n, H, T).
    """
    counts = confusion_counts(labels, predictions)
    total = counts.sum()
    if total == 0:
        return {
            key: 0.0 for key in ("macro_f1", "macro_f1_pooled", "accuracy", "precision_macro", "recall_macro")
        }
    precision, recall, _ = _per_class(counts)
    filled = counts.sum(axis=(-2, -1)) > 0  # (H, T)
    _, _, pooled_f1 = _per_class(counts.sum(axis=(0, 1)))
    return {
        "macro_f1": float(macro_f1_from_counts(counts)),
        "macro_f1_pooled": float(pooled_f1.mean()),
        "accuracy": float(np.trace(counts.sum(axis=(0, 1))) / total),
        "precision_macro": float(precision.mean(axis=-1)[filled].mean()),
        "recall_macro": float(recall.mean(axis=-1)[filled].mean()),
    }


def per_class_f1(labels: np.ndarray, predictions: np.ndarray) -> list[float]:
    """F1 of each class (down, flat, up) over every pooled unmasked position."""
    _, _, f1 = _per_class(confusion_counts(labels, predictions).sum(axis=(0, 1)))
    return [float(v) for v in f1]


def confusion(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """(3, 3) counts over every cell, rows = true class, columns = predicted class, masked positions skipped."""
    return confusion_counts(labels, predictions).sum(axis=(0, 1))


def scores_by_step(
    labels: np.ndarray, predictions: np.ndarray, target_names: tuple[str, ...] | list[str]
) -> list[dict[str, Any]]:
    """One row per (target, horizon step): that cell's scores and per-class F1 (one cell, so pooled = per cell)."""
    rows: list[dict[str, Any]] = []
    for t, target in enumerate(target_names):
        for h in range(labels.shape[1]):
            cell_labels, cell_predictions = (
                labels[:, h : h + 1, t : t + 1],
                predictions[:, h : h + 1, t : t + 1],
            )
            row: dict[str, Any] = {"target": target, "step": h + 1}
            row.update(scores(cell_labels, cell_predictions))
            row["f1_per_class"] = per_class_f1(cell_labels, cell_predictions)
            rows.append(row)
    return rows


def validation_report(labels: np.ndarray, probs: np.ndarray, prefix: str = "val_") -> dict[str, float]:
    """The per-epoch metric dict: val_macro_f1, val_macro_f1_pooled, val_accuracy, val_precision_macro,
    val_recall_macro, from (n, H, T) labels and (n, H, T, 3) probabilities."""
    return {prefix + key: value for key, value in scores(labels, predicted_classes(probs)).items()}


def masked_mse(moves: np.ndarray, predicted: np.ndarray) -> float:
    """Mean squared error over unmasked positions (the GRU's regression objective); 0.0 when none is valid."""
    valid = moves != MASK_VALUE
    if not valid.any():
        return 0.0
    return float(np.mean((moves[valid] - predicted[valid]) ** 2))
