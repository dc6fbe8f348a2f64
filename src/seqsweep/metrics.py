"""Classification scores of masked (n, H, T) labels, the one place every score is computed.

Trainables, the results report and the exported bundle all call these functions, so a validation
score during the search and a test score in the report mean the same thing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

from seqsweep.constants import MASK_VALUE, N_CLASSES

_CLASSES = list(range(N_CLASSES))


def predicted_classes(probs: np.ndarray) -> np.ndarray:
    """(…, 3) class probabilities → (…) int8 argmax."""
    return np.argmax(probs, axis=-1).astype(np.int8)


def _flatten_valid(labels: np.ndarray, predictions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    valid = labels != MASK_VALUE
    return labels[valid].astype(np.int64), predictions[valid].astype(np.int64)


def scores(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """Macro scores over every unmasked (window, step, target) position.

    `labels` (n, H, T) with MASK_VALUE where missing; `predictions` the same shape, class ids.
    Precision/recall/F1 are macro over the three classes with zero_division=0; with no valid
    position at all every score is 0.0.
    """
    y_true, y_pred = _flatten_valid(labels, predictions)
    if y_true.size == 0:
        return {"macro_f1": 0.0, "accuracy": 0.0, "precision_macro": 0.0, "recall_macro": 0.0}
    common = {"labels": _CLASSES, "average": "macro", "zero_division": 0}
    return {
        "macro_f1": float(f1_score(y_true, y_pred, **common)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision_macro": float(precision_score(y_true, y_pred, **common)),
        "recall_macro": float(recall_score(y_true, y_pred, **common)),
    }


def per_class_f1(labels: np.ndarray, predictions: np.ndarray) -> list[float]:
    """F1 of each class (down, flat, up) over the unmasked positions."""
    y_true, y_pred = _flatten_valid(labels, predictions)
    if y_true.size == 0:
        return [0.0] * N_CLASSES
    values = f1_score(y_true, y_pred, labels=_CLASSES, average=None, zero_division=0)
    return [float(v) for v in values]


def confusion(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """(3, 3) counts, rows = true class, columns = predicted class, masked positions skipped."""
    y_true, y_pred = _flatten_valid(labels, predictions)
    return confusion_matrix(y_true, y_pred, labels=_CLASSES)


def scores_by_step(
    labels: np.ndarray, predictions: np.ndarray, target_names: tuple[str, ...] | list[str]
) -> list[dict[str, Any]]:
    """One row per (target, horizon step): the macro scores and per-class F1 of that position."""
    rows: list[dict[str, Any]] = []
    for t, target in enumerate(target_names):
        for h in range(labels.shape[1]):
            row: dict[str, Any] = {"target": target, "step": h + 1}
            row.update(scores(labels[:, h, t], predictions[:, h, t]))
            row["f1_per_class"] = per_class_f1(labels[:, h, t], predictions[:, h, t])
            rows.append(row)
    return rows


def validation_report(labels: np.ndarray, probs: np.ndarray, prefix: str = "val_") -> dict[str, float]:
    """The per-epoch metric dict: val_macro_f1, val_accuracy, val_precision_macro, val_recall_macro."""
    return {prefix + key: value for key, value in scores(labels, predicted_classes(probs)).items()}


def masked_mse(moves: np.ndarray, predicted: np.ndarray) -> float:
    """Mean squared error over unmasked positions (the GRU's regression objective)."""
    valid = moves != MASK_VALUE
    if not valid.any():
        return 0.0
    return float(np.mean((moves[valid] - predicted[valid]) ** 2))
