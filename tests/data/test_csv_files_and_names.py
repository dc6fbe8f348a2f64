"""Files and names that print or look like something else: a `.csv` compressed otherwise than gzip, a file
named `.csv` that is UTF-16 or compressed, a column name holding an invisible character, a semicolon
header with a comma in a name. Each is read as meant, or refused in one line naming the file and what
to do; none is skipped, misnamed or reported with a column list that seems to hold the missing name."""

from __future__ import annotations

import bz2
import gzip
import logging
import lzma
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from seqsweep.cli import main
from seqsweep.data.load_csv import load_csv
from seqsweep.data.sources import plan_source
from seqsweep.data.spec import DatasetSpec
from seqsweep.data.symbol_rows import load_symbol_rows
from seqsweep.errors import DataError
from tests.data.tiny_prices import price_frame

OHLCV = ("open_price", "highest_price", "lowest_price", "closing_price", "volume")


def _price_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, date_format="%Y-%m-%d %H:%M:%S")


def _yield_text(frame: pd.DataFrame) -> str:
    hours = pd.date_range(frame["date"].min(), frame["date"].max(), freq="1h")
    return pd.DataFrame({"date": hours, "yield": 4.4e-6}).to_csv(index=False, date_format="%Y-%m-%d %H:%M:%S")


def _write(file: Path, text: str) -> None:
    """`text` written to `file`, compressed as its suffix says (.gz, .bz2, .zip, .xz or none)."""
    data = text.encode()
    suffix = file.suffix.lower()
    if suffix == ".zip":
        with zipfile.ZipFile(file, "w") as archive:
            archive.writestr(file.name.removesuffix(".zip"), data)
        return
    compress = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}.get(suffix)
    file.write_bytes(compress(data) if compress else data)


def _price_folder(folder: Path, frame: pd.DataFrame, price_file: str = "crypto_price.csv") -> Path:
    """`folder` made, holding `frame`'s prices (as `price_file`) and its yield as CSV files."""
    folder.mkdir()
    _write(folder / price_file, _price_text(frame))
    _write(folder / "US_Bond_Yield.csv", _yield_text(frame))
    return folder


def _closes(url: str) -> np.ndarray:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return np.array(
                [row[0] for row in conn.execute(sa.text("SELECT close FROM crypto_price ORDER BY date"))]
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize("compression", [".bz2", ".zip", ".xz", ".BZ2"])
def test_a_folder_loads_a_csv_compressed_as_pandas_reads_it(tmp_path: Path, compression: str) -> None:
    """A folder's `crypto_price.csv.bz2` (or .zip, .xz) was skipped without a word: the table kept its
    old rows while the command said it had loaded the folder."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    old = price_frame("AAAUSDT", 1, hours=30)
    load_csv(_price_folder(tmp_path / "first", old), url)

    new = old.assign(close=old["close"] * 2)
    folder = _price_folder(tmp_path / "new", new, f"crypto_price.csv{compression}")
    assert load_csv(folder, url) == {"US_Bond_Yield": 30, "crypto_price": 30}
    np.testing.assert_allclose(_closes(url), new["close"].to_numpy())
    # one file, its table named after the file without the compression
    assert load_csv(folder / f"crypto_price.csv{compression}", url) == {"crypto_price": 30}


@pytest.mark.parametrize("compression", [".zst", ".tar.gz", ".7z"])
def test_a_csv_compressed_in_a_form_not_read_is_refused_not_skipped(
    tmp_path: Path, compression: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    frame = price_frame("AAAUSDT", 1, hours=30)
    folder = tmp_path / "in"
    _price_folder(folder, frame)
    load_csv(folder, url)
    (folder / "crypto_price.csv").unlink()
    (folder / f"crypto_price.csv{compression}").write_bytes(b"\x28\xb5\x2f\xfd not read")
    assert main(["data", "load-csv", str(folder), "--db", url]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert (
        f"crypto_price.csv{compression} is compressed as {compression}, which load-csv does not read" in err
    )
    np.testing.assert_allclose(_closes(url), frame["close"].to_numpy())  # every table as it was
    assert main(["data", "load-csv", str(folder / f"crypto_price.csv{compression}"), "--db", url]) == 2
    assert "load-csv does not read" in capsys.readouterr().err
    # beside a file of its table that load-csv reads, it is a copy kept aside: named in the log, not read
    changed = frame.assign(close=frame["close"] * 3)
    _write(folder / "crypto_price.csv", _price_text(changed))
    with caplog.at_level(logging.INFO, logger="seqsweep.data.load_csv"):
        assert load_csv(folder, url) == {"US_Bond_Yield": 30, "crypto_price": 30}
    assert f"not read (not .csv, .csv.gz, .csv.bz2, .csv.zip, .csv.xz): crypto_price.csv{compression}" in (
        caplog.text
    )
    np.testing.assert_allclose(_closes(url), changed["close"].to_numpy())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04 cut short", "File is not a zip file (a file cut short or damaged?)"),
        (b"not xz at all", "(a file cut short or damaged?)"),
    ],
    ids=["zip", "xz"],
)
def test_a_damaged_zip_or_xz_file_is_one_line(
    tmp_path: Path, content: bytes, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """zipfile's BadZipFile and lzma's LZMAError are neither ValueError nor OSError: they ended as
    unexpected errors (exit 3) where a damaged .gz is one line."""
    suffix = ".zip" if content.startswith(b"PK") else ".xz"
    file = tmp_path / f"crypto_price.csv{suffix}"
    file.write_bytes(content)
    assert main(["data", "load-csv", str(file), "--db", f"sqlite:///{tmp_path / 'x.db'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and file.name in err and message in err


def test_a_dataset_csv_needing_a_missing_decompressor_is_one_line(tmp_path: Path) -> None:
    """pandas reads `.zst` only with `zstandard` installed; its ImportError was an unexpected error."""
    try:
        import zstandard  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("zstandard is installed: pandas reads .zst")
    file = tmp_path / "candles.csv.zst"
    file.write_bytes(b"\x28\xb5\x2f\xfd junk")
    with pytest.raises(DataError, match=r"^dataset\.csv: .*candles\.csv\.zst: cannot read its compression"):
        plan_source(DatasetSpec(join="ohlcv", csv=str(file), frequency=None), None)


@pytest.mark.parametrize(
    ("content", "fix"),
    [
        ("date,close\n2024-01-01,1\n".encode("utf-16"), "it is UTF-16"),
        (gzip.compress(b"date,close\n2024-01-01,1\n"), "it is gzip-compressed; name it .csv.gz"),
        (bz2.compress(b"date,close\n2024-01-01,1\n"), "it is bzip2-compressed; name it .csv.bz2"),
    ],
    ids=["utf16", "gzip", "bzip2"],
)
def test_a_file_named_csv_that_is_utf16_or_compressed_is_named_as_such(
    tmp_path: Path, content: bytes, fix: str
) -> None:
    """Python's "'utf-8' codec can't decode byte 0xff in position 0" said neither what the file is nor
    what to do."""
    file = tmp_path / "crypto_price.csv"
    file.write_bytes(content)
    with pytest.raises(DataError, match=rf"crypto_price\.csv: cannot read it as UTF-8 CSV: {fix}"):
        load_csv(file, f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(DataError, match=rf"^dataset\.csv: .*: cannot read it as UTF-8 CSV: {fix}"):
        plan_source(DatasetSpec(join="ohlcv", csv=str(file), frequency=None), None)


@pytest.mark.parametrize(
    ("column", "written", "code"),
    [
        ("close", "clo\u200bse", "U+200B"),  # a zero-width space: prints as `close`
        ("volume", "volume\u00ad", "U+00AD"),  # a soft hyphen
        ("date", "\ufeffdate", "U+FEFF"),  # a second byte-order mark (pandas drops the first)
    ],
)
def test_a_csv_column_name_with_an_invisible_character_is_refused(
    tmp_path: Path, column: str, written: str, code: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`clo\u200bse` was stored as a feature column that prints as `close`: `targets: [close]` was then
    refused as "not a column (columns: open, high, low, close, ...)"."""
    frame = price_frame("AAAUSDT", 1, hours=30)
    text = _price_text(frame)
    head, rest = text.split("\n", 1)
    file = tmp_path / "crypto_price.csv"
    prefix = "\ufeff" if column == "date" else ""  # the BOM pandas drops, then the one it keeps
    file.write_text(prefix + head.replace(column, written, 1) + "\n" + rest, encoding="utf-8")
    assert main(["data", "load-csv", str(file), "--db", f"sqlite:///{tmp_path / 'x.db'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"holds the invisible character {code}" in err and f"prints as '{column}'" in err
    assert ascii(written) in err  # the name shown escaped, not printing as the name it hides
    # dataset.csv reads headers alike
    candles = tmp_path / "candles.csv"
    candles.write_text(
        "date," + ",".join(OHLCV).replace("volume", "vol\u200bume") + "\n2024-01-01,1,2,0,1,5\n"
    )
    with pytest.raises(
        DataError, match=r"^dataset\.csv: .*'vol\\u200bume' holds the invisible character U\+200B"
    ):
        plan_source(DatasetSpec(join="ohlcv", csv=str(candles), frequency=None), None)


def _other_tools_table(url: str, table: str, frame: pd.DataFrame) -> None:
    engine = sa.create_engine(url)
    try:
        frame.to_sql(table, engine, index=False)
    finally:
        engine.dispose()


@pytest.mark.parametrize(("table", "column"), [("crypto_price", "close"), ("US_Bond_Yield", "yield")])
def test_a_table_column_with_an_invisible_character_is_named_at_the_build(
    tmp_path: Path, table: str, column: str
) -> None:
    """A table another tool wrote with `clo\u200bse` or `yield\u200b`: the build said "has no column
    'yield' (columns: date, yield)" or "'close' is not a column (columns: ..., close, ...)"."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    frame = price_frame("AAAUSDT", 1, hours=30)
    hours = pd.date_range(frame["date"].min(), periods=30, freq="1h")
    yields = pd.DataFrame({"date": hours, "yield": 4.4e-6})
    tables = {"crypto_price": frame, "US_Bond_Yield": yields}
    tables[table] = tables[table].rename(columns={column: column + "\u200b"})
    for name, rows in tables.items():
        _other_tools_table(url, name, rows)
    spec = DatasetSpec(join="prices", symbols=("AAAUSDT",), lookback=4, horizon=1, targets=("open",))
    with pytest.raises(
        DataError,
        match=rf"^table '{table}': column name '{column}\\u200b' holds the invisible character U\+200B .* "
        rf"prints as '{column}' but is another name; rename it '{column}'$",
    ):
        plan_source(spec, url)
    # the same tables with the plain name build
    tables[table] = tables[table].rename(columns={column + "\u200b": column})
    plain = f"sqlite:///{tmp_path / 'plain.db'}"
    for name, rows in tables.items():
        _other_tools_table(plain, name, rows)
    assert len(load_symbol_rows(plan_source(spec, plain), "AAAUSDT")) == 30


def test_a_semicolon_header_with_a_comma_in_a_name_is_named_as_semicolon_separated(tmp_path: Path) -> None:
    """`date;...;close;vol,usd` split in two at its comma: the refusal said the file has no column
    `date`, not that it is separated by semicolons."""
    file = tmp_path / "crypto_price.csv"
    file.write_text(
        "date;crypto_symbol;open;high;low;close;vol,usd\n2024-01-01 00:00:00;AAAUSDT;1;1;1;1;1,5\n"
    )
    with pytest.raises(DataError, match=r"crypto_price\.csv is separated by semicolons"):
        load_csv(file, f"sqlite:///{tmp_path / 'x.db'}")
    # a comma file with one `;` in a name is still read as commas
    ok = tmp_path / "ok" / "crypto_price.csv"
    ok.parent.mkdir()
    frame = price_frame("AAAUSDT", 1, hours=30).rename(columns={"volume": "vol;usd"})
    ok.write_text(_price_text(frame))
    assert load_csv(ok, f"sqlite:///{tmp_path / 'ok.db'}") == {"crypto_price": 30}


@pytest.mark.parametrize("line", ["sep=,", "sep=;", "SEP=,"])
def test_a_separator_line_before_the_header_is_named(tmp_path: Path, line: str) -> None:
    """Excel's `sep=,` first line was read as a header of `sep=` and a nameless column: "column 2 of 2
    has no name (a written-out index or a trailing comma?)"."""
    frame = price_frame("AAAUSDT", 1, hours=30)
    file = tmp_path / "crypto_price.csv"
    file.write_text(line + "\n" + _price_text(frame))
    with pytest.raises(DataError, match=rf"crypto_price\.csv starts with a separator line \('{line}'"):
        load_csv(file, f"sqlite:///{tmp_path / 'x.db'}")
    file.write_text(_price_text(frame))  # without it, the same file loads
    assert load_csv(file, f"sqlite:///{tmp_path / 'x.db'}") == {"crypto_price": 30}


def test_a_broken_link_named_after_a_table_is_refused_not_skipped(tmp_path: Path) -> None:
    """A `crypto_price.csv` link whose target is gone was passed over (not a file): the folder loaded
    the yield alone and the prices table kept its old rows without a word."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    frame = price_frame("AAAUSDT", 1, hours=30)
    folder = tmp_path / "in"
    _price_folder(folder, frame)
    load_csv(folder, url)
    target = tmp_path / "elsewhere.csv"
    _write(target, _price_text(frame.assign(close=frame["close"] * 2)))
    (folder / "crypto_price.csv").unlink()
    (folder / "crypto_price.csv").symlink_to(target)
    target.unlink()
    with pytest.raises(
        DataError, match=r"crypto_price\.csv in .* is not a file that can be read \(a broken link\?\)"
    ):
        load_csv(folder, url)
    np.testing.assert_allclose(_closes(url), frame["close"].to_numpy())


def _candles(symbols: dict[str, str], hours: int = 24) -> pd.DataFrame:
    """Hourly candles with a `crypto_symbol` column: each symbol (its close near its own level) from its
    start, one after the other."""
    frames = []
    for level, (symbol, start) in enumerate(symbols.items(), start=1):
        close = 10.0**level + np.sin(np.arange(hours) / 5)
        frames.append(
            pd.DataFrame(
                {
                    "date": pd.date_range(start, periods=hours, freq="1h"),
                    "crypto_symbol": symbol,
                    "open_price": close,
                    "highest_price": close + 1,
                    "lowest_price": close - 1,
                    "closing_price": close,
                    "volume": 5.0,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_a_candles_file_of_two_symbols_is_refused_not_read_as_one_series(tmp_path: Path) -> None:
    """`dataset.csv` with the rows of AAAUSDT and, a day later, BBBUSDT: the ohlcv join read them as one
    instrument's 48 hours, the close jumping from 10 to 100, exit 0 and not a word."""
    two = _candles({"AAAUSDT": "2024-01-01", "bbbusdt ": "2024-01-02"})
    file = tmp_path / "candles.csv"
    two.to_csv(file, index=False)
    spec = DatasetSpec(join="ohlcv", csv=str(file), frequency=None)
    with pytest.raises(
        DataError,
        match=r"^dataset\.csv: .*candles\.csv holds the rows of several symbols in column 'crypto_symbol' "
        r"\(AAAUSDT, BBBUSDT\), and the ohlcv join reads one instrument",
    ):
        plan_source(spec, None)
    # the same file holding one symbol (spelled two ways), named by `ohlcv_symbol`, is read as it was
    one = _candles({"AAAUSDT": "2024-01-01"}).assign(crypto_symbol=["AAAUSDT", "aaausdt"] * 12)
    one.to_csv(file, index=False)
    rows = load_symbol_rows(plan_source(replace(spec, ohlcv_symbol="AAAUSDT"), None), "AAAUSDT")
    np.testing.assert_allclose(rows["closing_price"].to_numpy(), one["closing_price"].to_numpy())


def test_an_ohlcv_table_of_two_symbols_is_refused_not_read_as_one_series(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    _other_tools_table(url, "ohlcv", _candles({"AAAUSDT": "2024-01-01", "BBBUSDT": "2024-01-02"}))
    spec = DatasetSpec(join="ohlcv", frequency=None)
    with pytest.raises(
        DataError, match=r"^table 'ohlcv' holds the rows of several symbols .*\(AAAUSDT, BBBUSDT\)"
    ):
        plan_source(spec, url)
    # one symbol, some rows without one (NULL), named by `ohlcv_symbol`: read as before
    one = _candles({"AAAUSDT": "2024-01-01"})
    one.loc[3, "crypto_symbol"] = None
    single = f"sqlite:///{tmp_path / 'one.db'}"
    _other_tools_table(single, "ohlcv", one)
    assert len(load_symbol_rows(plan_source(replace(spec, ohlcv_symbol="AAAUSDT"), single), "AAAUSDT")) == 24


def test_a_candles_file_of_another_symbol_than_ohlcv_symbol_is_refused(tmp_path: Path) -> None:
    """`dataset.csv` holding BTCUSDT's rows under the default `ohlcv_symbol` ETHUSDT: the series was
    named ETHUSDT and given ETHUSDT's symbol embedding, exit 0 and not a word."""
    file = tmp_path / "btc.csv"
    _candles({"btcusdt ": "2024-01-01"}).to_csv(file, index=False)
    spec = DatasetSpec(join="ohlcv", csv=str(file), frequency=None)
    with pytest.raises(
        DataError,
        match=r"^dataset\.csv: .*btc\.csv holds the rows of BTCUSDT in column 'crypto_symbol', but "
        r"dataset\.ohlcv_symbol is ETHUSDT, .*set `dataset\.ohlcv_symbol: BTCUSDT`",
    ):
        plan_source(spec, None)
    # the fix the line names (any case or blanks) reads them; a file without the column is not checked
    assert len(load_symbol_rows(plan_source(replace(spec, ohlcv_symbol=" BtcUsdt"), None), "BTCUSDT")) == 24
    _candles({"BTCUSDT": "2024-01-01"}).drop(columns="crypto_symbol").to_csv(file, index=False)
    assert len(load_symbol_rows(plan_source(spec, None), "ETHUSDT")) == 24


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("mariadb", marks=pytest.mark.mysql)], indirect=True
)
def test_an_ohlcv_table_of_another_symbol_than_ohlcv_symbol_is_refused(database: str) -> None:
    """The same for the `ohlcv` table (SQLite; MariaDB, whose collation would fold case and accents)."""
    _other_tools_table(database, "ohlcv", _candles({"BTCUSDT": "2024-01-01"}))
    spec = DatasetSpec(join="ohlcv", frequency=None)
    with pytest.raises(
        DataError,
        match=r"^table 'ohlcv' holds the rows of BTCUSDT in column 'crypto_symbol', but "
        r"dataset\.ohlcv_symbol is ETHUSDT, .*set `dataset\.ohlcv_symbol: BTCUSDT`",
    ):
        plan_source(spec, database)
    rows = load_symbol_rows(plan_source(replace(spec, ohlcv_symbol="btcusdt"), database), "BTCUSDT")
    assert len(rows) == 24


@pytest.mark.parametrize(
    ("table", "first_rows"),
    [
        # an exchange's candle dump: epoch milliseconds, prices, no header
        (
            "ohlcv",
            "1704067200000,42283.58,42554.57,42261.02,42475.23,1271.68\n1704070800000,42475.2,42775,42431.6,42613.5,1196.3\n",
        ),
        (
            "crypto_price",
            "2024-01-01 00:00:00,AAAUSDT,1,2,0.5,1.5,10\n2024-01-01 01:00:00,AAAUSDT,1,2,0.5,1.5,10\n",
        ),
    ],
    ids=["candle_dump", "prices"],
)
def test_a_file_without_a_header_is_named_as_such(
    tmp_path: Path, table: str, first_rows: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Loaded as `--table ohlcv` (a table that requires no columns) a headerless file became a table of
    columns `1704067200000`, `42283.58`, ... without its first row, exit 0; as `crypto_price` it was
    refused for a `:` in the column name `2024-01-01 00:00:00`."""
    file = tmp_path / "candles.csv"
    file.write_text(first_rows)
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["data", "load-csv", str(file), "--table", table, "--db", url]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "its first row holds values, not column names" in err
    assert not sa.inspect(sa.create_engine(url)).get_table_names()
    # a header with numbers among its names beside `date` is a header
    (tmp_path / "wide.csv").write_text("date,2020,2021\n2024-01-01,1,2\n")
    assert load_csv(tmp_path / "wide.csv", url) == {"wide": 1}
