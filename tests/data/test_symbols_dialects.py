"""The same rows give the same dataset on SQLite, MariaDB and PostgreSQL, whatever the symbols' case
and blanks: load-csv stores them canonical, and the query matches them one way on every dialect."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from seqsweep.data import DatasetBundle, DatasetSpec, build_dataset
from seqsweep.data.ingest import canonical_symbol
from seqsweep.data.load_csv import load_csv
from seqsweep.data.sources import plan_source
from seqsweep.errors import DataError

SPEC = DatasetSpec(
    join="notebook", symbols=("AAAUSDT", "BBBUSDT"), targets=("lending_rate",), lookback=12, horizon=2
)
HOURS = 150


def _csvs(folder: Path) -> Path:
    """Rates spell the symbols in lower case, prices carry a trailing blank on BBBUSDT."""
    rng = np.random.default_rng(5)
    dates = pd.date_range("2024-03-01", periods=HOURS, freq="1h").astype(str)
    rates, prices = [], []
    for rate_symbol, price_symbol in (("aaausdt", "AAAUSDT"), ("bbbusdt", "BBBUSDT ")):
        level = rng.uniform(0.01, 0.05) + rng.standard_normal(HOURS).cumsum() * 1e-4
        rates.append(
            pd.DataFrame(
                {
                    "date": dates,
                    "crypto_symbol": rate_symbol,
                    "lending_rate": level,
                    "borrowing_rate": level * 1.5,
                    "utilization_rate": 0.8 + level,
                    "stable_borrow_rate": level * 2,
                }
            )
        )
        close = 10 + rng.standard_normal(HOURS).cumsum() * 0.1
        prices.append(
            pd.DataFrame(
                {
                    "date": dates,
                    "crypto_symbol": price_symbol,
                    "open": close,
                    "high": close + 0.1,
                    "low": close - 0.1,
                    "close": close,
                    "volume": rng.uniform(1e3, 1e4, HOURS).round(2),
                }
            )
        )
    folder.mkdir()
    pd.concat(rates).to_csv(folder / "crypto_lending_borrowing.csv", index=False)
    pd.concat(prices).to_csv(folder / "crypto_price.csv", index=False)
    pd.DataFrame({"date": dates, "yield": 2e-6}).to_csv(folder / "US_Bond_Yield.csv", index=False)
    return folder


def _write_raw(folder: Path, url: str) -> None:
    """The same CSVs written as they are (another tool's tables): the symbols keep their case and blanks."""
    engine = sa.create_engine(url)
    for file in folder.glob("*.csv"):
        frame = pd.read_csv(file, parse_dates=["date"])
        frame.to_sql(file.stem, engine, index=False, if_exists="replace")
    engine.dispose()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> DatasetBundle:
    """The dataset from canonical spellings in SQLite: what every database must give."""
    folder = _csvs(tmp_path_factory.mktemp("reference") / "csv")
    for file in folder.glob("*.csv"):
        frame = pd.read_csv(file)
        frame["crypto_symbol"] = frame.get("crypto_symbol", pd.Series(dtype=str)).str.strip().str.upper()
        frame.dropna(axis=1, how="all").to_csv(file, index=False)
    url = f"sqlite:///{folder.parent / 'reference.db'}"
    load_csv(folder, url)
    return build_dataset(SPEC, db_url=url, use_cache=False, in_process=True)


@pytest.mark.parametrize("how", ["load-csv", "raw-tables"])
@pytest.mark.parametrize("database", ["sqlite", "mariadb", "postgresql"], indirect=True)
def test_the_same_rows_give_the_same_dataset_on_every_database(
    database: str, how: str, tmp_path: Path, reference: DatasetBundle
) -> None:
    folder = _csvs(tmp_path / "csv")
    if how == "load-csv":
        load_csv(folder, database)
    else:
        _write_raw(folder, database)
    bundle = build_dataset(SPEC, db_url=database, use_cache=False, in_process=True)
    assert bundle.symbols == reference.symbols
    assert bundle.feature_names == reference.feature_names
    assert np.array_equal(bundle.row_time, reference.row_time)
    assert np.array_equal(bundle.features, reference.features)
    assert bundle.cache_key == reference.cache_key  # the fingerprint of the rows read, and so the key
    with pytest.raises(DataError) as info:
        plan_source(DatasetSpec(join="prices", symbols=("AAAUSDT", "BBBUSDT", "CCCUSDT")), database)
    message = str(info.value)
    assert "unknown symbol 'CCCUSDT'" in message and "'AAAUSDT'" in message
    if how == "raw-tables":  # read byte for byte, even where MariaDB's collation folds 'BBBUSDT '
        assert "'BBBUSDT '" in message  # the stored blank is visible


def _with_accented_twin(folder: Path) -> Path:
    """Adds 'ÀAAUSDT' to both tables: AAAUSDT's dates with other values (MariaDB's collation has À = A)."""
    for name, columns in (
        ("crypto_lending_borrowing", ("lending_rate",)),
        ("crypto_price", ("close", "volume")),
    ):
        frame = pd.read_csv(folder / f"{name}.csv")
        twin = frame[frame["crypto_symbol"].str.strip().str.upper() == "AAAUSDT"].copy()
        twin["crypto_symbol"] = "ÀAAUSDT"
        for column in columns:
            twin[column] = twin[column] * 3
        pd.concat([frame, twin]).to_csv(folder / f"{name}.csv", index=False)
    return folder


@pytest.mark.parametrize("database", ["sqlite", "mariadb", "postgresql"], indirect=True)
def test_an_accented_twin_symbol_stays_apart_on_every_database(
    database: str, tmp_path: Path, reference: DatasetBundle
) -> None:
    load_csv(_with_accented_twin(_csvs(tmp_path / "csv")), database)
    bundle = build_dataset(SPEC, db_url=database, use_cache=False, in_process=True)
    assert np.array_equal(bundle.row_time, reference.row_time)
    assert np.array_equal(bundle.features, reference.features)  # no row of ÀAAUSDT mixed in
    twin = build_dataset(
        DatasetSpec(join="notebook", symbols=("ÀAAUSDT",), targets=("lending_rate",), lookback=12, horizon=2),
        db_url=database,
        use_cache=False,
        in_process=True,
    )
    assert twin.symbols == ("ÀAAUSDT",) and len(twin.row_time) == HOURS


@pytest.mark.parametrize("database", ["sqlite", "mariadb", "postgresql"], indirect=True)
def test_load_csv_keeps_fractions_of_a_second_on_every_database(database: str, tmp_path: Path) -> None:
    folder = _csvs(tmp_path / "csv")
    frame = pd.read_csv(folder / "crypto_price.csv")
    stamps = pd.to_datetime(frame["date"]) + pd.Timedelta(milliseconds=600)
    frame["date"] = stamps.dt.strftime("%Y-%m-%d %H:%M:%S.%f")
    frame.to_csv(folder / "crypto_price.csv", index=False)
    load_csv(folder, database)
    engine = sa.create_engine(database)
    with engine.connect() as conn:
        stored = pd.to_datetime(
            pd.Series([row[0] for row in conn.execute(sa.text("SELECT date FROM crypto_price"))])
        )
    engine.dispose()
    assert sorted(stored) == sorted(stamps)  # 00:00:00.600 stays .600 (MariaDB's DATETIME(0) dropped it)


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_timestamptz_column_joins_in_utc_whatever_the_servers_zone(
    database: str, tmp_path: Path, reference: DatasetBundle
) -> None:
    load_csv(_csvs(tmp_path / "csv"), database)
    name = database.rsplit("/", 1)[1]
    engine = sa.create_engine(database, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:  # rates as timestamptz, the database's zone five hours off UTC
        conn.execute(sa.text(f"ALTER DATABASE \"{name}\" SET timezone TO 'America/New_York'"))
    engine.dispose()
    engine = sa.create_engine(database, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(
            sa.text(
                "ALTER TABLE crypto_lending_borrowing ALTER COLUMN date TYPE timestamptz USING date AT TIME ZONE 'UTC'"
            )
        )
    engine.dispose()
    bundle = build_dataset(SPEC, db_url=database, use_cache=False, in_process=True)
    assert np.array_equal(bundle.row_time, reference.row_time)
    assert np.array_equal(bundle.features, reference.features)


def _respell(folder: Path, table: str, spelling: str) -> None:
    frame = pd.read_csv(folder / f"{table}.csv")
    frame.loc[frame["crypto_symbol"].str.strip().str.upper() == "AAAUSDT", "crypto_symbol"] = spelling
    frame.to_csv(folder / f"{table}.csv", index=False)


@pytest.mark.parametrize("database", ["sqlite", "mariadb", "postgresql"], indirect=True)
def test_a_symbol_in_two_unicode_forms_is_one_symbol_on_every_database(database: str, tmp_path: Path) -> None:
    """'ÉAAUSDT' precomposed (NFC) in the rates and as E + a combining accent (NFD) in the prices was an
    unknown symbol whose message showed two identical names."""
    folder = _csvs(tmp_path / "csv")
    _respell(folder, "crypto_lending_borrowing", unicodedata.normalize("NFC", "ÉAAUSDT"))
    _respell(folder, "crypto_price", unicodedata.normalize("NFD", "ÉAAUSDT"))
    _write_raw(folder, database)
    for asked in ("NFC", "NFD"):
        spec = DatasetSpec(
            join="notebook",
            symbols=(unicodedata.normalize(asked, "ÉAAUSDT"),),
            targets=("lending_rate",),
            lookback=12,
            horizon=2,
        )
        bundle = build_dataset(spec, db_url=database, use_cache=False, in_process=True)
        assert len(bundle.row_time) == HOURS


@pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)
def test_load_csv_stores_a_symbol_as_the_query_matches_it(database: str, tmp_path: Path) -> None:
    """load-csv upper-cased with pandas (ß → ẞ, U+1E9E) and the build with Python (ß → SS): the rates'
    STRASSEUSDT and the prices' straßeusdt, one symbol by the README, never joined once loaded."""
    folder = _csvs(tmp_path / "csv")
    _respell(folder, "crypto_lending_borrowing", "STRASSEUSDT")
    _respell(folder, "crypto_price", "straßeusdt")
    load_csv(folder, database)
    engine = sa.create_engine(database)
    with engine.connect() as conn:
        stored = {row[0] for row in conn.execute(sa.text("SELECT DISTINCT crypto_symbol FROM crypto_price"))}
    engine.dispose()
    assert stored == {"STRASSEUSDT", "BBBUSDT"}
    for asked in ("STRASSEUSDT", "straßeusdt"):
        spec = DatasetSpec(
            join="notebook", symbols=(asked,), targets=("lending_rate",), lookback=12, horizon=2
        )
        bundle = build_dataset(spec, db_url=database, use_cache=False, in_process=True)
        assert len(bundle.row_time) == HOURS


@pytest.mark.parametrize("database", ["sqlite", "mariadb"], indirect=True)
def test_a_symbol_whose_upper_case_is_not_nfc_builds_as_written(database: str, tmp_path: Path) -> None:
    """'ΐ' upper-cases to three code points that NFC composes into two: load-csv stored the three, the
    build canonicalised the stored name again to the two, and the symbol as written in the CSV was an
    unknown symbol whose message showed two identical names."""
    written = "\u0390usdt"
    assert canonical_symbol(canonical_symbol(written)) == canonical_symbol(written)
    folder = _csvs(tmp_path / "csv")
    _respell(folder, "crypto_lending_borrowing", written)
    _respell(folder, "crypto_price", written)
    load_csv(folder, database)
    spec = DatasetSpec(join="notebook", symbols=(written,), targets=("lending_rate",), lookback=12, horizon=2)
    bundle = build_dataset(spec, db_url=database, use_cache=False, in_process=True)
    assert len(bundle.row_time) == HOURS and bundle.symbols == (canonical_symbol(written),)


@pytest.mark.parametrize("asked", ["ＡAAUSDT", "AAAUSDT\u200b"])
def test_a_full_width_twin_of_a_stored_symbol_is_named_as_such(tmp_path: Path, asked: str) -> None:
    url = f"sqlite:///{tmp_path / 'case.db'}"
    load_csv(_csvs(tmp_path / "csv"), url)
    with pytest.raises(
        DataError, match=rf"{re.escape(ascii(asked))} and the stored 'AAAUSDT' differ only in Unicode form"
    ):
        plan_source(DatasetSpec(join="prices", symbols=(asked,)), url)


@pytest.mark.parametrize("twin", ["AAAUSDT\u200b", "ＡAAUSDT", "AAAUSDT\x01"])
@pytest.mark.parametrize("database", ["sqlite", "mariadb", "postgresql"], indirect=True)
def test_rows_of_a_symbol_under_a_look_alike_spelling_are_refused(
    database: str, tmp_path: Path, twin: str
) -> None:
    """A price table written by another tool held half of AAAUSDT's hours as `AAAUSDT` plus a zero-width
    space (or full-width, or a control character): the build read the other half only, without a word."""
    folder = _csvs(tmp_path / "csv")
    prices = pd.read_csv(folder / "crypto_price.csv")
    prices.loc[prices.index[: HOURS // 2], "crypto_symbol"] = twin  # the first half of AAAUSDT's rows
    prices.to_csv(folder / "crypto_price.csv", index=False)
    _write_raw(folder, database)
    with pytest.raises(
        DataError, match=rf"^table 'crypto_price' holds rows of AAAUSDT under {re.escape(ascii(twin))} too"
    ):
        plan_source(DatasetSpec(join="prices", symbols=("AAAUSDT",)), database)
    # asked for as well, the look-alike is a symbol of its own
    plan = plan_source(DatasetSpec(join="prices", symbols=("AAAUSDT", twin)), database)
    assert plan.spellings[twin]["b_symbols"] == (twin,)


@pytest.mark.parametrize("twin", ["AAA/USDT", "aaa-usdt", "AAA\u2013USDT", "AAA_USDT"])
def test_rows_of_a_symbol_under_another_separator_are_refused(tmp_path: Path, twin: str) -> None:
    """Two exports appended into one price table, one writing `AAA/USDT` (or `AAA-USDT`, with an en dash
    a spreadsheet put for the hyphen), the other `AAAUSDT`: the build read the `AAAUSDT` half only, the
    other half of the hours masked as gaps, without a word. `load-csv` refuses such a file; a table
    written by another tool is refused by the build."""
    folder = _csvs(tmp_path / "csv")
    for file in folder.glob("*.csv"):  # every symbol as load-csv stores it (stripped, upper case)
        frame = pd.read_csv(file)
        if "crypto_symbol" in frame:
            if file.stem == "crypto_price":  # the first half of AAAUSDT's rows
                frame.loc[frame.index[: HOURS // 2], "crypto_symbol"] = twin
            frame["crypto_symbol"] = frame["crypto_symbol"].map(canonical_symbol)
        frame.to_csv(file, index=False)
    url = f"sqlite:///{tmp_path / 'case.db'}"
    with pytest.raises(DataError, match=r"^load-csv: crypto_price.csv: column 'crypto_symbol': symbols "):
        load_csv(folder, url)
    _write_raw(folder, url)
    with pytest.raises(DataError) as refused:
        plan_source(DatasetSpec(join="prices", symbols=("AAAUSDT",)), url)
    stored = ascii(canonical_symbol(twin))
    assert str(refused.value).startswith(
        f"table 'crypto_price' holds rows of AAAUSDT under {stored} too, which differs only in separators"
    )
    # asked for by that spelling, the other table (the rates) names the one it holds
    with pytest.raises(
        DataError, match=rf"{re.escape(stored)} and the stored 'AAAUSDT' differ only in separators"
    ):
        plan_source(DatasetSpec(join="notebook", symbols=(twin,), targets=("lending_rate",)), url)
    # asked for as well, it is a symbol of its own
    plan = plan_source(DatasetSpec(join="prices", symbols=("AAAUSDT", twin)), url)
    assert plan.spellings[canonical_symbol(twin)]["b_symbols"] == (canonical_symbol(twin),)


def test_a_symbol_longer_than_the_column_is_refused_alike_on_every_database(tmp_path: Path) -> None:
    """SQLite stored a 65-character symbol that MariaDB and PostgreSQL refused with exit 3."""
    folder = _csvs(tmp_path / "csv")
    _respell(folder, "crypto_price", "A" * 65)
    with pytest.raises(DataError, match=r"symbol 'A{65}'\.\.\. is longer than 64 characters"):
        load_csv(folder, f"sqlite:///{tmp_path / 'case.db'}")


@pytest.mark.parametrize("database", ["mariadb"], indirect=True)
def test_a_symbol_the_databases_character_set_cannot_hold_is_one_line(database: str, tmp_path: Path) -> None:
    """A latin1 MariaDB database refused a full-width symbol through pandas' `DatabaseError`: exit 3."""
    name = database.rsplit("/", 1)[1]
    engine = sa.create_engine(database, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"ALTER DATABASE `{name}` CHARACTER SET latin1 COLLATE latin1_swedish_ci"))
    engine.dispose()
    folder = _csvs(tmp_path / "csv")
    _respell(folder, "crypto_price", "ＡAAUSDT")
    with pytest.raises(DataError, match=r"loading .*failed: .*Incorrect string value"):
        load_csv(folder, database)


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_postgresql_case_and_accent_blind_collation_keeps_twins_apart(
    database: str, tmp_path: Path, reference: DatasetBundle
) -> None:
    """A symbol column of a nondeterministic ICU collation (`und-u-ks-level1`, PostgreSQL's counterpart of
    MariaDB's default) matched 'ÀAAUSDT' for 'AAAUSDT': its rows were silently mixed in."""
    load_csv(_with_accented_twin(_csvs(tmp_path / "csv")), database)
    engine = sa.create_engine(database)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE COLLATION IF NOT EXISTS blind (provider = icu, locale = 'und-u-ks-level1', deterministic = false)"
            )
        )
        for table in ("crypto_price", "crypto_lending_borrowing"):
            conn.execute(sa.text(f"ALTER TABLE {table} ALTER COLUMN crypto_symbol TYPE TEXT COLLATE blind"))
    engine.dispose()
    bundle = build_dataset(SPEC, db_url=database, use_cache=False, in_process=True)
    assert np.array_equal(bundle.row_time, reference.row_time)
    assert np.array_equal(bundle.features, reference.features)


@pytest.mark.parametrize("database", ["mariadb"], indirect=True)
def test_a_mariadb_connection_in_latin1_still_finds_a_non_ascii_symbol(database: str, tmp_path: Path) -> None:
    """With `?charset=latin1` the symbol went as the latin1 byte C0 and the stored utf8mb4 bytes (C3 80)
    never matched it: "the query returned no rows for ÀAAUSDT"."""
    load_csv(_with_accented_twin(_csvs(tmp_path / "csv")), database)
    spec = DatasetSpec(
        join="notebook", symbols=("ÀAAUSDT",), targets=("lending_rate",), lookback=12, horizon=2
    )
    plain = build_dataset(spec, db_url=database, use_cache=False, in_process=True)
    latin1 = build_dataset(spec, db_url=f"{database}?charset=latin1", use_cache=False, in_process=True)
    assert latin1.cache_key == plain.cache_key and len(latin1.row_time) == HOURS


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_sql_ascii_postgresql_database_is_named_as_the_cause(database: str) -> None:
    """psycopg hands a SQL_ASCII database's answers over as bytes; the error blamed URL options the URL
    did not have."""
    from seqsweep.data.engines import open_engine

    server = sa.create_engine(database.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    name = f"{database.rsplit('/', 1)[1]}_ascii"
    with server.connect() as conn:
        conn.execute(
            sa.text(
                f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
            )
        )
    try:
        with pytest.raises(DataError, match=r"SQL_ASCII encoding does this: use a UTF8 database") as raised:
            # plain `postgresql://` is psycopg (v3), which reads such a server's answers as bytes
            open_engine(f"postgresql://postgres@127.0.0.1:5432/{name}").dispose()
        assert "after '?'" not in str(raised.value)
    finally:
        with server.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        server.dispose()


_BINARY_SYMBOLS = {  # SQLite changes no column's type: see the storage-class test below
    "mysql": "ALTER TABLE crypto_price MODIFY crypto_symbol VARBINARY(64)",
    "postgresql": "ALTER TABLE crypto_price ALTER COLUMN crypto_symbol TYPE bytea USING convert_to(crypto_symbol, 'UTF8')",
}


@pytest.mark.parametrize("database", ["mariadb", "postgresql"], indirect=True)
def test_a_binary_symbol_column_is_refused_alike_on_every_database(database: str, tmp_path: Path) -> None:
    """The same bytes built on MariaDB, were an unknown symbol shown as hex on PostgreSQL and "no rows"
    on SQLite: three answers to one input."""
    load_csv(_csvs(tmp_path / "csv"), database)
    engine = sa.create_engine(database, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(_BINARY_SYMBOLS[database.split(":")[0].split("+")[0]]))
    engine.dispose()
    with pytest.raises(
        DataError, match=r"table 'crypto_price': column 'crypto_symbol' is binary \((VARBINARY|BYTEA)"
    ):
        plan_source(DatasetSpec(join="prices", symbols=("AAAUSDT",)), database)


@pytest.mark.parametrize(
    ("declared", "stored", "storage"),
    [("VARCHAR(64)", "CAST(crypto_symbol AS BLOB)", "blob"), ("", "7", "integer")],
    ids=["blob in a text column", "number in an untyped column"],
)
def test_sqlite_symbols_a_text_parameter_never_equals_are_refused(
    tmp_path: Path, declared: str, stored: str, storage: str
) -> None:
    """SQLite keeps each value's storage class: rows whose symbol was stored as a BLOB, or as the number
    7 in a column without a type, never equalled the text parameter and left the dataset without a word
    (140 of 200 rows built)."""
    url = f"sqlite:///{tmp_path / 'case.db'}"
    folder = _csvs(tmp_path / "csv")
    if storage == "integer":
        _respell(folder, "crypto_price", "7")
    load_csv(folder, url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE crypto_price RENAME TO loaded"))
        conn.execute(sa.text("CREATE TABLE crypto_price AS SELECT * FROM loaded WHERE 0"))
        conn.execute(sa.text("ALTER TABLE crypto_price DROP COLUMN crypto_symbol"))
        conn.execute(sa.text(f"ALTER TABLE crypto_price ADD COLUMN crypto_symbol {declared}"))
        conn.execute(
            sa.text(
                "INSERT INTO crypto_price SELECT date, open, high, low, close, volume, crypto_symbol FROM loaded"
            )
        )
        conn.execute(
            sa.text(
                f"UPDATE crypto_price SET crypto_symbol = {stored} WHERE rowid % 3 = 0 AND crypto_symbol IN ('AAAUSDT', '7')"
            )
        )
    engine.dispose()
    symbol = "7" if storage == "integer" else "AAAUSDT"
    with pytest.raises(
        DataError, match=rf"column 'crypto_symbol' holds symbols stored as {storage} .*never equals to text"
    ):
        plan_source(DatasetSpec(join="prices", symbols=(symbol,)), url)


@pytest.mark.parametrize("declared", ["DOUBLE PRECISION", "DECIMAL(10,2)", "REAL"])
@pytest.mark.parametrize("database", ["sqlite", "mariadb", "postgresql"], indirect=True)
def test_a_fractional_number_symbol_column_is_refused_alike_on_every_database(
    database: str, declared: str
) -> None:
    """A DOUBLE symbol 7 built on MariaDB and PostgreSQL but was '7.0' to SQLite; a DECIMAL(10,2) 7 built
    on SQLite but was '7.00' to the others: one input, three answers."""
    engine = sa.create_engine(database)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"CREATE TABLE crypto_price (date VARCHAR(32), crypto_symbol {declared}, open DOUBLE PRECISION, "
                "high DOUBLE PRECISION, low DOUBLE PRECISION, close DOUBLE PRECISION, volume DOUBLE PRECISION)"
            )
        )
        conn.execute(sa.text("CREATE TABLE US_Bond_Yield (date VARCHAR(32), yield DOUBLE PRECISION)"))
        conn.execute(
            sa.text("INSERT INTO crypto_price VALUES ('2024-01-01 00:00:00', 7, 1, 2, 0.5, 1.5, 10)")
        )
        conn.execute(sa.text("INSERT INTO US_Bond_Yield VALUES ('2024-01-01 00:00:00', 0.000002)"))
    engine.dispose()
    with pytest.raises(
        DataError,
        match=r"^table 'crypto_price': column 'crypto_symbol' is a fractional number \(.*\); symbols are "
        r"matched as text.*store them as text \(VARCHAR\)$",
    ):
        plan_source(DatasetSpec(join="prices", symbols=("7",)), database)


def test_two_spellings_of_a_symbol_in_one_table_are_named_when_read_as_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another tool's table spells one symbol two ways (its first hours `aaausdt`, the rest `AAAUSDT`):
    matching is case-insensitive, so both are read as AAAUSDT, and the log says so."""
    folder = _csvs(tmp_path / "csv")
    prices = pd.read_csv(folder / "crypto_price.csv")
    first = prices.index[prices["crypto_symbol"] == "AAAUSDT"][: HOURS // 2]
    prices.loc[first, "crypto_symbol"] = "aaausdt"
    prices.to_csv(folder / "crypto_price.csv", index=False)
    url = f"sqlite:///{tmp_path / 'raw.db'}"
    _write_raw(folder, url)
    with caplog.at_level("WARNING", logger="seqsweep"):
        plan = plan_source(DatasetSpec(join="prices", symbols=("AAAUSDT",)), url)
    assert plan.symbols == ("AAAUSDT",)
    assert "symbol AAAUSDT is stored as 2 spellings ('AAAUSDT', 'aaausdt')" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="seqsweep"):
        plan_source(DatasetSpec(join="prices", symbols=("BBBUSDT",)), url)
    assert "spellings" not in caplog.text  # one spelling ('BBBUSDT ') is no news
