"""Text that could be read two ways is refused, not guessed: day/month order, decimal commas, infinities."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqsweep.cli import main
from seqsweep.data.date_reading import parse_dates
from seqsweep.data.load_csv import load_csv
from seqsweep.data.number_reading import parse_numeric
from seqsweep.errors import DataError
from tests.data.tiny_prices import price_rows


def _stored_dates(db: Path) -> list[str]:
    with sqlite3.connect(db) as con:
        return [row[0][:19] for row in con.execute("SELECT date FROM crypto_price ORDER BY date")]


def _hours(first: str, n: int) -> pd.DatetimeIndex:
    return pd.date_range(first, periods=n, freq="6h")


# --- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["%d/%m/%Y %H:%M", "%d.%m.%Y %H:%M", "%m/%d/%Y %I:%M %p", "%d/%m/%Y"])
def test_a_non_iso_column_with_a_telling_day_is_read_in_one_format(fmt: str) -> None:
    stamps = (
        _hours("2024-01-01", 4 * 20)
        if "%H" in fmt or "%I" in fmt
        else pd.date_range("2024-01-01", periods=20)
    )
    out = parse_dates(pd.Series(stamps.strftime(fmt), dtype=object), "date")
    assert out.tolist() == list(stamps)  # 02/01/2024 is 2 January (not 1 February) when 13/01 fixes the order


@pytest.mark.parametrize(
    "values",
    [
        ["01/01/2024 00:00", "02/01/2024 00:00", "03/01/2024 00:00"],
        ["01.01.2024 13:00", "02.01.2024 13:00"],
        ["01/02/2024 01:00 AM", "01/03/2024 01:00 AM"],
    ],
    ids=["slash", "dots", "am-pm"],
)
def test_a_column_fitting_day_first_and_month_first_is_refused(values: list[str]) -> None:
    with pytest.raises(
        DataError, match=r"^column 'date': '.+' is ambiguous, day-first and month-first"
    ) as info:
        parse_dates(pd.Series(values), "date")
    assert "\n" not in str(info.value) and "write ISO dates" in str(info.value)


@pytest.mark.parametrize(
    "values",
    [
        ["01/01/2024 00:00", "2024-01-01 01:00:00", "01/01/2024 02:00"],
        ["31/01/2024 00:00", "2024-02-01 01:00:00"],
        ["13/01/2024", "01/14/2024"],
    ],
    ids=["iso-and-ddmm", "iso-and-ddmm-telling", "dayfirst-and-monthfirst"],
)
def test_a_column_mixing_formats_is_refused(values: list[str]) -> None:
    with pytest.raises(DataError, match=r"^column 'date': mixes date formats \(.+\); .*write ISO dates"):
        parse_dates(pd.Series(values, dtype=object), "date")


def test_iso_variants_still_parse() -> None:
    values = [
        "2024-01-01T00:00:00Z",
        "2024-01-01 02:00:00+01:00",
        "2024-01-01 04:00:00+02:00",
    ]  # a stamp without one beside them: refused
    assert parse_dates(pd.Series(values), "date").tolist() == [
        pd.Timestamp("2024-01-01 00:00"),
        pd.Timestamp("2024-01-01 01:00"),
        pd.Timestamp("2024-01-01 02:00"),
    ]
    utc_word = ["2024-01-02 00:00:00 UTC", "2024-01-03 00:00:00 UTC"]
    assert parse_dates(pd.Series(utc_word), "date").tolist() == [
        pd.Timestamp("2024-01-02"),
        pd.Timestamp("2024-01-03"),
    ]


def test_garbage_is_still_not_a_date() -> None:
    with pytest.raises(DataError, match=r"column 'date': 'yesterday' is not a date"):
        parse_dates(pd.Series(["31/01/2024", "yesterday"]), "date")


def test_load_csv_stores_day_first_dates_right(tmp_path: Path) -> None:
    stamps = _hours("2024-01-01", 4 * 14)
    file = tmp_path / "crypto_price.csv"
    price_rows(list(stamps.strftime("%d/%m/%Y %H:%M"))).to_csv(file, index=False)
    db = tmp_path / "db.sqlite"
    load_csv(file, f"sqlite:///{db}", chunk_rows=1000)
    assert _stored_dates(db) == [str(s) for s in stamps]


def test_load_csv_keeps_the_format_of_the_first_chunk(tmp_path: Path) -> None:
    stamps = _hours("2024-01-10", 40)
    dates = list(stamps.strftime("%d/%m/%Y %H:%M"))
    dates[-1] = stamps[-1].strftime("%m/%d/%Y %H:%M")  # a later chunk switches to month-first
    file = tmp_path / "crypto_price.csv"
    price_rows(dates).to_csv(file, index=False)
    with pytest.raises(DataError, match=r"column 'date': mixes date formats"):
        load_csv(file, f"sqlite:///{tmp_path / 'db.sqlite'}", chunk_rows=16)


def test_cli_refuses_ambiguous_dates_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "crypto_price.csv"
    price_rows([f"{d:02d}/01/2024 13:00" for d in range(1, 10)]).to_csv(file, index=False)
    assert main(["data", "load-csv", str(file), "--db", f"sqlite:///{tmp_path / 'db.sqlite'}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "crypto_price.csv: column 'date'" in err and "ambiguous" in err


# --- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt",
    [
        "%Y%m%d%H",
        "%Y%m%d%H%M",
        "%y%m%d%H%M",
        "%y%m%d%H%M%S",
        "%d%m%Y%H",
        "%m%d%Y%H",
        "%d%m%Y%H%M",
        "%m%d%Y%H%M",
    ],
)
@pytest.mark.parametrize("as_text", [False, True], ids=["numbers", "digit text"])
def test_compact_calendar_dates_are_not_taken_for_epoch_times(fmt: str, as_text: bool) -> None:
    """2024010100 is also an epoch time in seconds (2034-02-20), 202401010000 one in ms (1976-05-31);
    with a 2-digit year, 2401010000 in seconds (2046-01-31) and 240101000000 in ms (1977-08-10). Day or
    month first (1301202400, 041320240000) were stored as 2011 and 1971: only year-first layouts were
    tried, and a leading 0 lost as a number (0102202400 is 102202400) changed the digit count."""
    text = pd.Series(pd.date_range("2024-04-30 20:00", periods=60, freq="1h").strftime(fmt))
    values = text if as_text else text.astype(np.int64)
    with pytest.raises(
        DataError, match=rf"{text.iloc[0]} reads as the date 2024-04-30 20:00:00 written without"
    ):
        parse_dates(values, "date")


@pytest.mark.parametrize("factor", [1, 1000])
def test_epoch_times_of_those_lengths_still_parse(factor: int) -> None:
    hours = pd.date_range("2024-01-01", periods=500, freq="1h")
    epochs = pd.Series((hours - pd.Timestamp(0)) // pd.Timedelta(seconds=1) * factor)
    assert {len(str(v)) for v in epochs} == {10 if factor == 1 else 13}
    assert list(parse_dates(epochs, "date")) == list(hours)
    old = pd.date_range("1990-01-01", periods=500, freq="1h")  # 12-digit milliseconds
    old_ms = pd.Series((old - pd.Timestamp(0)) // pd.Timedelta(milliseconds=1))
    assert {len(str(v)) for v in old_ms} == {12}
    assert list(parse_dates(old_ms, "date")) == list(old)


@pytest.mark.parametrize("bad", ["0,014", "0,500", "-0,030"])
def test_a_leading_group_of_zero_is_not_a_number(bad: str) -> None:
    with pytest.raises(DataError, match=rf"^column 'rate': '{bad}' is not a number"):
        parse_numeric(pd.Series(["1.5", bad]), "rate")


@pytest.mark.parametrize("values", [["6,406", "5,123"], ["6,406", "12", "1.5"], ["-2,155"]])
def test_only_one_group_without_decimal_point_is_ambiguous(values: list[str]) -> None:
    with pytest.raises(DataError, match=r"^column 'volume': the comma in '.+' is ambiguous \(thousands"):
        parse_numeric(pd.Series(values), "volume")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["6,406", "1,234,567"], [6406.0, 1234567.0]),
        (["6,406", "6,179.90"], [6406.0, 6179.9]),
        (["0", "0.5", "1,000.00"], [0.0, 0.5, 1000.0]),
    ],
)
def test_values_that_show_thousands_separators_still_parse(values: list[str], expected: list[float]) -> None:
    assert parse_numeric(pd.Series(values), "volume").tolist() == expected


@pytest.mark.parametrize("bad", ["inf", "-inf", "Infinity", "-INFINITY", "INF", "1e999"])
def test_an_infinity_is_refused(bad: str) -> None:
    with pytest.raises(DataError, match=rf"^column 'volume': '{bad}' is not a finite number"):
        parse_numeric(pd.Series(["1.0", bad], dtype=object), "volume")


def test_a_value_too_long_to_quote_is_shown_by_its_ends_and_length() -> None:
    """A NUMERIC of 1e400 quoted its 401 digits in the one-line message."""
    huge = "1" + "0" * 400
    with pytest.raises(DataError) as info:
        parse_numeric(pd.Series(["1.0", huge], dtype=object), "volume")
    assert str(info.value).startswith(
        "column 'volume': '10000000000000000000000…0000000' (403 characters) is not a finite number"
    )
    assert len(str(info.value)) < 200


def test_an_infinity_already_a_float_is_refused() -> None:
    with pytest.raises(DataError, match=r"^column 'volume': inf is not a finite number"):
        parse_numeric(pd.Series([1.0, np.inf]), "volume")


def test_load_csv_refuses_inf_and_decimal_commas(tmp_path: Path) -> None:
    dates = [str(s) for s in _hours("2024-01-01", 6)]
    for volume, message in [
        (["1.0", "2.0", "3.0", "inf", "5.0", "6.0"], r"'volume': inf is not a finite number"),
        (["6,406", "2,155", "1,380", "1", "2", "3"], r"'volume': the comma in '6,406' is ambiguous"),
        (["0,014", "0,030", "0,011", "1", "2", "3"], r"'volume': '0,014' is not a number"),
    ]:
        file = tmp_path / "crypto_price.csv"
        price_rows(dates, volume).to_csv(file, index=False)
        with pytest.raises(DataError, match=message):
            load_csv(file, f"sqlite:///{tmp_path / 'db.sqlite'}")


def test_thousands_shown_in_an_earlier_chunk_hold_for_later_ones(tmp_path: Path) -> None:
    dates = [str(s) for s in _hours("2024-01-01", 6)]
    file = tmp_path / "crypto_price.csv"
    price_rows(dates, ["1,234,567", "2", "3", "6,406", "5,123", "7"]).to_csv(file, index=False)
    db = tmp_path / "db.sqlite"
    load_csv(file, f"sqlite:///{db}", chunk_rows=3)
    with sqlite3.connect(db) as con:
        volumes = [row[0] for row in con.execute("SELECT volume FROM crypto_price ORDER BY date")]
    assert volumes == [1234567.0, 2.0, 3.0, 6406.0, 5123.0, 7.0]
