"""The two reference predictors every score is read against: train majority and persistence.

Both read only what the dataset bundle already holds (no model, no rebuild), so a trial can score
persistence on its validation windows every epoch (`val_skill`), and the report can score both on
validation and test on exactly the windows the models saw.

- majority: per target and horizon step, the most frequent class among the train split's labels;
- persistence: the last observed one-step move m of the target repeats, so the move h steps ahead is
  h·m, classified with the train-fitted label thresholds of step h (flat when m is not observed).
"""

from __future__ import annotations

import numpy as np

from seqsweep.constants import MASK_VALUE, N_CLASSES
from seqsweep.data.bundle import DatasetBundle

FLAT = 1
DESCRIPTIONS = {
    "majority": "the train split's most frequent class, per target and horizon step",
    "persistence": (
        "the last observed one-step move m repeats: the move h steps ahead is h·m, classified with the "
        "train-fitted thresholds of step h (flat when m is unobserved)"
    ),
}
"""One line per baseline, as the report prints it."""


def majority_predictions(bundle: DatasetBundle, split: str) -> np.ndarray:
    """(n_split, H, T) int8: the train split's most frequent class per step and target (ties: lower id)."""
    train = bundle.splits["train"].labels  # (n, H, T)
    counts = np.stack([(train == c).sum(axis=0) for c in range(N_CLASSES)], axis=-1)  # (H, T, 3)
    majority = counts.argmax(axis=-1).astype(np.int8)  # (H, T)
    n = len(bundle.splits[split])
    return np.broadcast_to(majority, (n, *majority.shape)).copy()


def persistence_moves(bundle: DatasetBundle, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Persistence's forecast of the scaled moves of `split`'s windows.

    Returns `moves` (n, H, T) float32, h·m for step h where m is the last observed one-step move of each
    target (in the scaled units of the labelled moves; 0 where m is unobserved), and `observed` (n, T)
    bool, whether m was observed.

    m comes from the target's level: read from the feature matrix when the target is an input at its
    level (`dataset.transform` leaves it alone), else from the labelled first-step move of the window
    that ends one row earlier (the same move, stored in the same units), unobserved where that window is
    not in the split (the first window of each symbol's run). The transformed input column is never
    read as a level.
    """
    prep = bundle.preprocessing
    transformed = set(prep.extra.get("transforms", {}))
    ends = bundle.splits[split].ends.astype(np.int64)
    previous = np.maximum(ends - 1, 0)
    same_symbol = (ends > 0) & (bundle.row_symbol[previous] == bundle.row_symbol[ends])
    n_targets = len(bundle.target_names)
    step = np.zeros((len(ends), n_targets), dtype=np.float64)
    observed = np.zeros((len(ends), n_targets), dtype=bool)
    level = [t for t, name in enumerate(bundle.target_names) if name not in transformed]
    if level:
        columns = [prep.raw_columns.index(bundle.target_names[t]) for t in level]
        last = bundle.scaled_rows(ends)[:, columns]  # (n, T_level), scaled like the labelled moves
        before = bundle.scaled_rows(previous)[:, columns]
        seen = (last != MASK_VALUE) & (before != MASK_VALUE) & same_symbol[:, None]
        observed[:, level] = seen
        step[:, level] = np.where(seen, last.astype(np.float64) - before, 0.0)
    moved = [t for t in range(n_targets) if t not in level]
    if moved:
        first_moves = bundle.splits[split].moves[
            :, 0, :
        ]  # (n, T): window i's move from its end to the next row
        earlier = np.r_[-1, np.arange(len(ends) - 1)]  # window i − 1 in the split
        adjacent = (earlier >= 0) & (ends[np.maximum(earlier, 0)] == ends - 1) & same_symbol
        for t in moved:
            m = first_moves[np.maximum(earlier, 0), t]
            seen_t = adjacent & (m != MASK_VALUE)
            observed[:, t] = seen_t
            step[:, t] = np.where(seen_t, m, 0.0)
    steps_ahead = np.arange(1, bundle.spec.horizon + 1, dtype=np.float64)
    moves = (steps_ahead[None, :, None] * step[:, None, :]).astype(np.float32)  # (n, H, T)
    return moves, observed


def persistence_predictions(bundle: DatasetBundle, split: str) -> np.ndarray:
    """(n_split, H, T) int8: the class of h·m, m the last observed one-step move of each target."""
    from seqsweep.data.windows import label_moves

    moves, observed = persistence_moves(bundle, split)
    predictions = label_moves(moves, bundle.preprocessing.thresholds)
    predictions[np.broadcast_to(~observed[:, None, :], predictions.shape)] = FLAT
    return predictions


def persistence_valid_f1(bundle: DatasetBundle) -> float:
    """Persistence's macro_f1 (mean per-cell macro-F1) on `bundle`'s validation windows: what a trial's
    `val_skill` is measured against, fold by fold (`bundle.fold(f)`) under walk-forward folds."""
    from seqsweep.metrics import scores

    return float(scores(bundle.splits["valid"].labels, persistence_predictions(bundle, "valid"))["macro_f1"])


def baseline_predictions(bundle: DatasetBundle, split: str) -> dict[str, np.ndarray]:
    """{"majority": (n, H, T), "persistence": (n, H, T)} class ids on the windows of `split`."""
    return {
        "majority": majority_predictions(bundle, split),
        "persistence": persistence_predictions(bundle, split),
    }
