"""Dates half with an offset, or in local time across a summer-time change: refused or named, never read
as UTC without a word."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from seqsweep.cli import main
from seqsweep.data.build import build_dataset
from seqsweep.data.date_reading import parse_dates
from seqsweep.data.load_csv import load_csv
from seqsweep.data.local_time import clock_change
from seqsweep.data.sources import plan_source
from seqsweep.data.spec import DatasetSpec
from seqsweep.data.summary import render_text
from seqsweep.data.symbol_rows import load_symbol_rows
from seqsweep.errors import DataError
from tests.data.tiny_prices import price_frame, price_rows, write_db

HALF_OFFSET = [
    "2024-01-01T00:00:00",
    "2024-01-01T01:00:00",
    "2024-01-01T04:00:00+02:00",  # 02:00 UTC, in a later chunk of two rows
    "2024-01-01T05:00:00+02:00",
]
OFFSET_AND_Z_BESIDE_NAIVE = ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00", "2024-01-01T02:00:00Z"]
REFUSED = r"column 'date': mixes dates with a UTC offset and dates without one \('{}' and '{}'\)"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (HALF_OFFSET, REFUSED.format(r"2024-01-01T04:00:00\+02:00", "2024-01-01T00:00:00")),
        (OFFSET_AND_Z_BESIDE_NAIVE, REFUSED.format("2024-01-01T00:00:00Z", "2024-01-01T01:00:00")),
    ],
    ids=["offset", "z"],
)
def test_dates_some_with_an_offset_are_refused_on_every_path(
    values: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`2024-01-01T04:00+02:00` beside `2024-01-01T01:00:00` was read as 02:00 and 01:00 UTC: the dates
    without an offset taken as UTC, whatever zone the writer that marked the others meant."""
    with pytest.raises(DataError, match=message):
        parse_dates(pd.Series(values), "date")
    # load-csv, the two kinds in different chunks
    file = tmp_path / "crypto_price.csv"
    price_rows(values).to_csv(file, index=False)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert main(["data", "load-csv", str(file), "--db", url, "--chunk-rows", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "crypto_price.csv: column 'date': mixes dates with a UTC offset" in err
    # a SQL read of text stamps written by another tool
    candles = pd.DataFrame(
        {
            "date": values,
            **{c: 1.0 for c in ("open_price", "highest_price", "lowest_price", "closing_price", "volume")},
        }
    )
    raw_url = f"sqlite:///{tmp_path / 'raw.sqlite'}"
    engine = sa.create_engine(raw_url)
    candles.to_sql("ohlcv", engine, index=False)
    engine.dispose()
    # the message names the table the date was read from
    with pytest.raises(DataError, match=message.replace("column 'date'", "column 'ohlcv.date'")):
        load_symbol_rows(plan_source(DatasetSpec(join="ohlcv", frequency=None), raw_url), "ETHUSDT")


def test_dates_all_with_offsets_or_all_without_are_read_as_before() -> None:
    """Several offsets (London's +00:00 and +01:00, `Z`) are converted; dates without any are UTC."""
    zoned = ["2024-03-31T00:00:00+00:00", "2024-03-31T00:30:00Z", "2024-03-31T03:00:00+01:00"]
    assert parse_dates(pd.Series(zoned), "date").tolist() == list(
        pd.to_datetime(["2024-03-31 00:00", "2024-03-31 00:30", "2024-03-31 02:00"])
    )
    naive = ["2024-03-31", "2024-03-31 01:00", "2024-03-31T02:00:00.5"]
    assert parse_dates(pd.Series(naive), "date").tolist() == list(pd.to_datetime(naive, format="ISO8601"))


def test_a_later_chunk_in_another_format_is_named_as_mixed_formats(tmp_path: Path) -> None:
    """ISO dates after day-first ones, in another chunk, were refused as "'2024-02-03 00:00' is not a date"."""
    file = tmp_path / "crypto_price.csv"
    price_rows(["13/02/2024 00:00", "14/02/2024 00:00", "2024-02-15 00:00"]).to_csv(file, index=False)
    with pytest.raises(
        DataError, match=r"mixes date formats \(earlier rows in %d/%m/%Y %H:%M, '2024-02-15 00:00'"
    ):
        load_csv(file, f"sqlite:///{tmp_path / 'db.sqlite'}", chunk_rows=2)


def _berlin_clock(start: str, hours: int) -> pd.Series:
    """`hours` hourly times from `start` (UTC) as a Berlin wall clock writes them, without an offset."""
    utc = pd.date_range(start, periods=hours, freq="1h", tz="UTC")
    return pd.Series(utc.tz_convert("Europe/Berlin").tz_localize(None))


def _local_prices(tmp_path: Path, start: str) -> str:
    frame = price_frame("AAAUSDT", 1, hours=48)
    frame["date"] = _berlin_clock(start, 48)
    return write_db(tmp_path, [frame])


SPEC = DatasetSpec(join="prices", symbols=("AAAUSDT",), lookback=2, horizon=1, pca_components=1)


def test_an_hour_repeated_when_summer_time_ends_is_named_as_local_time(tmp_path: Path) -> None:
    """Berlin's 02:00 twice on 2024-10-27 was refused as two rows at one time, "keep one row per symbol
    and time", which did not say that the dates are likely local time."""
    url = _local_prices(tmp_path, "2024-10-26 12:00")
    with pytest.raises(
        DataError, match=r"at 2024-10-27 02:00:00 appear 2 times with different values"
    ) as caught:
        build_dataset(SPEC, db_url=url, use_cache=False, in_process=True)
    assert (
        "2024-10-27 02:00:00 is an hour clocks repeat when summer time ends in Europe/Berlin (UTC+02:00, then "
        "UTC+01:00): dates written in local time without their offset? write them in UTC" in str(caught.value)
    )
    # a repeat at another time keeps the plain advice
    frame = price_frame("AAAUSDT", 1, hours=48)
    frame.loc[5, "date"] = frame.loc[4, "date"]
    with pytest.raises(DataError, match="keep one row per symbol and time"):
        build_dataset(SPEC, db_url=write_db(tmp_path / "utc", [frame]), use_cache=False, in_process=True)


def test_an_hour_skipped_when_summer_time_starts_is_warned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Berlin's clock has no 02:00 on 2024-03-31: the build left it a masked gap without a word, and every
    later date an hour further off UTC than the earlier ones."""
    url = _local_prices(tmp_path, "2024-03-30 12:00")
    with caplog.at_level(logging.WARNING, logger="seqsweep.data.summary"):
        bundle = build_dataset(SPEC, db_url=url, use_cache=False, in_process=True)
    said = (
        "AAAUSDT has no row at 2024-03-31 02:00:00, an hour clocks skip when summer time starts in "
        "Europe/Berlin (UTC+01:00, then UTC+02:00) (a masked gap): dates written in local time"
    )
    assert said in caplog.text
    assert f"warning: {said}" in render_text(bundle.summary())
    # a gap at another hour is an ordinary gap
    frame = price_frame("AAAUSDT", 1, start=pd.Timestamp("2024-03-30 12:00"), hours=48)
    frame = frame[frame["date"] != pd.Timestamp("2024-03-31 05:00")]
    other = build_dataset(SPEC, db_url=write_db(tmp_path / "utc", [frame]), use_cache=False, in_process=True)
    assert other.summary()["skipped_hours"] == []


@pytest.mark.parametrize(
    ("at", "repeated", "zone"),
    [
        ("2024-11-03 01:30", True, "America/New_York (UTC-04:00, then UTC-05:00)"),
        ("2024-03-10 02:00", False, "America/New_York (UTC-05:00, then UTC-04:00)"),
        ("2024-10-27 01:00", True, "Europe/London (UTC+01:00, then UTC+00:00)"),
        ("2024-04-07 02:30", True, "Australia/Sydney (UTC+11:00, then UTC+10:00)"),
    ],
)
def test_clock_changes_name_their_zone(at: str, repeated: bool, zone: str) -> None:
    change = clock_change(pd.Timestamp(at), repeated=repeated)
    assert change is not None and change.endswith(f"in {zone}")
    assert clock_change(pd.Timestamp(at), repeated=not repeated) is None
    assert clock_change(pd.Timestamp("2024-06-01 02:00"), repeated=repeated) is None


def test_spreadsheet_serial_days_are_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """45292.5 (a spreadsheet's 2024-01-01 12:00 saved as a number) was refused as no epoch time, which did
    not say what it is."""
    file = tmp_path / "crypto_price.csv"
    price_rows([45292.5, 45292.541666666664]).to_csv(file, index=False)
    assert main(["data", "load-csv", str(file), "--db", f"sqlite:///{tmp_path / 'db.sqlite'}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "45292.5 is not an epoch time" in err and "serial day number for 2024-01-01 12:00:00?" in err


def test_julian_day_numbers_in_a_database_are_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Dates stored as SQLite's `julianday(date)` (2460310.5 is 2024-01-01 00:00) were refused as no epoch
    time, which did not say what they are; the refusal names the Julian day it reads as."""
    url = write_db(tmp_path, [price_frame("AAAUSDT", 0)])
    with sa.create_engine(url).begin() as conn:
        for table in ("crypto_price", "US_Bond_Yield"):
            conn.execute(sa.text(f'UPDATE "{table}" SET date = julianday(date)'))
        assert conn.execute(sa.text("SELECT MIN(date) FROM crypto_price")).scalar_one() == 2460310.5
    code = main(["data", "build", "--db", url, "--join", "prices", "--symbols", "AAAUSDT", "--no-cache"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "2460310.5 is not an epoch time" in err
    assert "Julian day number for 2024-01-01 00:00:00" in err
