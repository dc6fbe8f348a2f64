"""`data load-csv`: tables named after files, chunked, typed, indexed, replaced whole or not at all."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from seqsweep.cli import main
from seqsweep.data import DatasetSpec
from seqsweep.data.load_csv import load_csv
from seqsweep.data.sample import generate_tables
from seqsweep.data.sources import plan_source
from seqsweep.data.tables import PRICE_TABLE
from seqsweep.errors import DataError
from tests.databases import run_sql


@pytest.fixture
def csv_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "csv"
    folder.mkdir()
    for name, frame in generate_tables(seed=5, hours=72).items():
        frame.to_csv(folder / f"{name}.csv.gz", index=False)
    return folder


def _read(url: str, table: str) -> pd.DataFrame:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        frame = pd.read_sql(sa.text(f'SELECT * FROM "{table}"'), conn)
    engine.dispose()
    return frame


def test_a_folder_loads_every_table_in_chunks_typed_and_indexed(csv_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    rows = load_csv(csv_dir, url, chunk_rows=100)  # many chunks
    source = generate_tables(seed=5, hours=72)
    assert rows == {name: len(frame) for name, frame in sorted(source.items())}
    engine = sa.create_engine(url)
    inspector = sa.inspect(engine)
    types = {c["name"]: c["type"] for c in inspector.get_columns(PRICE_TABLE)}
    assert isinstance(types["date"], sa.DateTime)
    assert ["crypto_symbol", "date"] in [ix["column_names"] for ix in inspector.get_indexes(PRICE_TABLE)]
    assert not [t for t in inspector.get_table_names() if "staging" in t]
    engine.dispose()
    loaded = _read(url, PRICE_TABLE)
    assert len(loaded) == len(source[PRICE_TABLE])
    assert loaded["close"].sum() == pytest.approx(source[PRICE_TABLE]["close"].sum())


def test_loading_again_replaces_the_table(csv_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    load_csv(csv_dir, url)
    generate_tables(seed=6, hours=48)[PRICE_TABLE].to_csv(csv_dir / "crypto_price.csv.gz", index=False)
    load_csv(csv_dir / "crypto_price.csv.gz", url)
    assert len(_read(url, PRICE_TABLE)) == len(generate_tables(seed=6, hours=48)[PRICE_TABLE])


def test_a_bad_chunk_leaves_the_old_table_untouched(csv_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    load_csv(csv_dir, url)
    before = _read(url, PRICE_TABLE)
    broken = before.astype({"date": str})
    broken.loc[len(broken) - 1, "date"] = "not a date"
    broken.to_csv(csv_dir / "crypto_price.csv.gz", index=False)
    with pytest.raises(DataError, match=r"crypto_price\.csv\.gz"):
        load_csv(csv_dir / "crypto_price.csv.gz", url, chunk_rows=100)
    pd.testing.assert_frame_equal(_read(url, PRICE_TABLE), before)
    assert "crypto_price__staging" not in sa.inspect(sa.create_engine(url)).get_table_names()


def test_a_file_with_a_header_and_no_rows_replaces_nothing(csv_dir: Path, tmp_path: Path) -> None:
    """A header-only export loaded as an empty table (exit 0), replacing the table's rows."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    load_csv(csv_dir, url)
    before = _read(url, PRICE_TABLE)
    before.head(0).to_csv(csv_dir / "crypto_price.csv.gz", index=False)
    with pytest.raises(DataError, match=r"^load-csv: crypto_price\.csv\.gz: it holds a header and no rows"):
        load_csv(csv_dir / "crypto_price.csv.gz", url)
    pd.testing.assert_frame_equal(_read(url, PRICE_TABLE), before)


def test_a_bad_file_in_a_folder_leaves_every_table_as_it_was(csv_dir: Path, tmp_path: Path) -> None:
    """Files load in name order; a bad last file must not leave the earlier tables already replaced."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    load_csv(csv_dir, url)
    before = {name: _read(url, name) for name in (PRICE_TABLE, "ohlcv")}
    generate_tables(seed=6, hours=48)[PRICE_TABLE].to_csv(csv_dir / "crypto_price.csv.gz", index=False)
    broken = before["ohlcv"].astype({"volume": str})
    broken.loc[3, "volume"] = "twelve"
    broken.to_csv(csv_dir / "ohlcv.csv.gz", index=False)
    with pytest.raises(DataError, match=r"ohlcv\.csv\.gz.*volume.*twelve"):
        load_csv(csv_dir, url, chunk_rows=100)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(_read(url, name), frame)
    assert not [t for t in sa.inspect(sa.create_engine(url)).get_table_names() if "staging" in t]


def test_one_file_loads_under_a_given_table_name(tmp_path: Path) -> None:
    candles = pd.DataFrame(
        {
            "closing_price": [2.0, 2.1],
            "date": ["2021-09-14 07:50:00", "2021-09-14 07:55:00"],
            "highest_price": [2.2, 2.3],
            "lowest_price": [1.9, 2.0],
            "open_price": [2.0, 2.05],
            "utc_timestamp": [1631605800000, 1631606100000],
            "volume": [10.0, 11.0],
        }
    )
    file = tmp_path / "ETH-USDT1min.csv.gz"
    candles.to_csv(file, index=False)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert main(["data", "load-csv", str(file), "--db", url, "--table", "ohlcv"]) == 0
    assert len(_read(url, "ohlcv")) == 2


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing_column", "crypto_price.csv.gz has no column 'crypto_symbol'"),
        ("empty_folder", "no .csv or .csv.gz files"),
        ("bad_name", "is not named after a table"),
    ],
)
def test_bad_input_names_what_to_fix(
    tmp_path: Path, setup: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    if setup == "missing_column":
        pd.DataFrame({"date": ["2024-01-01"], "close": [1.0]}).to_csv(
            folder / "crypto_price.csv.gz", index=False
        )
    elif setup == "bad_name":
        pd.DataFrame({"date": ["2024-01-01"]}).to_csv(folder / "ETH-USDT1min.csv", index=False)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert main(["data", "load-csv", str(folder), "--db", url]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_a_semicolon_separated_file_is_refused_naming_the_separator(tmp_path: Path) -> None:
    (tmp_path / "crypto_price.csv").write_text(
        "date;crypto_symbol;open;high;low;close;volume\n2024-01-01 00:00:00;AAAUSDT;1,5;1,6;1,4;1,55;10\n"
    )
    with pytest.raises(DataError, match=r"crypto_price.csv is separated by semicolons .*','"):
        load_csv(tmp_path, f"sqlite:///{tmp_path / 'x.db'}")


@pytest.mark.parametrize("separator", ["\t", "|"], ids=["tabs", "vertical bars"])
@pytest.mark.parametrize("path_in", ["load-csv", "dataset.csv"])
def test_a_file_separated_otherwise_is_refused_naming_the_separator(
    separator: str, path_in: str, tmp_path: Path
) -> None:
    """A TSV named .csv was read as one column: `dataset.csv` said it "has no column 'date' (columns: date
    open_price ...)", naming the very column it lacked."""
    text = (PRICE if path_in == "load-csv" else CANDLES).replace(",", separator)
    file = tmp_path / ("crypto_price.csv" if path_in == "load-csv" else "candles.csv")
    file.write_text(f"{text}\n")
    name = "tabs" if separator == "\t" else "vertical bars"
    with pytest.raises(DataError, match=rf"{file.name} is separated by {name} .*','"):
        if path_in == "load-csv":
            load_csv(tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
        else:
            plan_source(DatasetSpec(join="ohlcv", csv=str(file)), None)


PRICE = "date,crypto_symbol,open,high,low,close,volume"
CANDLES = "date,open_price,highest_price,lowest_price,closing_price,volume"
HEADERS = {
    "written-out index": (lambda cols: f",{cols}", "column 1 of {n} has no name"),
    "trailing comma": (lambda cols: f"{cols},", "column {n} of {n} has no name"),
    "column twice": (lambda cols: f"{cols},volume", "column 'volume' appears twice"),
}


@pytest.mark.parametrize("header", HEADERS.values(), ids=HEADERS.keys())
@pytest.mark.parametrize("path_in", ["load-csv", "dataset.csv"])
def test_a_column_pandas_would_rename_is_refused_not_made_a_feature(
    header: tuple[Callable[[str], str], str], path_in: str, tmp_path: Path
) -> None:
    """pandas stores these as `Unnamed: 0` / `volume.1`, and the build took them as one more feature."""
    spell, message = header
    text = spell(PRICE if path_in == "load-csv" else CANDLES)
    message = message.format(n=len(text.split(",")))
    file = tmp_path / ("crypto_price.csv" if path_in == "load-csv" else "candles.csv")
    file.write_text(f"{text}\n")
    if path_in == "load-csv":
        with pytest.raises(DataError, match=rf"^load-csv: crypto_price\.csv: {message}"):
            load_csv(tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
    else:
        with pytest.raises(DataError, match=rf"^dataset\.csv: {file}: {message}"):
            plan_source(DatasetSpec(join="ohlcv", csv=str(file)), None)


@pytest.mark.parametrize("content", [b"", "date,open_price\n".encode("utf-16")], ids=["empty", "utf-16"])
def test_an_unreadable_dataset_csv_is_one_line_naming_the_file(content: bytes, tmp_path: Path) -> None:
    file = tmp_path / "candles.csv"
    file.write_bytes(content)
    with pytest.raises(DataError, match=rf"^dataset\.csv: {file}: cannot read it as UTF-8 CSV"):
        plan_source(DatasetSpec(join="ohlcv", csv=str(file)), None)


@pytest.mark.parametrize(
    "dates",
    [
        ["1704067200123456789", "1704067200123456999", "1704067260000000000"],
        ["2024-01-01T00:00:00.123456789Z", "2024-01-01T00:00:00.123456999Z", "2024-01-01T00:01:00Z"],
    ],
    ids=["epoch ns", "ISO text"],
)
def test_dates_finer_than_a_microsecond_are_refused_not_cut(
    dates: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every database keeps microseconds: the drivers cut .123456789 and .123456999 to one time without a
    word, and the build then refused "two rows at one time" that the input never had."""
    from tests.data.tiny_prices import price_rows

    file = tmp_path / "crypto_price.csv"
    price_rows(dates).to_csv(file, index=False)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert main(["data", "load-csv", str(file), "--db", url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert (
        "column 'date': 2024-01-01 00:00:00.123456789 is finer than the microsecond a database keeps" in err
    )
    assert PRICE_TABLE not in sa.inspect(sa.create_engine(url)).get_table_names()


@pytest.mark.parametrize("deciding", ["6,852,900", None], ids=["decided later", "never decided"])
def test_a_comma_is_decided_over_the_whole_column_whatever_the_chunks(
    deciding: str | None, tmp_path: Path
) -> None:
    """The first chunk's "50,902"s alone were refused as ambiguous, where `dataset.csv` (read whole) saw a
    later "6,852,900" and read thousands: one file, two answers. Now every chunk counts."""
    from tests.data.tiny_prices import price_rows

    volume = ["50,902"] * 30 + [deciding or "60,100"] + ["70,300"] * 9
    hours = pd.date_range("2024-01-01", periods=len(volume), freq="1h").astype(str)
    file = tmp_path / "crypto_price.csv"
    price_rows(list(hours), volume).to_csv(file, index=False)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    if deciding is None:
        with pytest.raises(DataError, match=r"column 'volume': the comma in '50,902' is ambiguous"):
            load_csv(file, url, chunk_rows=10)
        return
    load_csv(file, url, chunk_rows=10)
    stored = _read(url, PRICE_TABLE)["volume"].tolist()
    assert stored[:30] == [50902.0] * 30 and stored[30] == 6852900.0
    whole = price_rows(list(hours), volume)["volume"]
    from seqsweep.data.number_reading import parse_numeric

    assert parse_numeric(whole, "volume").tolist() == stored


def _row_counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    quote = engine.dialect.identifier_preparer.quote
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        counts = {
            t: int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {quote(t)}")).scalar_one()) for t in names
        }
    engine.dispose()
    return counts


@pytest.mark.parametrize("database", ["sqlite", "mariadb", "postgresql"], indirect=True)
def test_a_table_renamed_as_a_backup_does_not_block_the_next_load(database: str, csv_dir: Path) -> None:
    """`crypto_price` renamed `crypto_price_old` kept its index's name, which SQLite and PostgreSQL keep
    database-wide: the next load failed creating it, after the other tables had been replaced (PostgreSQL
    left no `crypto_price` at all); MariaDB loaded. Now it loads on every database."""
    load_csv(csv_dir, database)
    before = _row_counts(database)
    engine = sa.create_engine(database)
    quote = engine.dialect.identifier_preparer.quote
    with engine.begin() as conn:
        conn.execute(sa.text(f"ALTER TABLE {quote(PRICE_TABLE)} RENAME TO {quote(PRICE_TABLE + '_old')}"))
    engine.dispose()
    load_csv(csv_dir, database)
    after = _row_counts(database)
    assert after == {**before, PRICE_TABLE + "_old": before[PRICE_TABLE]}
    assert not any(name.endswith("__staging") for name in after)
    engine = sa.create_engine(database)
    indexes = sa.inspect(engine).get_indexes(PRICE_TABLE)
    engine.dispose()
    assert [index["column_names"] for index in indexes] == [["crypto_symbol", "date"]]


@pytest.mark.parametrize("database", ["sqlite", "mariadb", "postgresql"], indirect=True)
def test_a_view_in_the_way_is_refused_before_any_table_is_replaced(database: str, csv_dir: Path) -> None:
    """A `crypto_price` VIEW failed the swap after US_Bond_Yield and the rates had been replaced: the
    database was left half new, half old."""
    load_csv(csv_dir, database)
    engine = sa.create_engine(database)
    quote = engine.dialect.identifier_preparer.quote
    with engine.begin() as conn:
        conn.execute(sa.text(f"ALTER TABLE {quote(PRICE_TABLE)} RENAME TO {quote('prices_kept')}"))
        conn.execute(sa.text(f"CREATE VIEW {quote(PRICE_TABLE)} AS SELECT * FROM {quote('prices_kept')}"))
    engine.dispose()
    before = _row_counts(database)
    for path in csv_dir.iterdir():  # every file one row shorter: a replaced table would show it
        frame = pd.read_csv(path)
        frame.iloc[:-1].to_csv(path, index=False)
    with pytest.raises(DataError, match=rf"'{PRICE_TABLE}' is a view in the database"):
        load_csv(csv_dir, database)
    assert _row_counts(database) == before


def test_a_symbol_spelled_like_a_missing_value_is_a_symbol(tmp_path: Path) -> None:
    """`NA` (National Bank of Canada) was read as a missing symbol by load-csv ("a row has no symbol")
    while the same rows written with SQL built; an empty symbol cell is still refused, and `NA` in a value
    column is still a gap."""
    folder = tmp_path / "csv"
    folder.mkdir()
    rows = "".join(f"2024-01-01 0{hour}:00:00,{symbol},1,2,0.5,1.5,{volume}\n" for hour, symbol, volume in (
        (0, "NA", "NA"), (1, "nan", "10"), (2, "None", "12"), (3, "NA", "11")))  # fmt: skip
    (folder / "crypto_price.csv").write_text("date,crypto_symbol,open,high,low,close,volume\n" + rows)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    load_csv(folder, url)
    stored = _read(url, PRICE_TABLE)
    assert sorted(set(stored["crypto_symbol"])) == ["NA", "NAN", "NONE"]
    assert stored["volume"].isna().sum() == 1
    (folder / "crypto_price.csv").write_text(
        "date,crypto_symbol,open,high,low,close,volume\n2024-01-01 00:00:00,,1,2,0.5,1.5,10\n"
    )
    with pytest.raises(DataError, match=r"column 'crypto_symbol': a row has no symbol"):
        load_csv(folder, url)


@pytest.mark.parametrize("chunk_rows", [50, 1000])
def test_day_first_dates_are_decided_over_the_whole_column_whatever_the_chunks(
    chunk_rows: int, tmp_path: Path
) -> None:
    """Hourly `%d/%m/%Y` dates from 1 to 17 January loaded whole, but `--chunk-rows 500` (or the default
    50,000 rows on 5-minute candles) refused them: the first chunk, days 1–11 only, was called ambiguous."""
    folder = tmp_path / "csv"
    folder.mkdir()
    hours = pd.date_range("2024-01-01", periods=400, freq="1h")
    frame = pd.DataFrame({"date": hours.strftime("%d/%m/%Y %H:%M"), "crypto_symbol": "AAAUSDT", "open": 1.0,
                          "high": 2.0, "low": 0.5, "close": 1.5, "volume": 10.0})  # fmt: skip
    frame.to_csv(folder / "crypto_price.csv", index=False)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    load_csv(folder, url, chunk_rows=chunk_rows)
    assert list(pd.to_datetime(_read(url, PRICE_TABLE)["date"])) == list(hours)
    frame.iloc[:250].to_csv(folder / "crypto_price.csv", index=False)  # days 1-11 only: truly ambiguous
    with pytest.raises(
        DataError, match=r"column 'date': '02/01/2024 00:00' is ambiguous, day-first and month"
    ):
        load_csv(folder, url, chunk_rows=chunk_rows)
    assert len(_read(url, PRICE_TABLE)) == len(hours)  # the table keeps its rows


def _index_columns(url: str) -> dict[str, list[list[str]]]:
    engine = sa.create_engine(url)
    inspector = sa.inspect(engine)
    indexes = {
        t: [ix["column_names"] for ix in inspector.get_indexes(t)] for t in inspector.get_table_names()
    }
    engine.dispose()
    return indexes


def _symbols(url: str, table: str) -> list[str]:
    engine = sa.create_engine(url)
    quote = engine.dialect.identifier_preparer.quote
    with engine.connect() as conn:
        symbols = conn.execute(sa.text(f"SELECT crypto_symbol FROM {quote(table)} ORDER BY date")).scalars()
        found = [str(symbol) for symbol in symbols]
    engine.dispose()
    return found


def _one_row_files(folder: Path, names: list[str], symbol: str, rows: int = 1) -> Path:
    folder.mkdir()
    for name in names:
        lines = [f"2024-01-01 {hour:02d}:00:00,{symbol},{hour + 1}" for hour in range(rows)]
        (folder / f"{name}.csv").write_text("\n".join(["date,crypto_symbol,close", *lines]) + "\n")
    return folder


SIGNAL_EXITS = {signal.SIGINT: 130, signal.SIGTERM: 143}
"""The exit code of a command stopped by each signal (`cli.EXIT_INTERRUPTED`, `cli.EXIT_TERMINATED`)."""


def _signal_after(at: str, signum: int, seen: list[str], nth: int = 1) -> Callable[..., None]:
    """An `after_cursor_execute` listener sending `signum` to this process right after the `nth` statement
    matching the regular expression `at` ran (appending each match to `seen`): the tests' kill point."""

    def signal_there(conn: sa.Connection, cursor: Any, statement: str, *args: Any) -> None:
        if re.fullmatch(at, statement, flags=re.DOTALL):
            seen.append(statement)
            if len(seen) == nth:
                os.kill(os.getpid(), signum)  # handled between two bytecodes, before this returns

    return signal_there


def _load_signalled(database: str, tmp_path: Path, signum: int, at: str, nth: int = 1) -> int:
    """`data load-csv` of new `aaa` and `bbb` (2 rows each, symbol NEW) over old ones (1 row, OLD), sending
    `signum` to this process right after the `nth` statement matching the regular expression `at` ran;
    returns the exit code. AssertionError if no such statement ran."""
    load_csv(_one_row_files(tmp_path / "old", ["aaa", "bbb"], "OLD"), database)
    seen: list[str] = []
    signal_there = _signal_after(at, signum, seen, nth)
    new = _one_row_files(tmp_path / "new", ["aaa", "bbb"], "NEW", rows=2)
    sa.event.listen(sa.engine.Engine, "after_cursor_execute", signal_there)
    try:
        code = main(["data", "load-csv", str(new), "--db", database])
    finally:
        sa.event.remove(sa.engine.Engine, "after_cursor_execute", signal_there)
    assert len(seen) >= nth, f"the signal was never sent: no statement {at!r} (#{nth}) ran"
    return code


INSIDE_THE_SWAP = r"(ALTER TABLE [`\"]bbb__staging[`\"] RENAME TO .*|RENAME TABLE .*)"
"""The statement after which the tests' signal arrives, inside the swap of `aaa` and `bbb`: both renamed in
and not committed yet, in the one transaction of SQLite and PostgreSQL (where each table was swapped in its
own transaction, `aaa`'s was committed); MariaDB's one `RENAME TABLE` of both done and the `__old` tables
not yet dropped."""


@pytest.mark.usefixtures("command_signal_handlers")
@pytest.mark.parametrize("signum", list(SIGNAL_EXITS), ids=[str(int(s)) for s in SIGNAL_EXITS])
@pytest.mark.parametrize("database", ["sqlite", "mariadb", "postgresql"], indirect=True)
def test_a_signal_between_two_table_swaps_keeps_every_table(
    database: str, signum: signal.Signals, tmp_path: Path
) -> None:
    """SIGTERM (or Ctrl-C) while a folder's tables were swapped in: on SQLite and MariaDB (whose DROP is
    committed at once) `bbb` was gone, only `bbb__staging` left; on PostgreSQL `aaa` was new and `bbb`
    old. The signal is now acted on after the swap: exit 130 / 143, every table new, nothing left over."""
    code = _load_signalled(database, tmp_path, signum, INSIDE_THE_SWAP)
    assert code == SIGNAL_EXITS[signum]
    assert _row_counts(database) == {"aaa": 2, "bbb": 2}
    assert {table: _symbols(database, table) for table in ("aaa", "bbb")} == {
        "aaa": ["NEW", "NEW"],
        "bbb": ["NEW", "NEW"],
    }


@pytest.mark.usefixtures("command_signal_handlers")
@pytest.mark.parametrize("signum", list(SIGNAL_EXITS), ids=[str(int(s)) for s in SIGNAL_EXITS])
@pytest.mark.parametrize("database", ["sqlite", "mariadb", "postgresql"], indirect=True)
def test_a_signal_while_a_table_is_staged_is_an_interrupt_with_every_table_as_it_was(
    database: str, signum: signal.Signals, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGTERM (or Ctrl-C) while a chunk was written to `bbb__staging` ended in "loading aaa.csv, bbb.csv
    failed: Can't reconnect until invalid transaction is rolled back" (exit 2; pandas committed the
    interrupted transaction), on SQLite "database is locked" with both staging tables left. Now: exit
    130 / 143 with its line, every table as it was, no staging table."""
    code = _load_signalled(database, tmp_path, signum, r"INSERT INTO [`\"]?bbb__staging\b.*")
    assert code == SIGNAL_EXITS[signum]
    assert capsys.readouterr().err.splitlines()[-1] in (
        "seqsweep: interrupted",
        "seqsweep: terminated (SIGTERM)",
    )
    assert _row_counts(database) == {"aaa": 1, "bbb": 1}
    assert {table: _symbols(database, table) for table in ("aaa", "bbb")} == {"aaa": ["OLD"], "bbb": ["OLD"]}


REPOSITORY = Path(__file__).resolve().parents[2]
KILLED_LOAD = """
import signal, sys
import sqlalchemy as sa
from seqsweep.cli import main
from tests.data.test_load_csv import _signal_after
at, folder, database = sys.argv[1:]
sa.event.listen(sa.engine.Engine, "after_cursor_execute", _signal_after(at, signal.SIGKILL, []))
sys.exit(main(["data", "load-csv", folder, "--db", database]))
"""
"""`data load-csv FOLDER --db DATABASE` killed with SIGKILL right after the first statement matching `at`
(`_signal_after`, the kill point of the in-process signal tests)."""
KILLED_LOAD_DEADLINE_S = 300
"""Far above a two-table load's need on a busy 2-core machine; a hang fails instead of blocking."""


@pytest.mark.parametrize("database", ["sqlite", "mariadb", "postgresql"], indirect=True)
def test_a_load_killed_inside_the_swap_leaves_every_table_and_the_next_load_cleans_up(
    database: str, tmp_path: Path
) -> None:
    """A SIGKILL (or a power cut) cannot be held off: between a DROP and its RENAME it lost the table
    (SQLite, MariaDB), between two tables it left `aaa` new and `bbb` old. Now the swap is one transaction
    (rolled back: every table old) or, on MariaDB, one RENAME TABLE (every table new, the old ones left as
    `__old`); the next load drops what the killed one left."""
    load_csv(_one_row_files(tmp_path / "old", ["aaa", "bbb"], "OLD"), database)
    new = _one_row_files(tmp_path / "new", ["aaa", "bbb"], "NEW", rows=2)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPOSITORY), os.environ.get("PYTHONPATH", "")])}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_LOAD, INSIDE_THE_SWAP, str(new), database],
        capture_output=True,
        text=True,
        timeout=KILLED_LOAD_DEADLINE_S,
        cwd=REPOSITORY,
        env=env,
    )
    assert killed.returncode == -signal.SIGKILL, f"not killed inside the swap: {killed.stderr[-2000:]}"
    symbols = {table: _symbols(database, table) for table in ("aaa", "bbb")}
    mariadb = sa.engine.make_url(database).get_backend_name() in ("mysql", "mariadb")
    left = {"aaa__old": 1, "bbb__old": 1} if mariadb else {"aaa__staging": 2, "bbb__staging": 2}
    if mariadb:  # renamed in together, the old ones not dropped yet
        assert symbols == {"aaa": ["NEW", "NEW"], "bbb": ["NEW", "NEW"]}
        assert _row_counts(database) == {"aaa": 2, "bbb": 2, **left}
    else:  # the transaction was rolled back: the staging tables are all it left
        assert symbols == {"aaa": ["OLD"], "bbb": ["OLD"]}
        assert _row_counts(database) == {"aaa": 1, "bbb": 1, **left}
    assert load_csv(new, database) == {"aaa": 2, "bbb": 2}
    assert _row_counts(database) == {"aaa": 2, "bbb": 2}
    assert _index_columns(database) == {
        "aaa": [["crypto_symbol", "date"]],
        "bbb": [["crypto_symbol", "date"]],
    }


@pytest.mark.parametrize("database", ["sqlite", "mariadb", "postgresql"], indirect=True)
def test_a_view_over_a_table_reads_the_new_rows_after_a_load(database: str, tmp_path: Path) -> None:
    """On SQLite the RENAME of `aaa__staging` failed ("error in view aaa_view: no such table") after `aaa`
    had been dropped: the table was lost. On PostgreSQL the load failed, the DROP refused (views depend on
    the table; over `bbb` alone, `aaa` was replaced by then). Now every database loads, and the views (one over another, one over both
    tables) read the new rows; loading again works as well."""
    load_csv(_one_row_files(tmp_path / "old", ["aaa", "bbb"], "OLD"), database)
    run_sql(
        database,
        "CREATE VIEW aaa_view AS SELECT crypto_symbol, date FROM aaa",
        "CREATE VIEW aaa_view_view AS SELECT crypto_symbol, date FROM aaa_view",
        "CREATE VIEW both_view AS SELECT aaa.crypto_symbol, aaa.date FROM aaa JOIN bbb ON aaa.date = bbb.date",
    )
    for rows in (2, 3):
        new = _one_row_files(tmp_path / f"new_{rows}", ["aaa", "bbb"], f"NEW{rows}", rows=rows)
        assert load_csv(new, database) == {"aaa": rows, "bbb": rows}
        assert {view: _symbols(database, view) for view in ("aaa_view", "aaa_view_view", "both_view")} == {
            view: [f"NEW{rows}"] * rows for view in ("aaa_view", "aaa_view_view", "both_view")
        }
        assert _row_counts(database) == {"aaa": rows, "bbb": rows}


PG_VIEWS_REFUSED = {
    "a column gone": (
        "CREATE VIEW closes AS SELECT close, crypto_symbol, date FROM bbb",
        r"^view public\.closes \(over the tables aaa, bbb\) cannot be made over the new rows \(column bbb\.close does not exist\)",
    ),
    "materialized": (
        "CREATE MATERIALIZED VIEW closes AS SELECT close, crypto_symbol, date FROM bbb",
        r"^materialized view public\.closes is over the tables aaa, bbb, and load-csv would not make it again",
    ),
}


@pytest.mark.parametrize(("view", "message"), PG_VIEWS_REFUSED.values(), ids=PG_VIEWS_REFUSED.keys())
@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_view_that_cannot_read_the_new_table_is_refused_with_every_table_as_it_was(
    database: str, view: str, message: str, tmp_path: Path
) -> None:
    """PostgreSQL makes a view over a loaded table again from its definition; one reading a column the new
    file lacks fails, and a materialized one is not made again: the whole swap is rolled back, one line
    naming the view, every table old, no staging table left."""
    load_csv(_one_row_files(tmp_path / "old", ["aaa", "bbb"], "OLD"), database)
    run_sql(database, view)
    new = tmp_path / "new"
    new.mkdir()
    (new / "aaa.csv").write_text("date,crypto_symbol,close\n2024-01-01 00:00:00,NEW,1\n")
    (new / "bbb.csv").write_text("date,crypto_symbol,open\n2024-01-01 00:00:00,NEW,1\n")
    with pytest.raises(DataError, match=message):
        load_csv(new, database)
    assert {table: _symbols(database, table) for table in ("aaa", "bbb", "closes")} == {
        "aaa": ["OLD"],
        "bbb": ["OLD"],
        "closes": ["OLD"],
    }
    assert _row_counts(database) == {"aaa": 1, "bbb": 1}


LONG_TABLES = ["prices_from_the_second_exchange_hourly_usd_x", "p" * 63]
"""45 characters: `ix_<table>_crypto_symbol_date` is 67, past MariaDB's 64; 63 (PostgreSQL's most): the staging
table `<table>__staging` is 72."""


@pytest.mark.parametrize("database", ["sqlite", "mariadb", "postgresql"], indirect=True)
def test_long_table_names_load_beside_short_ones_with_their_indexes(database: str, tmp_path: Path) -> None:
    """On MariaDB the 45-character table's index name was refused (1059 "Identifier name ... is too long")
    after the folder's other tables, and that table itself, had been replaced without a word of it kept:
    the load said it failed, yet every table held the new rows (MariaDB commits each DROP and RENAME)."""
    tables = ["a_short", *LONG_TABLES]
    load_csv(_one_row_files(tmp_path / "old", tables, "OLD"), database)
    loaded = load_csv(_one_row_files(tmp_path / "new", tables, "NEW", rows=2), database)
    assert loaded == dict.fromkeys(tables, 2)
    assert _row_counts(database) == dict.fromkeys(tables, 2)
    assert {table: _symbols(database, table) for table in tables} == {
        table: ["NEW", "NEW"] for table in tables
    }
    assert _index_columns(database) == {table: [["crypto_symbol", "date"]] for table in tables}


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_table_name_longer_than_the_database_takes_is_refused_before_any_table_is_replaced(
    database: str, tmp_path: Path
) -> None:
    """PostgreSQL cuts a 64-character name to 63 without a word (the table is not found by its name
    after); the load is refused in one line, every table as it was."""
    load_csv(_one_row_files(tmp_path / "old", ["a_short"], "OLD"), database)
    long = "q" * 64
    with pytest.raises(DataError, match=rf"table name '{long}' is 64 characters, longer than the 63"):
        load_csv(_one_row_files(tmp_path / "new", ["a_short", long], "NEW", rows=2), database)
    assert _row_counts(database) == {"a_short": 1}
    assert _symbols(database, "a_short") == ["OLD"]
