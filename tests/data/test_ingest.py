"""One reading of dates, numbers and symbols on every path in: load-csv, dataset.csv and SQL reads."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from seqsweep.cli import main
from seqsweep.data.date_reading import parse_dates
from seqsweep.data.epoch_times import refuse_time_columns
from seqsweep.data.ingest import normalize_symbols
from seqsweep.data.load_csv import load_csv
from seqsweep.data.number_reading import parse_numeric
from seqsweep.data.sources import plan_source
from seqsweep.data.spec import DatasetSpec
from seqsweep.data.symbol_rows import load_symbol_rows
from seqsweep.errors import DataError
from tests.data.tiny_prices import price_rows

START = pd.Timestamp("2024-01-01")
HOURS = 60


def _hours(n: int = HOURS) -> pd.DatetimeIndex:
    return pd.date_range(START, periods=n, freq="1h")


def _stored_dates(url: str, table: str = "crypto_price") -> pd.Series:
    with sqlite3.connect(sa.engine.make_url(url).database or "") as conn:
        return pd.to_datetime(pd.read_sql(f'SELECT date FROM "{table}" ORDER BY date', conn)["date"])


# --- dates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("unit", "factor"), [("s", 10**9), ("ms", 10**6), ("us", 10**3), ("ns", 1)])
def test_epoch_dates_are_read_in_their_unit(
    unit: str, factor: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    epochs = _hours().as_unit("ns").asi8 // factor
    assert parse_dates(pd.Series(epochs), "date").tolist() == list(_hours())
    assert parse_dates(pd.Series(epochs.astype(str)), "date").tolist() == list(_hours())  # digits as text
    folder = tmp_path / "csv"
    folder.mkdir()
    price_rows(list(epochs)).to_csv(folder / "crypto_price.csv", index=False)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with caplog.at_level("INFO"):
        load_csv(folder, url, chunk_rows=7)  # the unit is decided once and holds for every chunk
    assert _stored_dates(url).tolist() == list(_hours())
    named = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}[unit]
    assert f"epoch dates read in {named}" in caplog.text


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([20240101, 20240102], r"column 'date': 20240101 is not an epoch time in s, ms, µs or ns"),
        ([0, 1], r"column 'date': 0 is not an epoch time"),
        ([1704067200, 1704070800000], r"column 'date': mixes epoch units .*1704070800000 in milliseconds"),
        (
            [1704067200000, 0],
            r"column 'date': 0 is not an epoch time in any unit between 1971 and 2200 \(the column reads "
            r"1704067200000 in milliseconds\)",
        ),
        ([1704067200, "2024-01-01"], r"column 'date': mixes epoch numbers and dates"),
        (["2024-01-01", "yesterday"], r"column 'date': 'yesterday' is not a date"),
    ],
    ids=["yyyymmdd", "zero", "mixed-units", "placeholder", "numbers-and-text", "not-a-date"],
)
def test_ambiguous_or_invalid_dates_are_refused_naming_the_column(
    values: list[object], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(DataError, match=message):
        parse_dates(pd.Series(values, dtype=object), "date")
    file = tmp_path / "crypto_price.csv"
    price_rows(values).to_csv(file, index=False)
    assert main(["data", "load-csv", str(file), "--db", f"sqlite:///{tmp_path / 'db.sqlite'}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "crypto_price.csv: column 'date'" in err


def test_units_mixed_across_chunks_are_refused(tmp_path: Path) -> None:
    epochs = list(_hours().as_unit("ns").asi8 // 10**6)
    epochs[-1] //= 1000  # the last row in seconds, in a later chunk
    file = tmp_path / "crypto_price.csv"
    price_rows(epochs).to_csv(file, index=False)
    with pytest.raises(DataError, match=r"column 'date': mixes epoch units"):
        load_csv(file, f"sqlite:///{tmp_path / 'db.sqlite'}", chunk_rows=10)


OFFSET_STAMPS = [
    "2024-01-01T02:00:00+02:00",
    "2024-01-01T01:00:00Z",
    "2024-01-01 03:00:00+01:00",  # every stamp with an offset: one without beside them is refused
    "2024-01-01T08:30:00+05:30",
]
UTC_NAIVE = [pd.Timestamp("2024-01-01 00:00"), pd.Timestamp("2024-01-01 01:00"), pd.Timestamp("2024-01-01 02:00"),
             pd.Timestamp("2024-01-01 03:00")]  # fmt: skip


def test_offsets_and_z_become_naive_utc_on_every_path(tmp_path: Path) -> None:
    parsed = parse_dates(pd.Series(OFFSET_STAMPS), "date")
    assert parsed.dtype == "datetime64[ns]" and parsed.tolist() == UTC_NAIVE
    # load-csv
    file = tmp_path / "crypto_price.csv"
    price_rows(OFFSET_STAMPS).to_csv(file, index=False)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    load_csv(file, url)
    assert _stored_dates(url).tolist() == UTC_NAIVE
    # dataset.csv (join: ohlcv)
    candles = pd.DataFrame(
        {"date": OFFSET_STAMPS, **{c: [1.0, 2.0, 3.0, 4.0] for c in ("open_price", "highest_price",
                                                                   "lowest_price", "closing_price", "volume")}}
    )  # fmt: skip
    candle_file = tmp_path / "candles.csv"
    candles.to_csv(candle_file, index=False)
    plan = plan_source(DatasetSpec(join="ohlcv", csv=str(candle_file), frequency=None), None)
    assert load_symbol_rows(plan, "ETHUSDT")["date"].tolist() == UTC_NAIVE
    # a SQL read of text stamps stored by another tool
    raw_url = f"sqlite:///{tmp_path / 'raw.sqlite'}"
    engine = sa.create_engine(raw_url)
    candles.to_sql("ohlcv", engine, index=False)  # `date` stays TEXT with its offsets
    engine.dispose()
    plan = plan_source(DatasetSpec(join="ohlcv", frequency=None), raw_url)
    assert load_symbol_rows(plan, "ETHUSDT")["date"].tolist() == UTC_NAIVE


# --- numbers -------------------------------------------------------------------------------------


def test_numbers_with_thousands_separators_are_parsed() -> None:
    values = pd.Series(["6,179.90", "12", " 1,234,567 ", "", None, "nan", "-3.5e2"])
    out = parse_numeric(values, "volume")
    assert out.dtype == np.float64
    assert out.iloc[[0, 1, 2, 6]].tolist() == [6179.9, 12.0, 1234567.0, -350.0]
    assert out.iloc[3:6].isna().all()


@pytest.mark.parametrize("bad", ["6179,90", "1.234,5", "abc", "12 units"])
def test_a_value_that_is_no_number_is_refused_naming_column_and_value(bad: str) -> None:
    with pytest.raises(DataError, match=rf"column 'volume': '{bad}' is not a number"):
        parse_numeric(pd.Series(["1.0", bad]), "volume")


@pytest.mark.parametrize(
    ("bad", "fix"),
    [
        ("5%", "a percentage: write it as a plain number (0.05 or 5)"),
        ("(12.5)", "an accounting negative: write -12.5"),
        ("\u221212.5", "its minus sign is U+2212 (minus sign), not '-': write -12.5"),
        ("1\u00a0234.5", "a space or apostrophe separates its thousands: write it without (1234.5)"),
        ("1\u2009234,5", "a space or apostrophe separates its thousands: write it without (1234.5)"),
        ("1234,5", "a decimal comma: write 1234.5"),
        ("1.234,5", "a decimal comma: write 1234.5"),
        ("$1,100", "a number with a currency or unit ('$'): write the number alone (1100)"),
        ("12.5 USD", "a number with a currency or unit ('USD'): write the number alone (12.5)"),
        ("1.2M", "a number with the magnitude suffix 'M': write it in full (1200000)"),
        ("-", "a mark for a missing value? leave the cell empty (or write NaN)"),
    ],
)
def test_a_number_in_a_spreadsheet_format_is_refused_naming_its_fix(bad: str, fix: str) -> None:
    """Each was refused with one generic hint (`write plain numbers ... (6,179.90)`), which fits none."""
    with pytest.raises(DataError) as refused:
        parse_numeric(pd.Series(["1.0", bad]), "volume")
    assert str(refused.value).startswith(f"column 'volume': {bad!r} is not a number; {fix}")


def test_a_column_of_numbers_with_a_unit_is_not_called_text_to_drop(tmp_path: Path) -> None:
    """`12.5 USD` in every row was "holds text, not numbers ...: drop the column", advice that drops a
    column of numbers from the features; the fix is to write the numbers alone."""
    file = tmp_path / "crypto_price.csv"
    price_rows(list(_hours(6).astype(str)), [f"{v}.5 USD" for v in range(6)]).to_csv(file, index=False)
    with pytest.raises(DataError) as refused:
        load_csv(file, f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert str(refused.value) == (
        "load-csv: crypto_price.csv: column 'volume': '0.5 USD' is not a number; a number with a currency "
        "or unit ('USD'): write the number alone (0.5)"
    )


def test_a_text_column_is_named_as_text_with_the_ways_out() -> None:
    """Mostly words (a `ticker` column): the fix is to drop or exclude the column, not a number format."""
    with pytest.raises(DataError) as raised:
        parse_numeric(pd.Series(["AAAUSDT", "AAAUSDT", None, "1.5"]), "crypto_price.ticker")
    assert str(raised.value) == (
        "column 'crypto_price.ticker': holds text, not numbers (e.g. 'AAAUSDT'); drop the column from the "
        "table or file, or leave it out of the build (dataset.exclude_columns: [ticker])"
    )


def test_load_csv_stores_text_numbers_as_floats_and_refuses_bad_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    volumes = [f"{v:,.2f}" for v in np.linspace(1000, 9000, HOURS)]
    file = tmp_path / "crypto_price.csv"
    price_rows(list(_hours().astype(str)), volumes).to_csv(file, index=False)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    load_csv(file, url, chunk_rows=25)
    engine = sa.create_engine(url)
    types = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns("crypto_price")}
    engine.dispose()
    assert isinstance(types["volume"], sa.Float)
    with sqlite3.connect(tmp_path / "db.sqlite") as conn:
        stored = [row[0] for row in conn.execute("SELECT volume FROM crypto_price ORDER BY date")]
    assert stored == pytest.approx(np.linspace(1000, 9000, HOURS), abs=0.006)
    volumes[40] = "n/a?"
    price_rows(list(_hours().astype(str)), volumes).to_csv(file, index=False)
    assert main(["data", "load-csv", str(file), "--db", url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "crypto_price.csv: column 'volume': 'n/a?' is not a number" in err


@pytest.mark.parametrize("volume", ["N.A.", "5%"])
def test_a_bad_value_in_dataset_csv_names_the_file(tmp_path: Path, volume: str) -> None:
    columns = ("open_price", "highest_price", "lowest_price", "closing_price", "volume")
    candles = pd.DataFrame({"date": _hours()[:4].astype(str), **{c: ["1", "2", "3", "4"] for c in columns}})
    candles.loc[3, "volume"] = volume
    candle_file = tmp_path / "candles.csv"
    candles.to_csv(candle_file, index=False)
    plan = plan_source(DatasetSpec(join="ohlcv", csv=str(candle_file), frequency=None), None)
    with pytest.raises(DataError) as refused:
        load_symbol_rows(plan, "ETHUSDT")
    assert str(refused.value).startswith(
        f"dataset.csv: {candle_file}: column 'volume': '{volume}' is not a number"
    )


def _text_volume_db(tmp_path: Path, volumes: list[str]) -> str:
    """A price table written by another tool: `volume` is a TEXT column."""
    url = f"sqlite:///{tmp_path / 'text.sqlite'}"
    engine = sa.create_engine(url)
    frame = price_rows(list(_hours()), volumes)
    frame.to_sql("crypto_price", engine, index=False, dtype={"volume": sa.Text()})
    pd.DataFrame({"date": _hours(), "yield": 2e-6}).to_sql("US_Bond_Yield", engine, index=False)
    engine.dispose()
    return url


def test_a_text_column_in_the_database_is_parsed_not_dropped(tmp_path: Path) -> None:
    volumes = [f"{v:,.2f}" for v in np.linspace(1000, 9000, HOURS)]
    url = _text_volume_db(tmp_path, volumes)
    plan = plan_source(DatasetSpec(join="prices", symbols=("AAAUSDT",)), url)
    assert "volume" in plan.value_columns
    rows = load_symbol_rows(plan, "AAAUSDT")
    assert rows["volume"].to_numpy() == pytest.approx(np.linspace(1000, 9000, HOURS), abs=0.006)


def test_a_text_column_that_is_no_number_fails_the_read_naming_it(tmp_path: Path) -> None:
    volumes = ["1,000.00"] * HOURS
    volumes[7] = "lots"
    url = _text_volume_db(tmp_path, volumes)
    plan = plan_source(DatasetSpec(join="prices", symbols=("AAAUSDT",)), url)
    with pytest.raises(DataError, match=r"column 'crypto_price.volume': 'lots' is not a number"):
        load_symbol_rows(plan, "AAAUSDT")


@pytest.mark.parametrize(
    ("name", "unit", "offset"),
    [
        ("close_time", "ms", pd.Timedelta(hours=1) - pd.Timedelta(milliseconds=1)),
        ("unix", "s", pd.Timedelta(0)),
    ],
)
def test_a_value_column_of_epoch_times_beside_the_date_is_refused(
    name: str, unit: str, offset: pd.Timedelta, tmp_path: Path
) -> None:
    """An exchange's close time (epoch ms) or CryptoDataDownload's `unix` beside `date` was read as one
    more feature: a clock that grows past every value the train split's scaler saw."""
    url = f"sqlite:///{tmp_path / 'clock.sqlite'}"
    engine = sa.create_engine(url)
    frame = price_rows(list(_hours()))
    frame[name] = (_hours() + offset).as_unit(unit).asi8
    frame.loc[5, name] -= pd.Timedelta(days=40) // pd.Timedelta(1, unit=unit)  # a stale row hides no clock
    frame.loc[9, name] = 0  # nor does a placeholder
    frame.to_sql("crypto_price", engine, index=False)
    pd.DataFrame({"date": _hours(), "yield": 2e-6}).to_sql("US_Bond_Yield", engine, index=False)
    engine.dispose()
    plan = plan_source(DatasetSpec(join="prices", symbols=("AAAUSDT",)), url)
    with pytest.raises(
        DataError, match=rf"column 'crypto_price.{name}' holds epoch times .*exclude_columns: \[{name}\]"
    ):
        load_symbol_rows(plan, "AAAUSDT")
    kept = plan_source(DatasetSpec(join="prices", symbols=("AAAUSDT",), exclude_columns=(name,)), url)
    assert name not in load_symbol_rows(kept, "AAAUSDT").columns


@pytest.mark.parametrize("placeholder", [0, -1])
def test_a_clock_left_at_a_placeholder_in_its_older_rows_is_refused_by_every_read(
    placeholder: int, tmp_path: Path
) -> None:
    """`close_time` holds 0 in its older 60% of rows and close times after (a column another tool filled
    in later): the whole read kept it as a feature (most values were no time), while the latest rows
    (`predict`, `max_rows_per_symbol`, `validate`'s dry build) refused it as a clock."""
    url = f"sqlite:///{tmp_path / 'clock.sqlite'}"
    engine = sa.create_engine(url)
    frame = price_rows(list(_hours()))
    close_times = (_hours() + pd.Timedelta(hours=1) - pd.Timedelta(milliseconds=1)).as_unit("ms").asi8
    frame["close_time"] = np.where(np.arange(HOURS) < HOURS * 6 // 10, placeholder, close_times)
    frame.to_sql("crypto_price", engine, index=False)
    pd.DataFrame({"date": _hours(), "yield": 2e-6}).to_sql("US_Bond_Yield", engine, index=False)
    engine.dispose()
    for rows in (None, 8):
        spec = DatasetSpec(
            join="prices", symbols=("AAAUSDT",), lookback=4, horizon=1, max_rows_per_symbol=rows
        )
        with pytest.raises(
            DataError, match=r"column 'crypto_price.close_time' holds epoch times in milliseconds"
        ):
            load_symbol_rows(plan_source(spec, url), "AAAUSDT")


def test_a_volume_in_an_epoch_range_is_a_value() -> None:
    """Large numbers that read as epoch times but do not follow the rows' dates stay values."""
    dates = pd.Series(_hours())
    volume = pd.DataFrame({"volume": np.linspace(1.6e9, 1.8e9, HOURS)})
    refuse_time_columns(dates, volume)  # no error


# --- symbols -------------------------------------------------------------------------------------


def test_load_csv_strips_and_upper_cases_symbols_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    frame = price_rows(list(_hours().astype(str)))
    frame["crypto_symbol"] = ["aaausdt", "AAAUSDT ", " AAAUSDT"] * (HOURS // 3)
    assert normalize_symbols(frame["crypto_symbol"], "crypto_symbol").unique().tolist() == ["AAAUSDT"]
    file = tmp_path / "crypto_price.csv"
    frame.to_csv(file, index=False)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with caplog.at_level("INFO"):
        load_csv(file, url)
    with sqlite3.connect(tmp_path / "db.sqlite") as conn:
        assert [r[0] for r in conn.execute("SELECT DISTINCT crypto_symbol FROM crypto_price")] == ["AAAUSDT"]
    assert (
        f"{HOURS} symbols stripped and upper-cased" in caplog.text and "'aaausdt' → 'AAAUSDT'" in caplog.text
    )


def test_load_csv_into_sqlite_runs_analyze(tmp_path: Path) -> None:
    file = tmp_path / "crypto_price.csv"
    price_rows(list(_hours().astype(str))).to_csv(file, index=False)
    load_csv(file, f"sqlite:///{tmp_path / 'db.sqlite'}")
    with sqlite3.connect(tmp_path / "db.sqlite") as conn:
        stats = conn.execute("SELECT tbl, idx, stat FROM sqlite_stat1").fetchall()
    assert ("crypto_price", "ix_crypto_price_crypto_symbol_date", f"{HOURS} {HOURS} 1") in stats


def test_a_missing_value_is_spelled_alike_in_a_csv_and_in_sql_text() -> None:
    """`#N/A`, `-nan`, `<NA>` ... were missing in a CSV (pandas' own list) but refused in a TEXT column."""
    import io

    from seqsweep.data.number_reading import CSV_MISSING, MISSING_TEXT

    spellings = sorted(MISSING_TEXT - {""})
    parsed = parse_numeric(pd.Series([*spellings, "3.5"], dtype=object), "volume")
    assert parsed.isna().sum() == len(spellings) and parsed.iloc[-1] == 3.5
    text = "volume\n" + "\n".join([*spellings, "3.5", "none?"]) + "\n"
    read = pd.read_csv(io.StringIO(text), **CSV_MISSING)["volume"]
    assert read.isna().sum() == len(spellings) and list(read.iloc[-2:]) == ["3.5", "none?"]


@pytest.mark.parametrize("chunk_rows", [4, 50_000])
def test_true_and_false_text_read_alike_in_any_chunk_and_in_sql_text(chunk_rows: int, tmp_path: Path) -> None:
    """`True`/`False` in the first rows and 1/0 after: read_csv makes a chunk of only `True`/`False` a bool
    column (1.0/0.0) and a mixed one text, which was refused (`'False' is not a number`): whether the
    file loaded depended on --chunk-rows, and the same text in a SQL TEXT column was refused."""
    flags = ["True", "False", "TRUE", "false"] + ["1", "0"] * ((HOURS - 4) // 2)
    expected = [1.0, 0.0, 1.0, 0.0] + [1.0, 0.0] * ((HOURS - 4) // 2)
    file = tmp_path / "crypto_price.csv"
    price_rows(list(_hours().astype(str)), flags).to_csv(file, index=False)
    db = tmp_path / "db.sqlite"
    load_csv(file, f"sqlite:///{db}", chunk_rows=chunk_rows)
    with sqlite3.connect(db) as con:
        assert [row[0] for row in con.execute("SELECT volume FROM crypto_price ORDER BY date")] == expected
    url = _text_volume_db(tmp_path, flags)
    rows = load_symbol_rows(plan_source(DatasetSpec(join="prices", symbols=("AAAUSDT",)), url), "AAAUSDT")
    assert rows["volume"].tolist() == expected
    assert parse_numeric(pd.Series([" true ", None, "False"]), "v").tolist()[::2] == [1.0, 0.0]


def test_a_read_of_the_latest_rows_decides_the_comma_on_all_the_symbols_rows(tmp_path: Path) -> None:
    """Early rows show thousands separators (1,000,000); the latest only 5,383. The whole read decided it;
    the latest rows alone (`max_rows_per_symbol`, `predict`, `validate`'s dry build) refused it as
    ambiguous, so predict refused the rows its model had trained on."""
    volumes = ["1,000,000"] * 10 + [f"{5 + i % 3},{100 + i:03d}" for i in range(HOURS - 10)]  # 5,100 ...
    url = _text_volume_db(tmp_path, volumes)
    whole = load_symbol_rows(plan_source(DatasetSpec(join="prices", symbols=("AAAUSDT",)), url), "AAAUSDT")
    spec = DatasetSpec(join="prices", symbols=("AAAUSDT",), max_rows_per_symbol=30)
    latest = load_symbol_rows(plan_source(spec, url), "AAAUSDT")
    assert len(latest) == 30 and latest["date"].tolist() == whole["date"].tolist()[-30:]
    assert latest["volume"].tolist() == whole["volume"].tolist()[-30:]
    assert latest["volume"].iloc[-1] == float(volumes[-1].replace(",", ""))
    (tmp_path / "b").mkdir()
    only_ambiguous = _text_volume_db(tmp_path / "b", ["5,383"] * HOURS)
    with pytest.raises(DataError, match=r"the comma in '5,383' is ambiguous"):
        load_symbol_rows(plan_source(spec, only_ambiguous), "AAAUSDT")


def test_a_refused_comma_is_not_first_logged_as_read_and_a_decided_one_is_counted_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """load-csv of a column whose only grouped value was like 6,406 printed "1 values read as numbers
    with thousands separators (e.g. '6,406' → 6406.0)" and then refused that very comma as ambiguous.
    The line is now said once the comma is decided, counting the chunks read before it, in the singular
    for one value."""
    with caplog.at_level("INFO"), pytest.raises(DataError, match=r"the comma in '6,406' is ambiguous"):
        parse_numeric(pd.Series(["6,406", "1.5"]), "volume")
    assert "thousands separators" not in caplog.text
    caplog.clear()
    with caplog.at_level("INFO"):
        assert parse_numeric(pd.Series(["2,000,000"]), "volume").tolist() == [2_000_000.0]
    assert "column volume: 1 value read as numbers with thousands separators" in caplog.text
    caplog.clear()
    volumes: list[object] = [f"{i}.5" for i in range(HOURS)]
    volumes[3], volumes[HOURS - 2] = "6,406", "6,179.90"  # undecided in the first chunk, decided in the last
    frame = price_rows(list(_hours().astype(str)), volumes)
    folder = tmp_path / "csvs"
    folder.mkdir()
    frame.to_csv(folder / "crypto_price.csv", index=False)
    with caplog.at_level("INFO"):
        load_csv(folder, f"sqlite:///{tmp_path / 'p.db'}", chunk_rows=10)
    lines = [r.getMessage() for r in caplog.records if "thousands separators" in r.getMessage()]
    assert len(lines) == 1 and "column volume: 2 values read as numbers" in lines[0], lines


@pytest.mark.parametrize("shown_at", ["first", "last"])
@pytest.mark.parametrize(
    "bounds",
    [
        {"start": "2024-01-01 20:00", "end": "2024-01-02 08:00"},  # dataset.start/end, validate's dry build
        {"end": "2024-01-02 08:00", "max_rows_per_symbol": 6},  # predict --at
    ],
    ids=["start-end", "at-latest"],
)
def test_a_bounded_read_decides_the_comma_on_all_the_symbols_rows(
    shown_at: str, bounds: dict[str, object], tmp_path: Path
) -> None:
    """Only rows outside a start/end bound (or after `predict --at`) show the comma to separate thousands
    (6,179.90); the rows inside hold only 6,4xx. The whole read took them as thousands; a bounded read
    refused them as ambiguous, in a TEXT column and in a `dataset.csv` alike."""
    volumes = [f"6,{400 + i:03d}" for i in range(HOURS)]
    shown = range(5) if shown_at == "first" else range(HOURS - 5, HOURS)
    for i in shown:
        volumes[i] = "6,179.90"
    url = _text_volume_db(tmp_path, volumes)
    csv = tmp_path / "candles.csv"
    candles = {
        c: np.arange(1.0, HOURS + 1) for c in ("open_price", "highest_price", "lowest_price", "closing_price")
    }
    pd.DataFrame({"date": _hours().astype(str), **candles, "volume": volumes}).to_csv(csv, index=False)
    for spec in (
        DatasetSpec(join="prices", symbols=("AAAUSDT",), lookback=4, horizon=1),
        DatasetSpec(join="ohlcv", csv=str(csv), targets=("closing_price",), lookback=4, horizon=1),
    ):
        symbol = spec.symbol_list[0]
        source = None if spec.csv else url
        whole = load_symbol_rows(plan_source(spec, source), symbol)
        bounded = load_symbol_rows(plan_source(replace(spec, **bounds), source), symbol)  # type: ignore[arg-type]
        kept = whole[
            (whole["date"] >= str(bounds.get("start", "2000"))) & (whole["date"] <= str(bounds["end"]))
        ]
        kept = kept.tail(int(str(bounds.get("max_rows_per_symbol", HOURS))))
        assert bounded["date"].tolist() == kept["date"].tolist()
        assert (
            bounded["volume"].tolist() == kept["volume"].tolist() and 6400 < bounded["volume"].iloc[0] < 6500
        )


@pytest.mark.parametrize("chunk_rows", [4, 50_000])
def test_a_row_without_a_date_is_named_by_its_row_in_the_file_whatever_the_chunks(
    chunk_rows: int, tmp_path: Path
) -> None:
    """A date missing on the 16th row of a file read 4 rows at a time was named "row 4 of 4": its place in
    the fourth chunk, not in the file."""
    dates: list[object] = list(_hours(20).astype(str))
    dates[15] = ""
    file = tmp_path / "crypto_price.csv"
    price_rows(dates, ["1"] * 20).to_csv(file, index=False)
    with pytest.raises(DataError, match=r"a row has no date \(row 16, the header not counted\)"):
        load_csv(file, f"sqlite:///{tmp_path / 'db.sqlite'}", chunk_rows=chunk_rows)


@pytest.mark.parametrize("layout", ["%Y-%m-%d %I:%M %p", "%Y-%m-%d %I:%M:%S %p"])
def test_year_first_twelve_hour_dates_are_read_whatever_the_first_hour(layout: str) -> None:
    """`2024-01-01 01:00 AM` first was read (pandas guessed the layout) but `2024-01-01 12:00 AM` first was
    "not a date": pandas guesses nothing for it, and no listed layout had the year first with AM/PM."""
    hours = pd.date_range("2024-01-01", periods=30, freq="1h")
    for start in (0, 1):
        text = pd.Series(hours[start:].strftime(layout))
        assert list(parse_dates(text, "date")) == list(hours[start:])


@pytest.mark.parametrize(
    ("dates", "match"),
    [
        # 1 January 2024 is a Monday: a literal "Tue" (pandas' guess) and a wrong %a were both read as Monday
        (
            ["Tue, 01 Jan 2024 00:00:00 +0000", "Tue, 01 Jan 2024 01:00:00 +0000"],
            "Tue, 01 Jan.*Monday 2024-01-01",
        ),
        (
            ["Mon, 01 Jan 2024 00:00:00 +0000", "Wed, 02 Jan 2024 01:00:00 +0000"],
            "Wed, 02 Jan.*Tuesday 2024-01-02",
        ),
        (["Monday 2024-01-01 00:00", "Monday 2024-01-02 00:00"], "Monday 2024-01-02.*Tuesday 2024-01-02"),
        # 23:59:60 was read as 00:00:00 of the next day, the time of the row after it
        (["2016-12-31 22:59:60", "2016-12-31 23:59:60"], "'2016-12-31 22:59:60' is a leap second"),
    ],
)
def test_a_text_date_that_its_format_would_misread_is_refused(dates: list[str], match: str) -> None:
    with pytest.raises(DataError, match=match):
        parse_dates(pd.Series(dates, dtype=object), "date")


def test_a_weekday_name_is_checked_on_the_local_date_of_its_offset() -> None:
    # Sunday 23:30 at -01:00 is Monday 00:30 UTC; Monday 00:30 at +01:00 is Sunday 23:30 UTC
    dates = [
        "Sun, 31 Dec 2023 23:30:00 -0100",
        "Mon, 01 Jan 2024 00:30:00 +0100",
        "Mon, 01 Jan 2024 02:00:00 +0000",
    ]
    parsed = parse_dates(pd.Series(dates, dtype=object), "date")
    assert parsed.tolist() == [
        pd.Timestamp(t) for t in ("2024-01-01 00:30", "2023-12-31 23:30", "2024-01-01 02:00")
    ]


def test_load_csv_refuses_a_weekday_the_date_is_not_on(tmp_path: Path) -> None:
    hours = _hours(3)
    dates = [f"{t:%a}, {t:%d %b %Y %H:%M:%S} +0000" for t in hours]
    dates[2] = dates[2].replace("Mon", "Sun")
    price_rows(dates).to_csv(tmp_path / "crypto_price.csv", index=False)
    with pytest.raises(DataError, match="'Sun, 01 Jan 2024 02:00:00 \\+0000' names a weekday"):
        load_csv(tmp_path / "crypto_price.csv", f"sqlite:///{tmp_path / 'w.db'}", table="crypto_price")
