"""An observed value is never taken for a gap: MASK_VALUE (-50) marks missing cells only.

A stablecoin quoted 1.0001 / 0.9999 in train (mean 1.0, std 0.0001) that prints 0.995 in test scales
to exactly -50: the build stored that close as a gap, counted it as a masked cell and masked the label
of the 'down' move to it, so the most telling move of the split left the metrics without a word.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tiny_prices import write_db

from seqsweep.constants import MASK_VALUE
from seqsweep.data import DatasetSpec, build_dataset
from seqsweep.data.targets import label_moves, moves_from_levels, rescale_moves
from seqsweep.data.windows import first_differences
from seqsweep.masking import OBSERVED_AT_MASK, mask_missing

HOURS = 400
DEPEG = pd.Timestamp("2024-01-01") + pd.Timedelta(hours=371)
"""The hour the close prints 0.995 (in the test split); the hour before it is exactly 1.0."""


def test_mask_missing_keeps_an_observed_minus_fifty_apart_from_the_gaps() -> None:
    out = mask_missing(np.array([[-50.0, np.nan, 1.5], [-50.000001, 0.0, np.nan]]))
    assert out.dtype == np.float32
    assert out.tolist() == [[OBSERVED_AT_MASK, MASK_VALUE, 1.5], [OBSERVED_AT_MASK, 0.0, MASK_VALUE]]
    assert OBSERVED_AT_MASK != MASK_VALUE and abs(OBSERVED_AT_MASK - MASK_VALUE) < 1e-5
    given = mask_missing(np.array([-50.0, 3.0]), missing=np.array([False, True]))
    assert given.tolist() == [OBSERVED_AT_MASK, MASK_VALUE]


def test_a_move_of_exactly_minus_fifty_is_labelled_not_masked() -> None:
    levels = np.array([[[60.0], [10.0], [np.nan]]])  # (n=1, H+1=3, T=1): a move of -50, then a gap
    moves = moves_from_levels(levels)
    assert moves[0, :, 0].tolist() == [OBSERVED_AT_MASK, MASK_VALUE]
    labels = label_moves(moves, np.array([[[-1.0, 1.0]], [[-1.0, 1.0]]], np.float32))
    assert labels[0, :, 0].tolist() == [0, int(MASK_VALUE)]
    rescaled = rescale_moves(
        np.array([[[-25.0]]], np.float32), np.array([0]), np.array([0]), np.array([[2.0]])
    )
    assert rescaled.tolist() == [[[OBSERVED_AT_MASK]]]
    diffs = first_differences(np.array([[[10.0], [-40.0]]], np.float32))  # -40 - 10 = -50
    assert diffs[0, :, 0].tolist() == [10.0, OBSERVED_AT_MASK]


def _stablecoin() -> pd.DataFrame:
    close = np.where(np.arange(HOURS) % 2 == 0, 1.0001, 0.9999)
    close[370], close[371] = 1.0, 0.995
    return pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=HOURS, freq="1h"),
            "crypto_symbol": "USDCUSDT",
            "close": close,
            "volume": np.random.default_rng(0).uniform(1000, 9000, HOURS).round(1),
        }
    )


def test_a_price_that_scales_to_the_mask_value_stays_observed_in_the_build(tmp_path: Path) -> None:
    url = write_db(tmp_path / "db", [_stablecoin()])
    spec = DatasetSpec(join="prices", symbols=("USDCUSDT",), targets=("close",), lookback=12, horizon=2)
    bundle = build_dataset(spec, db_url=url, cache_dir=tmp_path / "cache", in_process=True)
    close = bundle.feature_names.index("close")
    row = int(np.flatnonzero(bundle.row_time == DEPEG.value)[0])
    scaled = bundle.scaled_rows(np.array([row]))[0]
    assert scaled[close] == pytest.approx(-50.0, abs=1e-4)  # the collision this test is about
    assert (scaled != MASK_VALUE).all()
    test = bundle.splits["test"]
    window = int(np.flatnonzero(bundle.row_time[test.ends] == (DEPEG - pd.Timedelta(hours=1)).value)[0])
    assert test.labels[window, 0, 0] == 0  # 'down', not masked
    assert test.moves[window, 0, 0] == pytest.approx(-50.0, abs=1e-4)
    assert bundle.summary()["gaps"]["per_split"]["test"]["masked_cells"] == 0
