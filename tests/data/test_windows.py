"""Splits, scalers, window index and labels, on arrays built by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seqsweep.constants import MASK_VALUE
from seqsweep.data.spec import LabelSpec, SplitSpec
from seqsweep.data.windows import (
    EMBARGO,
    TEST,
    TRAIN,
    VALID,
    assign_splits,
    first_differences,
    fit_scalers,
    fit_thresholds,
    label_moves,
    short_split_cause,
    split_boundaries,
    target_moves,
    window_ends,
)
from seqsweep.errors import DataError

HOUR = pd.Timedelta("1h")


def test_boundaries_are_fractions_of_the_shared_range_on_the_grid() -> None:
    start = pd.Timestamp("2024-01-01").value
    first = np.array([start, start + 100 * HOUR.value])  # the second symbol starts 100 h later
    last = np.array([start + 1099 * HOUR.value, start + 1099 * HOUR.value])
    valid, test = split_boundaries(first, last, SplitSpec(train=0.5, valid=0.25), HOUR, ("A", "B"))
    assert (valid - first[1]) / HOUR.value == pytest.approx(0.5 * 999, abs=1)
    assert (test - first[1]) / HOUR.value == pytest.approx(0.75 * 999, abs=1)
    assert valid % HOUR.value == 0 and test % HOUR.value == 0
    with pytest.raises(DataError, match="share no period"):
        split_boundaries(first, np.array([first[1] - 1, last[1]]), SplitSpec(), HOUR, ("A", "B"))


def test_split_codes_with_an_embargo_after_each_boundary() -> None:
    times = np.arange(20) * HOUR.value
    codes = assign_splits(times, (10 * HOUR.value, 15 * HOUR.value), gap_ns=2 * HOUR.value)
    assert codes.tolist() == [TRAIN] * 10 + [EMBARGO] * 2 + [VALID] * 3 + [EMBARGO] * 2 + [TEST] * 3


def test_no_window_crosses_a_split_or_a_symbol() -> None:
    rng = np.random.default_rng(1)
    row_symbol = np.repeat(np.arange(3), [60, 45, 70])
    codes = np.concatenate(
        [np.sort(rng.choice([TRAIN, VALID, TEST, EMBARGO], size=n)) for n in (60, 45, 70)]
    ).astype(np.int8)
    lookback, horizon = 5, 2
    ends = window_ends(row_symbol, codes, lookback, horizon)
    for code, name in enumerate(("train", "valid", "test")):
        expected = [
            e
            for e in range(len(codes))
            if e - lookback + 1 >= 0
            and e + horizon < len(codes)
            and (codes[e - lookback + 1 : e + horizon + 1] == code).all()
            and (row_symbol[e - lookback + 1 : e + horizon + 1] == row_symbol[e]).all()
        ]
        assert ends[name].tolist() == expected
        assert len(expected) > 0


def test_moves_and_labels_keep_masks() -> None:
    targets = np.array([[0.0], [1.0], [np.nan], [-1.0], [0.5]])
    moves = target_moves(targets, np.array([0, 1]), horizon=3)  # (2, 3, 1)
    assert moves[0, :, 0].tolist() == [1.0, MASK_VALUE, -1.0]
    assert moves[1, :, 0].tolist() == [MASK_VALUE, -2.0, -0.5]
    thresholds = np.broadcast_to(np.array([-0.6, 0.6], np.float32), (3, 1, 2))
    labels = label_moves(moves, thresholds)
    assert labels.dtype == np.int8
    assert labels[0, :, 0].tolist() == [2, MASK_VALUE, 0]
    assert labels[1, :, 0].tolist() == [MASK_VALUE, 0, 1]
    diffs = first_differences(moves)
    assert diffs[0, :, 0].tolist() == [1.0, MASK_VALUE, MASK_VALUE]


def test_tertile_thresholds_balance_the_train_classes_and_dead_band_is_symmetric() -> None:
    moves = np.random.default_rng(2).normal(size=(3000, 2, 3)).astype(np.float32)
    moves[::7, 0, 0] = MASK_VALUE
    thresholds = fit_thresholds(moves, LabelSpec())
    assert thresholds.shape == (2, 3, 2)
    labels = label_moves(moves, thresholds)
    valid = labels[labels != MASK_VALUE]
    assert np.bincount(valid) / valid.size == pytest.approx([1 / 3] * 3, abs=0.01)
    band = fit_thresholds(moves, LabelSpec(method="dead_band", dead_band=0.25))
    assert band[..., 0].tolist() == [[-0.25] * 3] * 2 and band[..., 1].tolist() == [[0.25] * 3] * 2


def test_scalers_see_train_rows_only() -> None:
    rng = np.random.default_rng(3)
    raw = rng.normal(size=(100, 2))
    raw[5, 1] = np.nan
    row_symbol = np.repeat([0, 1], 50).astype(np.int16)
    codes = np.tile(np.repeat([TRAIN, VALID, TEST], [30, 10, 10]), 2).astype(np.int8)
    mean, std = fit_scalers(raw, row_symbol, codes, ("A", "B"), ("x", "y"))
    assert np.allclose(mean[0], np.nanmean(raw[:30], axis=0))
    assert np.allclose(std[1], np.nanstd(raw[50:80], axis=0))
    changed = raw.copy()
    changed[codes != TRAIN] *= 1000
    again = fit_scalers(changed, row_symbol, codes, ("A", "B"), ("x", "y"))
    assert np.array_equal(again[0], mean) and np.array_equal(again[1], std)
    raw[50:80] = np.nan
    # a symbol listed after valid_start was told to "move dataset.start earlier", a key it had not set
    with pytest.raises(DataError, match=r"symbol B: no rows in the train split .* start validation later"):
        fit_scalers(raw, row_symbol, codes, ("A", "B"), ("x", "y"))


def test_a_column_constant_in_train_but_for_rounding_is_refused_when_it_moves_later() -> None:
    """1.0 in train but for one 1.0000000000000002 (std 2e-17): its valid values 0.1 % away scaled to 4.6e13,
    where an exactly constant column was refused."""
    from seqsweep.data.windows import check_constant_in_train

    train = np.ones(30)
    train[7] = 1.0000000000000002
    values = np.concatenate([train, np.full(10, 1.001)])[:, None]
    codes = np.repeat([TRAIN, VALID], [30, 10]).astype(np.int8)
    symbols = np.zeros(40, dtype=np.int64)
    with pytest.raises(DataError, match=r"column 'peg' is constant \(1\) in the train split but takes other"):
        check_constant_in_train(values, symbols, codes, ("A",), ("peg",))
    _, std = fit_scalers(values, symbols, codes, ("A",), ("peg",))
    assert std[0, 0] == 1.0  # rounding is not a scale
    check_constant_in_train(np.ones((40, 1)), symbols, codes, ("A",), ("peg",))  # constant everywhere: kept


def _cause(first_hours: list[int], last_hours: list[int], need: int) -> str:
    """`short_split_cause` of the valid split for symbols on an hourly grid from/to those hours."""
    symbols = tuple(f"S{i}USDT" for i in range(len(first_hours)))
    first = np.array([h * HOUR.value for h in first_hours], dtype=np.int64)
    last = np.array([h * HOUR.value for h in last_hours], dtype=np.int64)
    times = np.concatenate([np.arange(f, end + 1, HOUR.value) for f, end in zip(first, last, strict=True)])
    row_symbol = np.repeat(
        np.arange(len(symbols)), [end - f + 1 for f, end in zip(first_hours, last_hours, strict=True)]
    )
    codes = assign_splits(times, split_boundaries(first, last, SplitSpec(), HOUR, symbols))
    counts = np.bincount(row_symbol)
    return short_split_cause("valid", codes, row_symbol, first, last, counts, symbols, SplitSpec(), need)


def test_a_short_split_names_only_the_symbols_whose_short_range_is_the_cause() -> None:
    # S1 ends at hour 39 beside S0's 299: dropping it gives the valid split 45 rows, named with its range
    named = _cause([0, 0], [299, 39], need=10)
    assert "(it holds at most 6 rows of a symbol)" in named
    assert (
        "S1USDT's short range sets (S1USDT: 40 rows," in named and "drop S1USDT from dataset.symbols" in named
    )
    assert "S0USDT" not in named
    # S2 starts late as well: both are named
    both = _cause([0, 0, 10], [299, 39, 299], need=10)
    assert "the short ranges of S1USDT, S2USDT set" in both and "drop S1USDT, S2USDT" in both
    # every symbol as short (or one an hour off): no symbol to blame, the rows are too few for all
    for first, last in (([0, 0], [39, 39]), ([0, 1], [39, 39])):
        alike = _cause(first, last, need=10)
        assert "USDT" not in alike and "use more rows per symbol" in alike
    # dropping S1 would still leave too few rows for lookback + horizon = 100: not named
    assert "USDT" not in _cause([0, 0], [299, 39], need=100)
