"""`dataset.split` by dates, and the realized share of rows per split (with its warning) for fractions.

Builds read a tiny SQLite file the test writes (`tiny_prices`), in this process (`in_process=True`).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tiny_prices import START, price_frame, write_db

from seqsweep.data import DatasetSpec, build_dataset
from seqsweep.data.spec import SplitSpec
from seqsweep.data.summary import render_text
from seqsweep.data.windows import EMBARGO, TEST, TRAIN, VALID, assign_splits
from seqsweep.errors import ConfigError, DataError

VALID_START, TEST_START = "2024-01-07 00:00:00", "2024-01-09 12:00:00"
LATE = START + pd.Timedelta(hours=180)
"""CCCUSDT starts here, 180 of 240 hours late: fractions of the shared period put ~90 % of rows in train."""


def _spec(symbols: tuple[str, ...] = ("AAAUSDT", "BBBUSDT"), **changes: Any) -> DatasetSpec:
    base = DatasetSpec(
        join="prices", symbols=symbols, targets=("close",), lookback=4, horizon=2, pca_components=1
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    frames = [
        price_frame("AAAUSDT", seed=1),
        price_frame("BBBUSDT", seed=2),
        price_frame("CCCUSDT", seed=3, start=LATE, hours=60),
    ]
    return write_db(tmp_path_factory.mktemp("dates"), frames)


def test_boundaries_are_the_given_dates(url: str, tmp_path: Path) -> None:
    split = SplitSpec(valid_start=VALID_START, test_start=TEST_START)
    bundle = build_dataset(_spec(split=split), db_url=url, cache_dir=tmp_path, in_process=True)
    valid_start, test_start = pd.Timestamp(VALID_START).value, pd.Timestamp(TEST_START).value
    assert bundle.boundaries == (valid_start, test_start)
    codes = assign_splits(bundle.row_time, bundle.boundaries)
    assert (bundle.row_time[codes == TRAIN] < valid_start).all()
    assert (
        bundle.row_time[codes == VALID].min() == valid_start
        and bundle.row_time[codes == TEST].min() == test_start
    )
    for name, (lo, hi) in {
        "train": (0, valid_start),
        "valid": (valid_start, test_start),
        "test": (test_start, None),
    }.items():
        ends = bundle.splits[name].ends.astype(np.int64)
        first, last = bundle.row_time[ends - 3], bundle.row_time[ends + 2]  # window rows e-L+1 … e+H
        assert (first >= lo).all() and (hi is None or (last < hi).all()), name
    summary = bundle.summary()
    assert summary["valid_starts"] == VALID_START and summary["test_starts"] == TEST_START
    assert summary["split"]["by"] == "dates" and summary["split"]["warning"] is None
    rows = np.array([summary["rows_per_split"][n] for n in ("train", "valid", "test")])
    assert summary["split"]["realized"] == pytest.approx(
        dict(zip(("train", "valid", "test"), rows / rows.sum(), strict=True)), abs=1e-4
    )
    assert "split: by dates" in render_text(summary)
    fractions = build_dataset(_spec(), db_url=url, cache_dir=tmp_path, in_process=True)
    assert fractions.cache_key != bundle.cache_key


def test_an_off_grid_date_is_rounded_up_to_the_grid(url: str, tmp_path: Path) -> None:
    split = SplitSpec(valid_start="2024-01-07 00:20:00", test_start=TEST_START)
    bundle = build_dataset(_spec(split=split), db_url=url, cache_dir=tmp_path, in_process=True)
    assert bundle.boundaries[0] == pd.Timestamp("2024-01-07 01:00:00").value


@pytest.mark.parametrize(
    ("split", "match"),
    [
        ({"train": 0.6, "valid_start": VALID_START, "test_start": TEST_START}, r"give fractions \(train, valid\) or dates"),
        ({"valid_start": VALID_START}, r"a split by dates needs both valid_start and test_start"),
        ({"valid_start": TEST_START, "test_start": VALID_START}, r"valid_start must be before test_start"),
        ({"valid_start": VALID_START, "test_start": VALID_START}, r"valid_start must be before test_start"),
        ({"valid_start": "June", "test_start": TEST_START}, r"dataset\.split\.valid_start: not a date or datetime: 'June'"),
    ],
)  # fmt: skip
def test_contradictory_or_unreadable_dates_are_config_errors(split: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        DatasetSpec.from_dict({"join": "prices", "split": split})
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("valid_start", "test_start", "match"),
    [
        ("2023-12-01", TEST_START, r"dataset\.split\.valid_start: 2023-12-01 is outside the data \(the rows run from "
         r"2024-01-01 00:00:00 to 2024-01-10 23:00:00\)"),
        (VALID_START, "2024-02-01", r"dataset\.split\.test_start: 2024-02-01 is outside the data"),
        ("2024-01-01 00:00:00", TEST_START, r"valid_start: 2024-01-01 00:00:00 is outside the data"),
    ],
)  # fmt: skip
def test_dates_outside_the_data_are_one_data_line(
    url: str, tmp_path: Path, valid_start: str, test_start: str, match: str
) -> None:
    spec = _spec(split=SplitSpec(valid_start=valid_start, test_start=test_start))
    with pytest.raises(DataError, match=match) as info:
        build_dataset(spec, db_url=url, cache_dir=tmp_path, in_process=True)
    assert "\n" not in str(info.value)


def test_a_late_symbol_skews_the_fractions_and_the_summary_warns(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="seqsweep")
    bundle = build_dataset(
        _spec(("AAAUSDT", "BBBUSDT", "CCCUSDT")), db_url=url, cache_dir=tmp_path, in_process=True
    )
    summary = bundle.summary()
    codes = assign_splits(bundle.row_time, bundle.boundaries)
    assert not (codes == EMBARGO).any()
    counts = np.array([(codes == c).sum() for c in (TRAIN, VALID, TEST)])
    realized = summary["split"]["realized"]
    assert [realized[n] for n in ("train", "valid", "test")] == pytest.approx(counts / counts.sum(), abs=1e-4)
    assert realized["train"] > 0.85  # 70 % asked
    assert summary["split"]["asked"] == {"train": 0.7, "valid": 0.15, "test": 0.15}
    warning = summary["split"]["warning"]
    assert warning and "CCCUSDT starts at 2024-01-08 12:00:00" in warning and "valid_start" in warning
    assert "AAAUSDT" not in warning  # the others end one hour apart at most: not named
    assert any(warning in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    text = render_text(summary)
    assert "split: by fractions; asked (train / valid / test) 70% / 15% / 15%, built" in text
    assert f"warning: {warning}" in text


def test_aligned_symbols_get_the_asked_shares_without_a_warning(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="seqsweep")
    summary = build_dataset(_spec(), db_url=url, cache_dir=tmp_path, in_process=True).summary()
    assert summary["split"]["warning"] is None and "warning:" not in render_text(summary)
    assert summary["split"]["realized"] == pytest.approx(
        {"train": 0.7, "valid": 0.15, "test": 0.15}, abs=0.01
    )
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize(
    ("offset", "step", "valid_start"),
    [
        ("23h", "1D", "2024-01-06T00:00:00+01:00"),  # daily bars at local midnight, 23:00 UTC
        ("30min", "1h", "2024-01-01 06:30"),  # hourly candles at :30
    ],
)
def test_a_row_exactly_at_valid_start_is_in_validation_whatever_the_grids_offset(
    offset: str, step: str, valid_start: str
) -> None:
    """The boundary was rounded up to multiples of the step counted from 1970: the row at `valid_start`
    (23:00 UTC, or :30) went to train, and validation started a step late."""
    from seqsweep.data.spec import naive_utc
    from seqsweep.data.windows import split_boundaries

    start = pd.Timestamp("2024-01-01") + pd.Timedelta(offset)
    first = np.array([start.value], dtype=np.int64)
    last = np.array([(start + 20 * pd.Timedelta(step)).value], dtype=np.int64)
    split = SplitSpec(valid_start=valid_start, test_start=str(start + 15 * pd.Timedelta(step)))
    boundaries = split_boundaries(first, last, split, pd.Timedelta(step), ("AAAUSDT",))
    assert boundaries[0] == naive_utc(valid_start, "valid_start").value  # the row there opens validation


def test_a_split_without_windows_names_the_symbol_whose_short_range_cut_it(tmp_path: Path) -> None:
    """AAAUSDT's 300 hours beside BBBUSDT's 40: the fractions cut the 39 hours both share, the valid
    split got 6 rows, and the line said only "the valid split has no windows", naming no symbol."""
    url = write_db(
        tmp_path / "db", [price_frame("AAAUSDT", 1, hours=300), price_frame("BBBUSDT", 2, hours=40)]
    )
    spec = _spec(lookback=8, horizon=2)
    with pytest.raises(DataError) as info:
        build_dataset(spec, db_url=url, cache_dir=tmp_path, in_process=True)
    line = str(info.value)
    assert line.startswith("dataset.split: the valid split has no windows of lookback + horizon = 10 steps")
    assert "BBBUSDT's short range sets (BBBUSDT: 40 rows, 2024-01-01 00:00:00 to 2024-01-02 15:00:00)" in line
    assert "drop BBBUSDT from dataset.symbols" in line and "AAAUSDT" not in line and "\n" not in line
    # the fix it names builds
    bundle = build_dataset(
        _spec(("AAAUSDT",), lookback=8, horizon=2), db_url=url, cache_dir=tmp_path, in_process=True
    )
    assert len(bundle.splits["valid"].ends) > 0
