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
    """
    prep = bundle.preprocessing
    columns = [prep.raw_columns.index(t) for t in bundle.target_names]
    ends = bundle.splits[split].ends.astype(np.int64)
    previous = np.maximum(ends - 1, 0)
    last = bundle.scaled_rows(ends)[
        :, columns
    ]  # (n, T), scaled like the labelled moves (a fold's own scaling)
    before = bundle.scaled_rows(previous)[:, columns]
    same_symbol = (ends > 0) & (bundle.row_symbol[previous] == bundle.row_symbol[ends])
    observed = (last != MASK_VALUE) & (before != MASK_VALUE) & same_symbol[:, None]  # (n, T)
    step = np.where(observed, last.astype(np.float64) - before, 0.0)
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


def baseline_predictions(bundle: DatasetBundle, split: str) -> dict[str, np.ndarray]:
    """{"majority": (n, H, T), "persistence": (n, H, T)} class ids on the windows of `split`."""
    return {
        "majority": majority_predictions(bundle, split),
        "persistence": persistence_predictions(bundle, split),
    }
