"""Names, symbols and cuts that databases treat differently: the same CSV input gives the same rows on
SQLite, MariaDB and PostgreSQL, or one refusal naming what to fix.

- header names with blanks around them, differing only in case, or too long for PostgreSQL;
- a `%` in a column name (drivers with %-style parameters);
- a column two joined tables both supply;
- symbols that look like numbers (0050 is not 50);
- two rows at one time exactly at the `max_rows_per_symbol` cut;
- dates beyond what datetime64[ns] holds, numbers whose comma is ambiguous even with an exponent.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from seqsweep.data.date_reading import parse_dates
from seqsweep.data.load_csv import load_csv
from seqsweep.data.number_reading import parse_numeric
from seqsweep.data.sources import plan_source
from seqsweep.data.spec import DatasetSpec
from seqsweep.data.symbol_rows import load_symbol_rows
from seqsweep.data.tables import RATE_COLUMNS
from seqsweep.errors import DataError
from tests.data.tiny_prices import price_frame

BACKENDS = ["sqlite", "mariadb", "postgresql"]


def write_csvs(folder: Path, prices: pd.DataFrame, *, header: list[str] | None = None) -> Path:
    """`crypto_price.csv` (with `header` written in place of the frame's names) and an hourly
    `US_Bond_Yield.csv` covering it, in a new folder."""
    folder.mkdir(parents=True, exist_ok=True)
    prices.to_csv(folder / "crypto_price.csv", index=False, header=header or True)
    hours = pd.to_datetime(prices["date"]).drop_duplicates().sort_values()
    pd.DataFrame({"date": hours.astype(str), "yield": 4.4e-6}).to_csv(
        folder / "US_Bond_Yield.csv", index=False
    )
    return folder


def rows(url: str | None, spec: DatasetSpec, symbol: str = "AAAUSDT") -> pd.DataFrame:
    return load_symbol_rows(plan_source(spec, url), symbol)


@pytest.mark.parametrize(
    ("header_edit", "message"),
    [
        (lambda h: [h[0], h[1], " open", *h[3:]], "blanks around it"),
        (lambda h: [*h[:-1], "volume "], "blanks around it"),
        (lambda h: [*h, "Close"], "differ only in case"),
        (lambda h: [*h, "x" * 70], "70 bytes long in UTF-8"),
        # 40 characters, 73 bytes: PostgreSQL kept 63 bytes of it, SQLite all 40
        (lambda h: [*h, "объём_торгов_в_долларах_сша_за_час_итого"], "73 bytes long in UTF-8"),
        (lambda h: [*h, "ratio:start"], "column name 'ratio:start' holds ':'"),
        (lambda h: [*h, "back`tick"], "column name 'back`tick' holds '`'"),
        (lambda h: [*h, "vol\U0001f4c8"], "a 4-byte character"),  # MariaDB: a raw driver error
    ],
    ids=[
        "leading blank",
        "trailing blank",
        "case twin",
        "too long",
        "too many bytes",
        "colon",
        "backtick",
        "emoji",
    ],
)
def test_header_names_the_databases_store_differently_are_refused(
    header_edit: object, message: str, tmp_path: Path
) -> None:
    frame = price_frame("AAAUSDT", 0, hours=30)
    header = header_edit(list(frame.columns))  # type: ignore[operator]
    if len(header) > len(frame.columns):
        frame = frame.assign(extra=1.0)
    folder = write_csvs(tmp_path / "csv", frame, header=header)
    with pytest.raises(DataError, match=message):
        load_csv(folder, f"sqlite:///{tmp_path / 'x.db'}")


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_a_percent_sign_in_a_column_name_builds_alike_everywhere(database: str, tmp_path: Path) -> None:
    frame = price_frame("AAAUSDT", 1, hours=30).assign(**{"Change %": np.linspace(-1, 1, 30)})
    load_csv(write_csvs(tmp_path / "csv", frame), database)
    got = rows(database, DatasetSpec(join="prices", symbols=("AAAUSDT",), lookback=4, horizon=1))
    np.testing.assert_allclose(got["Change %"].to_numpy(), frame["Change %"].to_numpy())


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
@pytest.mark.parametrize("name", ["ratio:start", "ratio :x", "back`tick"])
def test_a_tables_own_column_name_the_sql_cannot_keep_is_refused_naming_it(database: str, name: str) -> None:
    """`ratio:start` read as the `:start` parameter (`text()`), `ratio :x` as a missing `:x`, and MariaDB
    reflects `back`tick` already doubled: each was a driver error that did not name the column."""
    engine = sa.create_engine(database)
    frame = price_frame("AAAUSDT", 1, hours=30).assign(**{name: 1.0})
    frame.to_sql("crypto_price", engine, index=False)
    pd.DataFrame({"date": frame["date"], "yield": 4.4e-6}).to_sql("US_Bond_Yield", engine, index=False)
    engine.dispose()
    with pytest.raises(DataError, match=r"^table 'crypto_price': column '.*' holds '[:`]'"):
        rows(database, DatasetSpec(join="prices", symbols=("AAAUSDT",), lookback=4, horizon=1))


@pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)
def test_a_column_two_joined_tables_supply_is_refused_not_taken_from_one(
    database: str, tmp_path: Path
) -> None:
    frame = price_frame("AAAUSDT", 2, hours=30).assign(**{"yield": 0.05})  # the bond table has one too
    load_csv(write_csvs(tmp_path / "csv", frame), database)
    with pytest.raises(DataError, match=r"'crypto_price' and 'US_Bond_Yield' both have a column 'yield'"):
        plan_source(DatasetSpec(join="prices", symbols=("AAAUSDT",), lookback=4, horizon=1), database)


def test_symbols_that_look_like_numbers_keep_their_leading_zeros(tmp_path: Path) -> None:
    frames = [
        price_frame("AAAUSDT", 3, hours=10),
        price_frame("0050", 4, hours=10),
        price_frame("050", 5, hours=10),
    ]
    url = f"sqlite:///{tmp_path / 'x.db'}"
    # small chunks: a chunk holding only numeric-looking symbols is read as text all the same
    load_csv(write_csvs(tmp_path / "csv", pd.concat(frames, ignore_index=True)), url, chunk_rows=7)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT crypto_symbol, COUNT(*) FROM crypto_price GROUP BY crypto_symbol")
        ).all()
    engine.dispose()
    assert dict(stored) == {"AAAUSDT": 10, "0050": 10, "050": 10}


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_two_rows_at_one_time_at_the_row_cut_are_refused_on_every_database(
    database: str, tmp_path: Path
) -> None:
    frame = price_frame("AAAUSDT", 6, hours=60)
    twin = frame.iloc[[30]].assign(close=99.9)  # row 31 of 60: exactly the 30th latest time
    load_csv(write_csvs(tmp_path / "csv", pd.concat([frame, twin], ignore_index=True)), database)
    spec = DatasetSpec(join="prices", symbols=("AAAUSDT",), lookback=2, horizon=1, max_rows_per_symbol=30)
    with pytest.raises(DataError, match="appear 2 times with different values"):
        rows(database, spec)
    # an identical repeat at the cut is kept once: still the latest 30 times
    load_csv(write_csvs(tmp_path / "csv2", pd.concat([frame, frame.iloc[[30]]], ignore_index=True)), database)
    got = rows(database, spec)
    assert len(got) == 30 and got["date"].is_unique
    assert got["date"].iloc[0] == pd.Timestamp(frame["date"].iloc[30])


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_copies_above_the_cut_do_not_hide_a_conflict_below_them(database: str, tmp_path: Path) -> None:
    """LIMIT counts rows: an exact repeat of the latest hour took the one row past the cut, so of two
    conflicting rows at the 30th latest time only one came and was kept without a word."""
    frame = price_frame("AAAUSDT", 6, hours=60)
    copies = [frame.iloc[[59]], frame.iloc[[58]], frame.iloc[[30]].assign(close=99.9)]
    load_csv(write_csvs(tmp_path / "csv", pd.concat([frame, *copies], ignore_index=True)), database)
    spec = DatasetSpec(join="prices", symbols=("AAAUSDT",), lookback=2, horizon=1, max_rows_per_symbol=30)
    with pytest.raises(DataError, match="appear 2 times with different values"):
        rows(database, spec)


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_a_row_without_a_date_is_refused_under_the_cut_on_every_database(database: str) -> None:
    """PostgreSQL sorts NULL first in `ORDER BY date DESC`, SQLite and MariaDB last: only PostgreSQL's
    latest rows held the dateless row (so `validate` passed on SQLite and `run` then refused)."""
    engine = sa.create_engine(database)
    frame = price_frame("AAAUSDT", 6, hours=60)
    dateless = frame.iloc[[0]].astype({"date": object}).assign(date=None)
    pd.concat([frame.astype({"date": object}), dateless]).to_sql("crypto_price", engine, index=False)
    hours = frame["date"]
    pd.DataFrame({"date": hours, "yield": 4.4e-6}).to_sql("US_Bond_Yield", engine, index=False)
    engine.dispose()
    for limit in (None, 30):
        spec = DatasetSpec(
            join="prices", symbols=("AAAUSDT",), lookback=2, horizon=1, max_rows_per_symbol=limit
        )
        with pytest.raises(DataError, match="1 row of AAAUSDT without a date"):
            rows(database, spec)


def _undated_copy(frame: pd.DataFrame, at: int) -> pd.DataFrame:
    """`frame` with the date of row `at` removed (NULL once written)."""
    frame = frame.astype({"date": object})
    frame.loc[at, "date"] = None
    return frame


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
@pytest.mark.parametrize(
    ("join", "undated", "message"),
    [
        ("notebook", "crypto_price", "table 'crypto_price': 2 rows of AAAUSDT without a date"),
        ("prices", "US_Bond_Yield", "table 'US_Bond_Yield': 2 rows without a date"),
        ("prices", "crypto_price", "table 'crypto_price': 2 rows of AAAUSDT without a date"),
    ],
    ids=["joined prices", "joined yield", "bounded base"],
)
def test_rows_without_a_date_in_any_joined_table_are_refused(
    database: str, join: str, undated: str, message: str
) -> None:
    """SQL never matches NULL: a dateless row of the notebook join's prices, or of the yield, left the
    join without a word (its hour, its value lost), and a dateless row of the base table left a
    `start`-bounded read; only an unbounded read of the base table refused one."""
    engine = sa.create_engine(database)
    prices = price_frame("AAAUSDT", 6, hours=60)
    hours = prices["date"]
    lending = pd.DataFrame({"date": hours, "crypto_symbol": "AAAUSDT", **dict.fromkeys(RATE_COLUMNS, 0.01)})
    bond = pd.DataFrame({"date": hours, "yield": 4.4e-6})
    tables = {"crypto_price": prices, "US_Bond_Yield": bond, "crypto_lending_borrowing": lending}
    tables[undated] = _undated_copy(_undated_copy(tables[undated], 40), 41)
    for name, frame in tables.items():
        frame.to_sql(name, engine, index=False)
    engine.dispose()
    targets = ("lending_rate",) if join == "notebook" else ("close",)
    spec = DatasetSpec(
        join=join, symbols=("AAAUSDT",), targets=targets, lookback=2, horizon=1, start=str(hours[10])
    )
    with pytest.raises(DataError, match=message):
        rows(database, spec)
    fixed = sa.create_engine(database)
    tables[undated].dropna(subset=["date"]).to_sql(undated, fixed, if_exists="replace", index=False)
    fixed.dispose()
    # the hours from `start` on, less the two dateless price rows where the prices were the ones edited
    assert len(rows(database, spec)) == 50 - (2 if undated == "crypto_price" else 0)


@pytest.mark.parametrize("database", ["mariadb"], indirect=True)
@pytest.mark.parametrize("undated", ["crypto_price", "US_Bond_Yield"])
@pytest.mark.parametrize("zero", ["0000-00-00 00:00:00", "2024-01-00 05:00:00", "2024-00-03 05:00:00"])
def test_mariadb_zero_dates_in_a_joined_table_are_refused_like_null_ones(
    database: str, undated: str, zero: str
) -> None:
    """MariaDB's default sql_mode stores `0000-00-00 00:00:00`, and a zero day or month (`2024-01-00`): such
    rows of the notebook join's prices or of the yield matched nothing and left the join without a word,
    where NULL dates were refused (a zero day or month still did so after the zero date was refused)."""
    engine = sa.create_engine(database)
    hours = price_frame("AAAUSDT", 6, hours=60)["date"]
    tables = {
        "crypto_price": price_frame("AAAUSDT", 6, hours=60),
        "US_Bond_Yield": pd.DataFrame({"date": hours, "yield": 4.4e-6}),
        "crypto_lending_borrowing": pd.DataFrame(
            {"date": hours, "crypto_symbol": "AAAUSDT", **dict.fromkeys(RATE_COLUMNS, 0.01)}
        ),
    }
    with engine.begin() as conn:
        for name, frame in tables.items():
            frame.to_sql(name, conn, index=False)
        conn.execute(sa.text("SET SESSION sql_mode = ''"))
        conn.execute(
            sa.text(f"UPDATE `{undated}` SET date = :zero WHERE date = :at"),
            {"zero": zero, "at": hours[40].to_pydatetime()},
        )
    engine.dispose()
    spec = DatasetSpec(
        join="notebook", symbols=("AAAUSDT",), targets=("lending_rate",), lookback=2, horizon=1
    )
    with pytest.raises(
        DataError, match=rf"table '{undated}': 1 row.* without a date \(NULL, or MariaDB's zero"
    ):
        rows(database, spec)


def test_a_dataset_csv_cut_sees_the_row_past_it_too(tmp_path: Path) -> None:
    frame = price_frame("AAAUSDT", 7, hours=40)
    twin = frame.iloc[[20]].assign(close=99.9)  # the 20th latest time
    path = tmp_path / "candles.csv"
    candles = pd.concat([frame, twin], ignore_index=True).drop(columns="crypto_symbol")
    names = {"open": "open_price", "high": "highest_price", "low": "lowest_price", "close": "closing_price"}
    candles.rename(columns=names).to_csv(path, index=False)
    spec = DatasetSpec(join="ohlcv", lookback=2, horizon=1, max_rows_per_symbol=20, csv=str(path))
    plan = plan_source(spec, None)
    with pytest.raises(DataError, match="appear 2 times with different values"):
        load_symbol_rows(plan, plan.symbols[0] if plan.symbols else "")
    # exact repeats of the latest hours do not push the conflict out of the rows read
    repeats = pd.concat([candles, candles.iloc[[39, 38]]], ignore_index=True)
    repeats.rename(columns=names).to_csv(path, index=False)
    with pytest.raises(DataError, match="appear 2 times with different values"):
        load_symbol_rows(plan_source(spec, None), plan.symbols[0] if plan.symbols else "")


@pytest.mark.parametrize(
    "values", [["2024-01-01", "9999-12-31 00:00:00"], [pd.Timestamp("2024-01-01").to_pydatetime(), pd.NaT]]
)
def test_dates_beyond_nanosecond_timestamps_are_one_data_error(values: list[object]) -> None:
    import datetime

    if values[1] is pd.NaT:
        values = [values[0], datetime.datetime(2300, 1, 1)]
    with pytest.raises(DataError, match=r"column 'date': .*dates must lie between 1677-09-21 and 2262-04-11"):
        parse_dates(pd.Series(values, dtype=object), "date")


@pytest.mark.parametrize("text", ["1,200E+03", "4,470e-6"])
def test_a_lone_comma_group_is_ambiguous_with_an_exponent_too(text: str) -> None:
    with pytest.raises(DataError, match="ambiguous"):
        parse_numeric(pd.Series([text, text]), "volume")
    # several groups are thousands separators beyond doubt
    assert parse_numeric(pd.Series(["1,234,567e3"]), "volume").iloc[0] == 1_234_567_000.0


def test_a_latin1_mariadb_database_reads_its_symbols_as_text(tmp_path: Path) -> None:
    """MariaDB stores a latin1 database's text in latin1: its symbols are read, matched and selected as
    the same text a UTF-8 database gives (no UnicodeDecodeError, the same rows)."""
    from tests.databases import MARIADB_SERVER

    name = f"seqsweep_latin1_{uuid.uuid4().hex[:12]}"
    server = sa.create_engine(
        f"{MARIADB_SERVER}/", isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )
    try:
        with server.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET latin1"))
    except sa.exc.OperationalError as exc:
        server.dispose()
        pytest.skip(f"MariaDB at {MARIADB_SERVER} is unreachable ({exc.orig})")
    try:
        frames = [price_frame("AAAUSDT", 8, hours=30), price_frame("ÀAAUSDT", 9, hours=30)]
        url = f"{MARIADB_SERVER}/{name}"
        load_csv(write_csvs(tmp_path / "csv", pd.concat(frames, ignore_index=True)), url)
        spec = DatasetSpec(join="prices", symbols=("AAAUSDT", "ÀAAUSDT"), lookback=4, horizon=1)
        for symbol, frame in zip(("AAAUSDT", "ÀAAUSDT"), frames, strict=True):
            got = load_symbol_rows(plan_source(spec, url), symbol)
            np.testing.assert_allclose(got["close"].to_numpy(), frame["close"].to_numpy())
    finally:
        with server.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_a_tables_own_column_with_blanks_around_its_name_is_refused_alike(
    database: str, tmp_path: Path
) -> None:
    """A table made without load-csv (which refuses such a header) may still have one."""
    load_csv(write_csvs(tmp_path / "csv", price_frame("AAAUSDT", 10, hours=30)), database)
    quote = "`" if database.startswith("mysql") else '"'
    engine = sa.create_engine(database)
    with engine.begin() as conn:
        conn.execute(sa.text(f"ALTER TABLE crypto_price ADD COLUMN {quote} spread{quote} FLOAT"))
    engine.dispose()
    with pytest.raises(DataError, match=r"column ' spread' has blanks around its name"):
        plan_source(DatasetSpec(join="prices", symbols=("AAAUSDT",), lookback=4, horizon=1), database)


def test_a_comma_ending_every_row_is_read_in_place_and_an_extra_value_refused(tmp_path: Path) -> None:
    frame = price_frame("AAAUSDT", 11, hours=30)
    folder = write_csvs(tmp_path / "csv", frame)
    lines = (folder / "crypto_price.csv").read_text().splitlines()
    (folder / "crypto_price.csv").write_text(
        "\n".join([lines[0], *(line + "," for line in lines[1:])]) + "\n"
    )
    url = f"sqlite:///{tmp_path / 'x.db'}"
    load_csv(folder, url)
    got = rows(url, DatasetSpec(join="prices", symbols=("AAAUSDT",), lookback=4, horizon=1))
    np.testing.assert_allclose(got["volume"].to_numpy(), frame["volume"].to_numpy())  # not shifted

    # every row one value more than the header names: pandas would drop the last value with a warning
    (folder / "crypto_price.csv").write_text(
        "\n".join([lines[0], *(line + ",7" for line in lines[1:])]) + "\n"
    )
    with pytest.raises(DataError, match=r"crypto_price\.csv: line 2 has 8 values, the header names 7"):
        load_csv(folder, url)


@pytest.mark.parametrize("broken", [1, 2, 20], ids=["first row", "second row", "a later row"])
def test_a_row_that_lost_a_value_in_a_comma_ending_file_is_refused(tmp_path: Path, broken: int) -> None:
    """Every row ends with a comma and one lost its close: `…,low,volume,` has as many fields as the
    header, so it read as complete and stored the volume as the close (500× the price) without a word."""
    frame = price_frame("AAAUSDT", 11, hours=30)
    folder = write_csvs(tmp_path / "csv", frame)
    lines = (folder / "crypto_price.csv").read_text().splitlines()
    rows_ = [line + "," for line in lines[1:]]
    fields = rows_[broken - 1].split(",")
    rows_[broken - 1] = ",".join(fields[:5] + fields[6:])  # the close left out, the comma kept
    (folder / "crypto_price.csv").write_text("\n".join([lines[0], *rows_]) + "\n")
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(
        DataError,
        match=rf"line {broken + 1} has 6 values and a comma ending it, as other rows do, but the header",
    ):
        load_csv(folder, url)


@pytest.mark.parametrize(
    ("character", "name"),
    [("\u200b", "ZERO WIDTH SPACE"), ("\u00ad", "SOFT HYPHEN"), ("\ufeff", "ZERO WIDTH NO-BREAK SPACE")],
)
def test_a_symbol_with_an_invisible_character_is_refused(tmp_path: Path, character: str, name: str) -> None:
    """`AAAUSDT\u200b` prints as AAAUSDT but was stored as another symbol: its row left AAAUSDT's series
    (a gap there) without a word."""
    frame = price_frame("AAAUSDT", 11, hours=30)
    frame.loc[7, "crypto_symbol"] = "AAAUSDT" + character
    with pytest.raises(DataError, match=rf"symbol 'AAAUSDT.*' holds the invisible character .*\({name}\)"):
        load_csv(write_csvs(tmp_path / "csv", frame), f"sqlite:///{tmp_path / 'x.db'}")


def test_table_files_differing_only_in_case_are_refused_before_any_table_changes(tmp_path: Path) -> None:
    """`crypto_price.csv` beside `CRYPTO_PRICE.csv`: SQLite dropped the table it had just swapped in and
    failed half way (the yield already replaced); MariaDB and PostgreSQL kept two tables."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    frame = price_frame("AAAUSDT", 1, hours=30)
    load_csv(write_csvs(tmp_path / "good", frame), url)
    twins = write_csvs(tmp_path / "twins", frame.assign(close=frame["close"] * 2))
    (twins / "CRYPTO_PRICE.csv").write_bytes((twins / "crypto_price.csv").read_bytes())
    with pytest.raises(DataError, match=r"CRYPTO_PRICE\.csv and crypto_price\.csv .* differ only in case"):
        load_csv(twins, url)
    got = rows(url, DatasetSpec(join="prices", symbols=("AAAUSDT",), lookback=4, horizon=1))
    np.testing.assert_allclose(got["close"].to_numpy(), frame["close"].to_numpy())


def test_a_file_with_an_upper_case_suffix_is_loaded_not_skipped(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    folder = write_csvs(tmp_path / "csv", price_frame("AAAUSDT", 1, hours=30))
    (folder / "US_Bond_Yield.csv").rename(folder / "US_Bond_Yield.CSV")
    assert set(load_csv(folder, url)) == {"crypto_price", "US_Bond_Yield"}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda line: line.rsplit(",", 1)[0],
            r"line 3 has 6 values, the header names 7 columns: a value is missing",
        ),
        (lambda line: line + ",10", r"line 3 has 8 values, the header names 7 columns: name every column"),
        (
            lambda line: line.replace(".", ","),
            r"line 3 has \d+ values, the header names 7 columns: name every column or drop the extra values "
            r"\(a decimal comma splits a value in two: 1234,5 is read as 1234 and 5; write 1234\.5\)",
        ),
    ],
    ids=["a value left out", "a value too many", "decimal commas"],
)
def test_a_row_of_another_width_is_refused_naming_its_line(
    tmp_path: Path, edit: object, message: str
) -> None:
    """pandas padded a short row (its later values moved one column left: a close stored as the low) and,
    for `dataset.csv` (read with `usecols`), dropped a value too many; `load-csv` refused only the latter."""
    folder = write_csvs(tmp_path / "csv", price_frame("AAAUSDT", 1, hours=30))
    lines = (folder / "crypto_price.csv").read_text().splitlines()
    lines[2] = edit(lines[2])  # type: ignore[operator]
    (folder / "crypto_price.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=message):
        load_csv(folder, f"sqlite:///{tmp_path / 'x.db'}")
    candles = tmp_path / "candles.csv"
    names = {"open": "open_price", "high": "highest_price", "low": "lowest_price", "close": "closing_price"}
    frame = price_frame("AAAUSDT", 1, hours=30).drop(columns="crypto_symbol").rename(columns=names)
    text = frame.to_csv(index=False).splitlines()
    text[2] = edit(text[2])  # type: ignore[operator]
    candles.write_text("\n".join(text) + "\n")
    with pytest.raises(
        DataError,
        match=message.replace("7 columns", "6 columns")
        .replace("8 values", "7 values")
        .replace("6 values", "5 values"),
    ):
        plan_source(DatasetSpec(join="ohlcv", lookback=2, horizon=1, csv=str(candles)), None)


def test_a_compressed_file_cut_short_is_one_line(tmp_path: Path) -> None:
    import gzip

    folder = write_csvs(tmp_path / "csv", price_frame("AAAUSDT", 1, hours=2000))
    packed = gzip.compress((folder / "crypto_price.csv").read_bytes())
    (folder / "crypto_price.csv").unlink()
    (folder / "crypto_price.csv.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataError, match=r"crypto_price\.csv\.gz: .*"):
        load_csv(folder, f"sqlite:///{tmp_path / 'x.db'}")


def test_epoch_seconds_with_a_fraction_are_the_instant_written() -> None:
    """1704067200.123 went through float64 to 00:00:00.122999907 (stored .122999): it no longer joined
    the same instant written as text."""
    epochs = parse_dates(pd.Series(["1704067200.123", "1704070800.007"]), "date")
    text = parse_dates(pd.Series(["2024-01-01T00:00:00.123Z", "2024-01-01T01:00:00.007Z"]), "date")
    assert list(epochs) == list(text)


def _epoch_tables(database: str, price_units: list[int], yield_unit: int) -> None:
    """crypto_price and US_Bond_Yield with epoch-number dates: the k-th price row's date in seconds ×
    `price_units[k]` (1 = s, 1000 = ms), every yield date in seconds × `yield_unit`."""
    hours = price_frame("AAAUSDT", 6, hours=60)["date"]
    seconds = ((hours - pd.Timestamp(0)) // pd.Timedelta(seconds=1)).to_numpy(dtype=np.int64)
    prices = price_frame("AAAUSDT", 6, hours=60).assign(date=seconds * np.array(price_units, dtype=np.int64))
    bond = pd.DataFrame({"date": seconds * yield_unit, "yield": 4.4e-6})
    engine = sa.create_engine(database)
    prices.to_sql("crypto_price", engine, index=False)
    bond.to_sql("US_Bond_Yield", engine, index=False)
    engine.dispose()


@pytest.mark.parametrize("database", BACKENDS[:2], indirect=True)
def test_the_latest_rows_of_epoch_dates_whose_unit_changes_partway_are_refused(database: str) -> None:
    """Milliseconds for 40 hours, then seconds: a whole read refused it; the latest rows (`ORDER BY date DESC
    LIMIT`, `max_rows_per_symbol`, `predict`) were the milliseconds' (they sort after), and the 20 newest
    hours were left out without a word."""
    _epoch_tables(database, [1000] * 40 + [1] * 20, 1)
    spec = DatasetSpec(join="prices", symbols=("AAAUSDT",), lookback=2, horizon=1, max_rows_per_symbol=10)
    with pytest.raises(DataError, match=r"crypto_price.date mixes epoch units"):
        rows(database, spec)


@pytest.mark.parametrize("database", BACKENDS[:2], indirect=True)
def test_joined_epoch_dates_in_two_units_are_refused_on_every_database(database: str) -> None:
    """Prices in seconds, the yield in milliseconds: MariaDB refused the join, SQLite left every yield
    missing and then named the wrong fix ("column 'yield' is all NaN")."""
    _epoch_tables(database, [1] * 60, 1000)
    spec = DatasetSpec(join="prices", symbols=("AAAUSDT",), lookback=2, horizon=1)
    with pytest.raises(
        DataError, match=r"holds epoch \w+ and .*epoch \w+: the join on date would match no row"
    ):
        rows(database, spec)


@pytest.mark.parametrize("database", BACKENDS[:2], indirect=True)
def test_a_daily_yield_beside_hourly_prices_is_refused_not_masked_in_23_hours_of_24(database: str) -> None:
    """A FRED-style daily yield (one row per day at midnight, stored as DATETIME) joined hourly prices on
    date: the build exited 0 with the yield missing in every hour but midnight."""
    prices = price_frame("AAAUSDT", 6, hours=24 * 6)
    days = pd.date_range(prices["date"].min(), prices["date"].max(), freq="1D")
    engine = sa.create_engine(database)
    prices.to_sql("crypto_price", engine, index=False)
    pd.DataFrame({"date": days, "yield": 4.4e-6}).to_sql("US_Bond_Yield", engine, index=False)
    engine.dispose()
    spec = DatasetSpec(join="prices", symbols=("AAAUSDT",), lookback=2, horizon=1)
    with pytest.raises(
        DataError, match=r"'US_Bond_Yield' has a row every 1 days .* and 'crypto_price' every 0 days 01"
    ):
        rows(database, spec)
    excluded = DatasetSpec(
        join="prices", symbols=("AAAUSDT",), lookback=2, horizon=1, exclude_columns=("yield",)
    )
    assert len(rows(database, excluded)) == len(prices)  # left out: the way the message names
