"""Rows of two joined tables that belong to one grid time but whose dates differ a little (a price stamped
a few milliseconds or seconds off the hour, a yield at :59:59): the join on date matches equal times
only, so the yield was left missing (masked) in those rows, or the notebook's inner join dropped them,
without a word. Such dates are refused, naming the table, how many dates and an example; a real gap in
one table (a missing hour) is no such date and still builds. Each test writes its own tiny tables.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql

from seqsweep.data import build_dataset
from seqsweep.data.sources import plan_source
from seqsweep.data.spec import DatasetSpec
from seqsweep.data.summary import render_text, sparse_inputs
from seqsweep.data.symbol_rows import load_symbol_rows
from seqsweep.data.tables import RATE_COLUMNS
from seqsweep.errors import DataError
from tests.data.tiny_prices import price_frame

BACKENDS = ["sqlite", "mariadb", "postgresql"]
HOURS = 48
YIELD = 4.4e-6


def _rates(dates: pd.Series) -> pd.DataFrame:
    values = {column: np.linspace(0.01, 0.02, len(dates)) for column in RATE_COLUMNS}
    return pd.DataFrame({"date": dates, "crypto_symbol": "AAAUSDT", **values})


def _write(
    url: str,
    tables: dict[str, pd.DataFrame],
    dtypes: dict[str, dict[str, object]] | None = None,
    *,
    replace: bool = False,
) -> None:
    engine = sa.create_engine(url)
    try:
        for name, frame in tables.items():
            frame.to_sql(
                name,
                engine,
                index=False,
                dtype=(dtypes or {}).get(name),  # type: ignore[arg-type]
                if_exists="replace" if replace else "fail",
            )
    finally:
        engine.dispose()


def _rows(url: str, join: str) -> pd.DataFrame:
    spec = DatasetSpec(join=join, symbols=("AAAUSDT",), lookback=2, horizon=1)
    return load_symbol_rows(plan_source(spec, url), "AAAUSDT")


def _shifted(dates: pd.Series, rows: slice, by: str) -> pd.Series:
    out = dates.copy()
    out.iloc[rows] = out.iloc[rows] + pd.Timedelta(by)
    return out


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
@pytest.mark.parametrize(
    ("price_shift", "yield_shift", "example"),
    [
        ("2s", "0s", r"crypto_price 2024-01-01 00:00:02 beside US_Bond_Yield 2024-01-01 00:00:00\)"),
        ("0s", "-1s", r"crypto_price 2024-01-01 00:00:00 beside US_Bond_Yield 2023-12-31 23:59:59\)"),
    ],
    ids=["prices two seconds late", "yield at :59:59"],
)
def test_prices_and_yield_a_little_apart_are_refused_not_left_without_the_yield(
    database: str, price_shift: str, yield_shift: str, example: str
) -> None:
    """30 of 48 hours a little apart: the build exited 0 with the yield masked in those 30 hours."""
    prices = price_frame("AAAUSDT", 1, hours=HOURS)
    hours = prices["date"]
    prices = prices.assign(date=_shifted(hours, slice(0, 30), price_shift))
    bond = pd.DataFrame({"date": _shifted(hours, slice(0, 30), yield_shift), "yield": YIELD})
    _write(database, {"crypto_price": prices, "US_Bond_Yield": bond})
    with pytest.raises(
        DataError,
        match=rf"^table 'US_Bond_Yield': 30 dates of crypto_price have no equal date there .*{example}",
    ):
        _rows(database, "prices")


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_rates_a_second_off_the_prices_are_refused_not_dropped_by_the_notebook_join(database: str) -> None:
    """The notebook's inner join of rates and prices kept only the hours whose dates were equal: 20 of
    48 rates a second late left 28 rows, and the build said nothing."""
    prices = price_frame("AAAUSDT", 2, hours=HOURS)
    rates = _rates(_shifted(prices["date"], slice(10, 30), "1s"))
    bond = pd.DataFrame({"date": prices["date"], "yield": YIELD})
    _write(database, {"crypto_price": prices, "crypto_lending_borrowing": rates, "US_Bond_Yield": bond})
    with pytest.raises(
        DataError,
        match=r"^table 'crypto_price': 20 dates of crypto_lending_borrowing \(AAAUSDT\) have no equal date "
        r"there but one less than 1h away \(crypto_lending_borrowing 2024-01-01 10:00:01 beside crypto_price "
        r"2024-01-01 10:00:00\)",
    ):
        _rows(database, "notebook")


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_a_gap_in_the_yield_is_no_misalignment_and_still_builds(database: str) -> None:
    """Hours the yield table lacks (no row near them either) are missing values, as before: no refusal."""
    prices = price_frame("AAAUSDT", 3, hours=HOURS)
    bond = pd.DataFrame({"date": prices["date"], "yield": YIELD}).drop(index=range(20, 25))
    _write(database, {"crypto_price": prices, "US_Bond_Yield": bond})
    got = _rows(database, "prices")
    assert len(got) == HOURS
    assert got["yield"].isna().sum() == 5


@pytest.mark.parametrize("database", ["mariadb"], indirect=True)
def test_mariadb_datetime6_milliseconds_beside_a_datetime_yield_are_refused(database: str) -> None:
    """Prices in DATETIME(6) a few milliseconds past the hour, the yield in DATETIME: MariaDB compares
    them with the fraction, so no hour met its yield."""
    prices = price_frame("AAAUSDT", 4, hours=HOURS)
    hours = prices["date"]
    prices = prices.assign(date=_shifted(hours, slice(0, HOURS), "3ms"))
    bond = pd.DataFrame({"date": hours, "yield": YIELD})
    _write(
        database,
        {"crypto_price": prices, "US_Bond_Yield": bond},
        {"crypto_price": {"date": mysql.DATETIME(fsp=6)}, "US_Bond_Yield": {"date": mysql.DATETIME()}},
    )
    with pytest.raises(DataError, match=r"^table 'US_Bond_Yield': 48 dates .*00:00:00.003000 beside"):
        _rows(database, "prices")


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_postgresql_timestamptz_prices_meet_a_timestamp_yield(database: str) -> None:
    """timestamptz beside timestamp without time zone: the session runs in UTC, so every hour meets."""
    prices = price_frame("AAAUSDT", 5, hours=HOURS)
    prices = prices.assign(date=prices["date"].dt.tz_localize("UTC"))
    bond = pd.DataFrame({"date": price_frame("AAAUSDT", 5, hours=HOURS)["date"], "yield": YIELD})
    _write(
        database,
        {"crypto_price": prices, "US_Bond_Yield": bond},
        {"crypto_price": {"date": postgresql.TIMESTAMP(timezone=True)}},
    )
    got = _rows(database, "prices")
    assert len(got) == HOURS
    assert got["yield"].notna().all()


def test_an_input_masked_in_most_observed_rows_is_warned_about_in_the_summary(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A yield table that ends early (40 of 100 hours): no misalignment to refuse, but the build said
    nothing of an input masked in 60 % of the rows; the summary and the log now name it."""
    url = f"sqlite:///{tmp_path / 'sparse.db'}"
    prices = price_frame("AAAUSDT", 6, hours=100)
    bond = pd.DataFrame({"date": prices["date"].iloc[:40], "yield": YIELD})
    _write(url, {"crypto_price": prices, "US_Bond_Yield": bond})
    spec = DatasetSpec(join="prices", symbols=("AAAUSDT",), lookback=2, horizon=1, pca_components=1)
    with caplog.at_level(logging.WARNING, logger="seqsweep.data.summary"):
        bundle = build_dataset(spec, db_url=url, use_cache=False, in_process=True)
    assert sparse_inputs(bundle) == {"yield": 0.6}
    assert bundle.summary()["sparse_inputs"] == {"yield": 0.6}
    line = "warning: inputs masked in most rows that hold other values: 'yield' in 60%"
    assert line in render_text(bundle.summary())
    assert any("'yield' in 60%" in record.getMessage() for record in caplog.records)
    whole = pd.DataFrame({"date": prices["date"], "yield": YIELD})
    _write(url, {"US_Bond_Yield": whole}, replace=True)
    assert sparse_inputs(build_dataset(spec, db_url=url, use_cache=False, in_process=True)) == {}


@pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)
def test_a_yield_that_turns_daily_after_its_first_weeks_is_refused(database: str) -> None:
    """Hourly for 25 days, then one row a day for 300 (a daily series appended later): the spacing was
    read from the earliest 500 dates only, so the build kept the yield at midnight only in 92 % of the
    hours, and said nothing."""
    prices = price_frame("AAAUSDT", 7, hours=24 * 325)
    hourly = prices["date"].iloc[: 24 * 25]
    daily = pd.date_range(prices["date"].iloc[24 * 25], prices["date"].iloc[-1], freq="1D").to_series()
    bond = pd.DataFrame({"date": pd.concat([hourly, daily], ignore_index=True), "yield": YIELD})
    _write(database, {"crypto_price": prices, "US_Bond_Yield": bond})
    with pytest.raises(
        DataError,
        match=r"^table 'US_Bond_Yield' has a row every 1 days .* and 'crypto_price' every 0 days 01",
    ):
        _rows(database, "prices")
