"""The two reference predictors on a tiny synthetic bundle, checked against loops written out by hand."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest

from seqsweep.baselines import (
    FLAT,
    baseline_predictions,
    majority_predictions,
    persistence_predictions,
)
from seqsweep.constants import MASK_VALUE
from seqsweep.data.bundle import DatasetBundle
from seqsweep.testing import make_bundle

SPLITS = ("train", "valid", "test")


@pytest.fixture(scope="module")
def bundle() -> DatasetBundle:
    """240 hourly rows, 3 steps ahead, 2 targets; a second symbol starts at row 220 (in the test split)."""
    base = make_bundle(n_rows=240, horizon=3, n_targets=2, input_mask_rate=0.1, seed=3)
    row_symbol = base.row_symbol.copy()
    row_symbol[220:] = 1
    return dataclasses.replace(base, row_symbol=row_symbol, symbols=("SYNUSDT", "TWOUSDT"))


def _expected_majority(bundle: DatasetBundle) -> np.ndarray:
    train = bundle.splits["train"].labels
    _, horizon, targets = train.shape
    out = np.zeros((horizon, targets), np.int8)
    for h in range(horizon):
        for t in range(targets):
            counts = Counter(int(v) for v in train[:, h, t] if v != MASK_VALUE)
            best = max(counts.values())
            out[h, t] = min(c for c, n in counts.items() if n == best)  # ties: the lower class id
    return out


@pytest.mark.parametrize("split", SPLITS)
def test_majority_is_the_most_frequent_train_class_per_cell(bundle: DatasetBundle, split: str) -> None:
    predictions = majority_predictions(bundle, split)
    assert predictions.shape == bundle.splits[split].labels.shape
    assert predictions.dtype == np.int8
    np.testing.assert_array_equal(predictions, np.broadcast_to(_expected_majority(bundle), predictions.shape))


def _expected_persistence(bundle: DatasetBundle, split: str) -> np.ndarray:
    ends = bundle.splits[split].ends
    low, high = -0.43, 0.43
    columns = [bundle.preprocessing.raw_columns.index(t) for t in bundle.target_names]
    out = np.full((len(ends), bundle.spec.horizon, len(columns)), FLAT, np.int8)
    for i, end in enumerate(ends):
        for t, column in enumerate(columns):
            last, before = bundle.features[end, column], bundle.features[end - 1, column]
            if MASK_VALUE in (last, before) or bundle.row_symbol[end] != bundle.row_symbol[end - 1]:
                continue  # m unobserved: flat
            m = float(last) - float(before)
            for h in range(1, bundle.spec.horizon + 1):
                move = np.float32(h * m)
                out[i, h - 1, t] = 0 if move < low else 2 if move > high else 1
    return out


@pytest.mark.parametrize("split", SPLITS)
def test_persistence_is_the_class_of_h_times_the_last_move(bundle: DatasetBundle, split: str) -> None:
    np.testing.assert_array_equal(
        persistence_predictions(bundle, split), _expected_persistence(bundle, split)
    )


def test_persistence_never_takes_a_move_across_symbols(bundle: DatasetBundle) -> None:
    ends = bundle.splits["test"].ends
    first_of_second_symbol = int(np.flatnonzero(ends == 220)[0])
    assert (persistence_predictions(bundle, "test")[first_of_second_symbol] == FLAT).all()


def test_persistence_is_not_trivially_flat(bundle: DatasetBundle) -> None:
    predictions = persistence_predictions(bundle, "train")
    assert set(np.unique(predictions)) == {0, 1, 2}


def test_baseline_predictions_holds_both(bundle: DatasetBundle) -> None:
    both = baseline_predictions(bundle, "valid")
    assert set(both) == {"majority", "persistence"}
    np.testing.assert_array_equal(both["persistence"], persistence_predictions(bundle, "valid"))
