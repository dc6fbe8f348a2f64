"""`start`/`end` bounds keep the same rows on every database, whichever way a table writes its dates
and whichever way the bound is written.

SQLite compares its date text as text: a bound written `2024-01-03 00:00:00.000000` left out the row
stored as `2024-01-03 00:00:00` (a shorter string sorts first), and a table written with a `T`
lost every row of the end day. The tables here are written by SQL (as a user's own tables are),
not through `load-csv`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from seqsweep.data import DatasetSpec
from seqsweep.data.sources import plan_source
from seqsweep.data.spec import naive_utc
from seqsweep.data.symbol_rows import load_symbol_rows
from seqsweep.errors import DataError
from tests.data.tiny_prices import price_frame, write_db

HOURS = pd.date_range("2024-01-01", periods=120, freq="1h")
SPELLINGS = {
    "seconds": "%Y-%m-%d %H:%M:%S",
    "T-seconds": "%Y-%m-%dT%H:%M:%S",
    "minutes": "%Y-%m-%d %H:%M",
    "milliseconds": "%Y-%m-%d %H:%M:%S.000",
    "microseconds": "%Y-%m-%d %H:%M:%S.%f",
    "T-microseconds": "%Y-%m-%dT%H:%M:%S.%f",
}


def _write(path: Path, spelling: str, hours: pd.DatetimeIndex = HOURS) -> str:
    """`crypto_price` (one symbol) and `US_Bond_Yield`, dates written with `spelling`; the SQLite URL."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE crypto_price (date TEXT, crypto_symbol TEXT, close REAL)")
        conn.execute('CREATE TABLE "US_Bond_Yield" (date TEXT, yield REAL)')
        for i, hour in enumerate(hours):
            text = hour.strftime(spelling)
            conn.execute("INSERT INTO crypto_price VALUES (?, 'AAAUSDT', ?)", (text, 10.0 + i))
            conn.execute('INSERT INTO "US_Bond_Yield" VALUES (?, ?)', (text, 4.0e-6))
    return f"sqlite:///{path}"


def _dates(url: str, **bounds: object) -> list[pd.Timestamp]:
    spec = DatasetSpec(join="prices", symbols=("AAAUSDT",), **bounds)  # type: ignore[arg-type]
    return list(load_symbol_rows(plan_source(spec, url), "AAAUSDT")["date"])


@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_bounds_keep_the_rows_at_both_ends_whatever_the_spelling(spelling: str, tmp_path: Path) -> None:
    url = _write(tmp_path / "p.db", spelling)
    dates = _dates(url, start="2024-01-02 00:00", end="2024-01-03 12:00")
    assert dates[0] == pd.Timestamp("2024-01-02 00:00")
    assert dates[-1] == pd.Timestamp("2024-01-03 12:00")
    assert len(dates) == 37
    latest = _dates(url, end="2024-01-03 12:00", max_rows_per_symbol=30)
    assert latest == list(pd.date_range(end="2024-01-03 12:00", periods=30, freq="1h"))


@pytest.mark.parametrize("spelling", ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"])
def test_a_bound_finer_than_the_stored_dates_keeps_exactly_the_rows_inside(
    spelling: str, tmp_path: Path
) -> None:
    url = _write(tmp_path / "p.db", spelling)
    dates = _dates(url, start="2024-01-02 00:00:00.5", end="2024-01-02 05:59:59.9")
    assert (dates[0], dates[-1], len(dates)) == (
        pd.Timestamp("2024-01-02 01:00"),
        pd.Timestamp("2024-01-02 05:00"),
        5,
    )


def test_daily_dates_take_a_bound_inside_a_day(tmp_path: Path) -> None:
    days = pd.date_range("2024-01-01", periods=30, freq="D")
    url = _write(tmp_path / "d.db", "%Y-%m-%d", days)
    dates = _dates(url, start="2024-01-05 06:00", end="2024-01-10")
    assert (dates[0], dates[-1]) == (pd.Timestamp("2024-01-06"), pd.Timestamp("2024-01-10"))


def test_dates_with_a_time_zone_suffix_refuse_a_bound_naming_the_column(tmp_path: Path) -> None:
    url = _write(tmp_path / "z.db", "%Y-%m-%d %H:%M:%S+00:00")
    with pytest.raises(
        DataError, match=r"crypto_price\.date as text values like '2024-01-01 00:00:00\+00:00'"
    ):
        plan_source(DatasetSpec(join="prices", symbols=("AAAUSDT",), start="2024-01-02"), url)


@pytest.mark.parametrize("database", ["sqlite", "mariadb", "postgresql"], indirect=True)
def test_a_bound_with_an_offset_is_converted_to_utc_on_every_database(database: str, tmp_path: Path) -> None:
    """Stored rows are naive UTC; `+02:00` and `Z` bounds are the same instants on every database."""
    engine = sa.create_engine(database)
    frame = pd.DataFrame({"date": HOURS, "crypto_symbol": "AAAUSDT", "close": range(len(HOURS))})
    frame.astype({"close": float}).to_sql("crypto_price", engine, index=False)
    pd.DataFrame({"date": HOURS, "yield": 4.0e-6}).to_sql("US_Bond_Yield", engine, index=False)
    engine.dispose()
    dates = _dates(database, start="2024-01-02T00:00:00Z", end="2024-01-03 12:00:00+02:00")
    assert (dates[0], dates[-1]) == (pd.Timestamp("2024-01-02 00:00"), pd.Timestamp("2024-01-03 10:00"))
    assert _dates(database, start="2024-01-02 02:00:00+02:00", end="2024-01-03 10:00") == dates


@pytest.mark.parametrize("unit", ["s", "ms"])
@pytest.mark.parametrize("database", ["sqlite", "mariadb", "postgresql"], indirect=True)
def test_epoch_number_dates_take_a_bound_in_their_own_unit_on_every_database(
    database: str, unit: str
) -> None:
    """Epoch numbers in a BIGINT `date`: once SQLite ignored `end`, MariaDB `start` and PostgreSQL raised;
    then every bound was refused, so `validate`'s dry run and `predict --at` refused a table that the
    build read fine. A bound is now compared in the column's own epoch unit."""
    engine = sa.create_engine(database)
    epoch = HOURS.as_unit("ns").astype("int64") // {"s": 10**9, "ms": 10**6}[unit]
    pd.DataFrame({"date": epoch, "crypto_symbol": "AAAUSDT", "close": 1.0}).to_sql(
        "crypto_price", engine, index=False
    )
    pd.DataFrame({"date": epoch, "yield": 4.0e-6}).to_sql("US_Bond_Yield", engine, index=False)
    engine.dispose()
    assert len(_dates(database)) == len(HOURS)  # unbounded, epoch dates are read in their unit
    dates = _dates(database, start="2024-01-02 00:30", end="2024-01-03T12:00:00+02:00")
    assert (dates[0], dates[-1]) == (pd.Timestamp("2024-01-02 01:00"), pd.Timestamp("2024-01-03 10:00"))
    assert _dates(database, max_rows_per_symbol=30, end="2024-01-02") == list(HOURS[18:48])  # all that day


def test_numbers_that_are_no_epoch_refuse_a_bound_naming_the_column(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'n.db'}"
    engine = sa.create_engine(url)
    pd.DataFrame({"date": range(1, 121), "crypto_symbol": "AAAUSDT", "close": 1.0}).to_sql(
        "crypto_price", engine, index=False
    )
    pd.DataFrame({"date": range(1, 121), "yield": 4.0e-6}).to_sql("US_Bond_Yield", engine, index=False)
    engine.dispose()
    with pytest.raises(DataError, match=r"crypto_price\.date holds numbers .* no epoch time"):
        _dates(url, start="2024-01-02")


def test_text_with_one_offset_throughout_gives_the_latest_rows(tmp_path: Path) -> None:
    """Dates all written `+01:00` sort as time: `predict`'s latest rows (and `validate`) were refused."""
    url = _write(tmp_path / "o.db", "%Y-%m-%d %H:%M:%S+01:00")
    assert _dates(url, max_rows_per_symbol=30) == list(HOURS[-30:] - pd.Timedelta("1h"))


def test_day_first_text_refuses_a_bound_and_the_latest_rows(tmp_path: Path) -> None:
    """`15/01/2024 00:00` has an ISO length and separator but sorts by day: `start: 2024-01-15` kept the
    rows from 21 January on (and of 15–20 February), `max_rows_per_symbol` took January's last rows."""
    url = _write(tmp_path / "dm.db", "%d/%m/%Y %H:%M", pd.date_range("2024-01-13", periods=120, freq="1h"))
    with pytest.raises(DataError, match=r"SQLite holds the dates as text like .*not ISO"):
        _dates(url)  # joined as text: the other table may write the month first (test_sql_types)
    with pytest.raises(DataError, match=r"^dataset.start/end: SQLite holds crypto_price\.date as text"):
        _dates(url, start="2024-01-02")
    with pytest.raises(
        DataError, match=r"^dataset.max_rows_per_symbol \(the latest rows\): .* like '\d\d/01/2024 \d\d:00'"
    ):
        _dates(url, max_rows_per_symbol=30)


@pytest.mark.parametrize(
    "spelling",
    ["%Y-%m-%d %I:%M %p", "%Y-%m-%d %H:%M:%S UTC", "%Y-%m-%dT%H:%M:%S GMT"],
    ids=["12-hour", "UTC", "GMT"],
)
def test_text_of_an_iso_length_in_no_iso_layout_refuses_a_bound_and_the_latest_rows(
    spelling: str, tmp_path: Path
) -> None:
    """`2024-01-01 01:00 PM` has the length of `%Y-%m-%d %H:%M:%S` and was taken for it: `start: 2024-01-02
    05:00` kept 12:00 AM and dropped 05:00, the latest rows were 10:00–12:00 and 22:00–23:00;
    `2024-01-02 05:00:00 UTC` was taken for milliseconds and the row at the start was left out. Read
    whole, the rows are parsed right and joined as the same text in both tables."""
    url = _write(tmp_path / "t.db", spelling, HOURS[:48])
    assert _dates(url) == list(HOURS[:48])
    with pytest.raises(DataError, match=r"^dataset.start/end: SQLite holds crypto_price\.date as text"):
        _dates(url, start="2024-01-02 05:00")
    with pytest.raises(DataError, match=r"^dataset.max_rows_per_symbol \(the latest rows\): SQLite holds"):
        _dates(url, max_rows_per_symbol=30)


def test_prices_and_a_yield_on_other_clocks_are_refused_not_left_unjoined(tmp_path: Path) -> None:
    """Prices `13:00:00`, the yield `01:00 PM`: no row joined and the build blamed an all-NULL `yield`."""
    url = _write(tmp_path / "c.db", "%Y-%m-%d %H:%M:%S", HOURS[:48])
    with sqlite3.connect(tmp_path / "c.db") as conn:
        for hour in HOURS[:48]:
            conn.execute(
                'UPDATE "US_Bond_Yield" SET date = ? WHERE date = ?',
                (hour.strftime("%Y-%m-%d %I:%M %p"), hour.strftime("%Y-%m-%d %H:%M:%S")),
            )
    with pytest.raises(DataError, match=r"SQLite holds the dates written two ways"):
        _dates(url)


def test_one_instant_written_with_two_offsets_is_refused_not_left_unjoined(tmp_path: Path) -> None:
    """Prices in UTC (`+00:00`), the yield in London time (`+01:00` from 31 March): SQLite joined them as
    text and masked the yield in every summer hour; PostgreSQL (timestamptz) joins the instants."""
    hours = pd.date_range("2024-03-30", periods=72, freq="1h", tz="UTC")
    with sqlite3.connect(tmp_path / "o.db") as conn:
        conn.execute("CREATE TABLE crypto_price (date TEXT, crypto_symbol TEXT, close REAL)")
        conn.execute('CREATE TABLE "US_Bond_Yield" (date TEXT, yield REAL)')
        for i, hour in enumerate(hours):
            london = hour.tz_convert("Europe/London").isoformat(sep=" ")
            conn.execute(
                "INSERT INTO crypto_price VALUES (?, 'AAAUSDT', ?)", (hour.isoformat(sep=" "), 1.0 + i)
            )
            conn.execute('INSERT INTO "US_Bond_Yield" VALUES (?, ?)', (london, 4.0e-6))
    with pytest.raises(DataError, match=r"SQLite holds the dates written two ways .*\+01:00"):
        _dates(f"sqlite:///{tmp_path / 'o.db'}")


@pytest.mark.parametrize("database", ["mariadb", "postgresql"], indirect=True)
def test_a_text_date_column_on_a_server_is_refused_where_sql_compares_it(database: str) -> None:
    """A VARCHAR `date` (`2024-01-20T00:00:00`): MariaDB compared it as text (the end row fell outside
    `end: 2024-01-20`), PostgreSQL raised its own operator error; a join on text misses other spellings."""
    engine = sa.create_engine(database)
    text = [hour.strftime("%Y-%m-%dT%H:%M:%S") for hour in HOURS]
    pd.DataFrame({"date": text, "crypto_symbol": "AAAUSDT", "close": 1.0}).to_sql(
        "crypto_price", engine, index=False, dtype={"date": sa.String(32)}
    )
    pd.DataFrame({"date": text, "yield": 4.0e-6}).to_sql(
        "US_Bond_Yield", engine, index=False, dtype={"date": sa.String(32)}
    )
    engine.dispose()
    for bounds, what in (
        ({"end": "2024-01-03"}, "a dataset.start/end bound"),
        ({"max_rows_per_symbol": 30}, r"dataset.max_rows_per_symbol \(the latest rows\)"),
        ({}, "the join on date"),
    ):
        with pytest.raises(DataError, match=rf"^crypto_price\.date is a text column .* so {what} could"):
            _dates(database, **bounds)


def _write_both(url: str, dates: list[object], date_type: sa.types.TypeEngine[Any]) -> None:
    """`crypto_price` (AAAUSDT) and `US_Bond_Yield` at `url`, `date` of SQL type `date_type` holding `dates`."""
    engine = sa.create_engine(url)
    for table, values in (
        ("crypto_price", {"crypto_symbol": "AAAUSDT", "close": 1.0}),
        ("US_Bond_Yield", {"yield": 4.0e-6}),
    ):
        pd.DataFrame({"date": dates, **values}).to_sql(table, engine, index=False, dtype={"date": date_type})
    engine.dispose()


@pytest.mark.parametrize("database", ["sqlite", "mariadb", "postgresql"], indirect=True)
def test_a_bound_finer_than_a_microsecond_keeps_the_same_rows_everywhere(database: str) -> None:
    """The servers' drivers take microseconds: `start: ...00:00:00.0000001` was cut to 00:00:00 there and
    kept a row before the start that SQLite (rounding up) left out."""
    _write_both(database, list(HOURS), sa.DateTime())
    dates = _dates(database, start="2024-01-02 00:00:00.0000001", end="2024-01-03 00:00:00.0000009")
    assert dates[0] == pd.Timestamp("2024-01-02 01:00") and dates[-1] == pd.Timestamp("2024-01-03 00:00")


@pytest.mark.parametrize("database", ["sqlite", "mariadb", "postgresql"], indirect=True)
def test_epoch_dates_with_a_fraction_keep_the_rows_inside_a_bound(database: str) -> None:
    """Epoch seconds at .5 past each hour: a bound was rounded to whole seconds, so `start: 02:00:00.2`
    dropped the row at 02:00:00.5 and `end: 02:00:00.7` the one at 02:00:00.5 too."""
    _write_both(database, [h.value / 1e9 + 0.5 for h in HOURS], sa.Double())
    dates = _dates(database, start="2024-01-01 02:00:00.2", end="2024-01-03 02:00:00.7")
    assert dates[0] == pd.Timestamp("2024-01-01 02:00:00.5")
    assert dates[-1] == pd.Timestamp("2024-01-03 02:00:00.5")


def test_unquoted_yaml_dates_are_read_as_the_text_written() -> None:
    """`start: 2024-01-03` (YAML reads a date) was refused: "expected a string, got datetime.date(...)",
    while `split.valid_start` written alike was read."""
    import yaml

    raw = yaml.safe_load("join: prices\nsymbols: [AAAUSDT]\nstart: 2024-01-03\nend: 2024-01-08 12:00:00\n")
    spec = DatasetSpec.from_dict(raw)
    assert (spec.start, spec.end) == ("2024-01-03", "2024-01-08 12:00:00")
    quoted = DatasetSpec.from_dict({**raw, "start": "2024-01-03", "end": "2024-01-08 12:00:00"})
    assert spec.content_hash() == quoted.content_hash()


def test_epoch_integers_in_a_datetime_column_take_a_bound_as_the_text_dates_do(tmp_path: Path) -> None:
    """`load-csv` declares `date` DATETIME; another tool rewrote it as epoch seconds in place. SQLite keeps
    integers there, yet the bound was planned from the declared type and refused ("number values ...
    compared as text"), while an INTEGER column of the same values took it."""
    text_url = write_db(tmp_path / "text", [price_frame("AAAUSDT", seed=1)])
    epoch_path = tmp_path / "epoch.db"
    epoch_path.write_bytes((tmp_path / "text" / "tiny.db").read_bytes())
    with sqlite3.connect(epoch_path) as conn:
        for table in ("crypto_price", '"US_Bond_Yield"'):
            conn.execute(f"UPDATE {table} SET date = CAST(strftime('%s', date) AS INTEGER)")
        assert conn.execute("SELECT DISTINCT typeof(date) FROM crypto_price").fetchall() == [("integer",)]
    epoch_url = f"sqlite:///{epoch_path}"
    for bounds in (
        {"start": "2024-01-02 00:30", "end": "2024-01-05T12:00:00+02:00"},
        {"end": "2024-01-05 10:00", "max_rows_per_symbol": 30},  # as `predict --at` reads
    ):
        spec = DatasetSpec(join="prices", symbols=("AAAUSDT",), **bounds)  # type: ignore[arg-type]
        expected = load_symbol_rows(plan_source(spec, text_url), "AAAUSDT")
        assert expected["date"].iloc[-1] == pd.Timestamp("2024-01-05 10:00")
        pd.testing.assert_frame_equal(load_symbol_rows(plan_source(spec, epoch_url), "AAAUSDT"), expected)


def test_a_datetime_column_mixing_epoch_integers_and_text_still_refuses_a_bound(tmp_path: Path) -> None:
    """Epoch integers before 5 January, text after: a bound in either form would drop the other's rows."""
    url = write_db(tmp_path, [price_frame("AAAUSDT", seed=1)])
    with sqlite3.connect(tmp_path / "tiny.db") as conn:
        for table in ("crypto_price", '"US_Bond_Yield"'):
            conn.execute(
                f"UPDATE {table} SET date = CAST(strftime('%s', date) AS INTEGER) WHERE date < '2024-01-05'"
            )
    with pytest.raises(DataError, match=r"SQLite holds the dates written two ways"):
        _dates(url, start="2024-01-02")


@pytest.mark.parametrize(
    ("end", "last"),
    [
        ("2024", "2024-01-05 23:40"),
        ("2024-01", "2024-01-05 23:40"),
        ("2024-1", "2024-01-05 23:40"),
        ("2024-01-03", "2024-01-03 23:40"),
        ("2024-01-03 10", "2024-01-03 10:40"),
        ("2024-01-03T10+02:00", "2024-01-03 08:40"),
        ("2024-01-03 10:20", "2024-01-03 10:20"),
        ("2024-01-03 10:59:59.999999999", "2024-01-03 10:40"),
    ],
)
def test_an_end_naming_a_whole_period_keeps_all_of_it(end: str, last: str, tmp_path: Path) -> None:
    """`end: "2024"` was read as 2024-01-01 00:00, so an inclusive end "in 2024" kept none of the year,
    and `end: 2024-01-03` kept one row of that day: a partial end keeps its whole period, as pandas'
    `df.loc[:"2024"]` does (rows every 20 minutes, 2024-01-01 to 2024-01-05)."""
    url = _write(
        tmp_path / "p.db", SPELLINGS["seconds"], pd.date_range("2024-01-01", "2024-01-05 23:40", freq="20min")
    )
    assert _dates(url, end=end)[-1] == pd.Timestamp(last)


def test_a_partial_end_is_its_periods_last_nanosecond_and_a_partial_start_its_first() -> None:
    assert naive_utc("2024-01-03", "dataset.end", last_kept=True) == pd.Timestamp(
        "2024-01-03 23:59:59.999999999"
    )
    assert naive_utc("2024-01-03", "dataset.start") == pd.Timestamp("2024-01-03")


def test_a_start_naming_a_whole_period_is_its_first_instant(tmp_path: Path) -> None:
    """A start is the period's first instant, as pandas reads it."""
    url = _write(tmp_path / "p.db", SPELLINGS["seconds"])
    assert _dates(url, start="2024-01-05 10", end="2024-01-05 12:00") == list(
        pd.date_range("2024-01-05 10:00", periods=3, freq="1h")
    )
    assert _dates(url, start="2024-01", end="2024-01-01 02:00") == list(
        pd.date_range("2024-01-01", periods=3, freq="1h")
    )
