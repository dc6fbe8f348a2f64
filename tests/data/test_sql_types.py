"""SQL column types the drivers hand over differently: the same rows, or the same refusal, on SQLite,
MariaDB and PostgreSQL. Tables are made by SQLAlchemy (as a user's own tables are), not by `load-csv`.

- epoch milliseconds in a DECIMAL `date` (MariaDB and PostgreSQL give `Decimal`: read as text and refused);
- a BOOLEAN value column (SQLite and MariaDB give 0/1, PostgreSQL True/False: refused there only);
- a duration column (MariaDB's TIME, PostgreSQL's INTERVAL give `timedelta`: refused, naming the column),
  one longer than Python's `timedelta` holds included.
- joined `date` columns that SQL cannot match (epoch seconds beside milliseconds or DATETIME): on MariaDB
  no row matched and the build blamed an all-NULL `yield`;
- `date` columns that cannot hold times (a 4-byte float, a duration) and SQLite text dates a join or a
  bound would compare wrongly (two-digit offsets, day-first beside month-first, text in a NUMERIC column).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from seqsweep.data import DatasetSpec
from seqsweep.data.sources import plan_source
from seqsweep.data.symbol_rows import load_symbol_rows
from seqsweep.data.tables import OHLCV_COLUMNS as OHLCV
from seqsweep.errors import DataError

HOURS = pd.date_range("2024-01-01", periods=48, freq="1h")
BACKENDS = ["sqlite", "mariadb", "postgresql"]


def _write(
    url: str, date_type: sa.types.TypeEngine[Any], extra: tuple[str, sa.types.TypeEngine[Any], list[Any]]
) -> None:
    """`crypto_price` (AAAUSDT, `close` and the `extra` column) and `US_Bond_Yield`, `date` as `date_type`."""
    name, kind, values = extra
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    prices = sa.Table(
        "crypto_price", meta, sa.Column("date", date_type), sa.Column("crypto_symbol", sa.String(16)),
        sa.Column("close", sa.Float()), sa.Column(name, kind),
    )  # fmt: skip
    bond = sa.Table("US_Bond_Yield", meta, sa.Column("date", date_type), sa.Column("yield", sa.Float()))
    dates = (
        [int(h.value // 10**6) for h in HOURS]
        if isinstance(date_type, sa.Numeric)
        else [h.to_pydatetime() for h in HOURS]
    )
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            prices.insert(),
            [
                {"date": d, "crypto_symbol": "AAAUSDT", "close": 10.0 + i, name: values[i]}
                for i, d in enumerate(dates)
            ],
        )
        conn.execute(bond.insert(), [{"date": d, "yield": 4.0e-6} for d in dates])
    engine.dispose()


def _rows(url: str) -> pd.DataFrame:
    return load_symbol_rows(plan_source(DatasetSpec(join="prices", symbols=("AAAUSDT",)), url), "AAAUSDT")


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_epoch_milliseconds_in_a_decimal_date_are_read_alike(database: str) -> None:
    _write(database, sa.Numeric(16, 0), ("flag", sa.Float(), [0.0] * len(HOURS)))
    assert list(_rows(database)["date"]) == list(HOURS)


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_a_view_in_the_contracts_names_is_read_as_its_table(database: str) -> None:
    """A view giving a table of other names the contract's (`crypto_price` over `raw_prices`) was
    refused as "table 'crypto_price' not found ... load it with load-csv"."""
    _write(database, sa.DateTime(), ("flag", sa.Float(), [float(i) for i in range(len(HOURS))]))
    expected = _rows(database)
    engine = sa.create_engine(database)
    q = engine.dialect.identifier_preparer.quote
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE crypto_price RENAME TO raw_prices"))
        conn.execute(
            sa.text(
                f"CREATE VIEW crypto_price AS SELECT {q('date')}, crypto_symbol, close, flag FROM raw_prices"
            )
        )
    engine.dispose()
    pd.testing.assert_frame_equal(_rows(database), expected)


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_a_boolean_column_is_one_and_zero_on_every_database(database: str) -> None:
    flags = [i % 3 == 0 for i in range(len(HOURS))]
    _write(database, sa.DateTime(), ("flag", sa.Boolean(), flags))
    assert list(_rows(database)["flag"]) == [1.0 if f else 0.0 for f in flags]


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_a_duration_column_is_refused_naming_it(database: str) -> None:
    kind = sa.Interval(native=True) if database.startswith("postgresql") else sa.Time()
    durations = (
        [dt.timedelta(minutes=30)] * len(HOURS)
        if database.startswith("postgresql")
        else [dt.time(0, 30)] * len(HOURS)
    )
    _write(database, sa.DateTime(), ("dur", kind, durations))
    with pytest.raises(DataError, match=r"^column 'crypto_price\.dur': .*(durations|is not a number)"):
        _rows(database)


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_a_daily_date_table_joined_to_hourly_times_is_refused(database: str) -> None:
    """A DATE yield beside DATETIME prices: MariaDB and PostgreSQL joined the midnight rows only and
    left the yield missing in 23 hours of 24 (SQLite already refused the two spellings)."""
    engine = sa.create_engine(database)
    pd.DataFrame({"date": HOURS, "crypto_symbol": "AAAUSDT", "close": 10.0}).to_sql(
        "crypto_price", engine, index=False, dtype={"date": sa.DateTime()}
    )
    days = pd.date_range(HOURS[0], HOURS[-1], freq="D").date
    pd.DataFrame({"date": days, "yield": 4.0e-6}).to_sql(
        "US_Bond_Yield", engine, index=False, dtype={"date": sa.Date()}
    )
    engine.dispose()
    with pytest.raises(
        DataError, match=r"(US_Bond_Yield.date is a DATE column \(days\)|written two ways .*US_Bond_Yield)"
    ):
        _rows(database)


def _write_joined(url: str, price_date: tuple[Any, list[Any]], bond_date: tuple[Any, list[Any]]) -> None:
    """`crypto_price` (AAAUSDT, `close`) and `US_Bond_Yield`, each `date` of its own (type, values)."""
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    prices = sa.Table(
        "crypto_price", meta, sa.Column("date", price_date[0]), sa.Column("crypto_symbol", sa.String(16)),
        sa.Column("close", sa.Double()),
    )  # fmt: skip
    bond = sa.Table("US_Bond_Yield", meta, sa.Column("date", bond_date[0]), sa.Column("yield", sa.Double()))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            prices.insert(),
            [{"date": d, "crypto_symbol": "AAAUSDT", "close": 10.0 + i} for i, d in enumerate(price_date[1])],
        )
        conn.execute(bond.insert(), [{"date": d, "yield": 4.0e-6} for d in bond_date[1]])
    engine.dispose()


SECONDS = (sa.BigInteger(), [int(h.value // 10**9) for h in HOURS])
MILLISECONDS = (sa.BigInteger(), [int(h.value // 10**6) for h in HOURS])
DATETIMES = (sa.DateTime(), [h.to_pydatetime() for h in HOURS])


@pytest.mark.parametrize("database", ["mariadb", "postgresql"], indirect=True)
def test_joined_epoch_dates_in_one_unit_join_hour_by_hour(database: str) -> None:
    _write_joined(database, SECONDS, SECONDS)
    rows = _rows(database)
    assert list(rows["date"]) == list(HOURS)
    assert (rows["yield"] == 4.0e-6).all()


@pytest.mark.parametrize("database", ["mariadb", "postgresql"], indirect=True)
@pytest.mark.parametrize(
    ("price_date", "bond_date", "match"),
    [
        (SECONDS, MILLISECONDS, r"crypto_price\.date holds epoch s and US_Bond_Yield\.date epoch ms"),
        (SECONDS, DATETIMES, r"crypto_price\.date holds numbers .* US_Bond_Yield\.date holds times"),
        (DATETIMES, MILLISECONDS, r"US_Bond_Yield\.date holds numbers .* crypto_price\.date holds times"),
    ],
    ids=["seconds beside milliseconds", "seconds beside DATETIME", "DATETIME beside milliseconds"],
)
def test_joined_dates_that_cannot_match_are_refused_naming_both(
    database: str, price_date: tuple[Any, list[Any]], bond_date: tuple[Any, list[Any]], match: str
) -> None:
    """On MariaDB the join matched no row and the build stopped at "column 'yield' is all NaN (NULL); fill
    it, leave the column out ...", which points at the wrong fix (PostgreSQL refused with an SQL error)."""
    _write_joined(database, price_date, bond_date)
    with pytest.raises(DataError, match=match):
        _rows(database)


HALF = len(HOURS) // 2
MIXED_UNITS = (sa.BigInteger(), SECONDS[1][:HALF] + MILLISECONDS[1][HALF:])
PLACEHOLDER = (sa.BigInteger(), [0, *MILLISECONDS[1][1:]])


@pytest.mark.parametrize("database", ["mariadb", "postgresql"], indirect=True)
@pytest.mark.parametrize(
    ("price_date", "bond_date", "match"),
    [
        (SECONDS, MIXED_UNITS, r"US_Bond_Yield\.date mixes epoch units: .* reads as s, its latest .* as ms"),
        (MIXED_UNITS, SECONDS, r"crypto_price\.date mixes epoch units"),
        # a 0 placeholder is no time, not another unit ("mixes epoch units ... reads as no epoch")
        (
            MILLISECONDS,
            PLACEHOLDER,
            r"US_Bond_Yield\.date: 0 is not an epoch time in any unit between 1971 and 2200 \(its latest "
            r"value \d+ reads in ms\); replace it with the row's time, or delete the row$",
        ),
    ],
    ids=["joined table", "base table", "placeholder"],
)
def test_a_date_column_whose_epochs_change_unit_is_refused(
    database: str, price_date: tuple[Any, list[Any]], bond_date: tuple[Any, list[Any]], match: str
) -> None:
    """Each table's unit was read from its earliest date only: a yield in seconds, then in milliseconds,
    matched half the hours (the rest masked without a word); a joined rates table lost its rows."""
    _write_joined(database, price_date, bond_date)
    with pytest.raises(DataError, match=match):
        _rows(database)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_sqlite_epochs_whose_digit_count_changes_are_one_spelling(database: str) -> None:
    """Epoch seconds crossing 999999999 → 1000000000 (2001-09-09) were refused as dates "written two
    ways": the text shape counted their digits, though SQLite compares numbers as numbers."""
    hours = pd.date_range("2001-09-08 12:00", periods=48, freq="1h")
    seconds = (sa.BigInteger(), [int(h.value // 10**9) for h in hours])
    assert {len(str(v)) for v in seconds[1]} == {9, 10}
    _write_joined(database, seconds, seconds)
    rows = _rows(database)
    assert list(rows["date"]) == list(hours)
    assert (rows["yield"] == 4.0e-6).all()


@pytest.mark.parametrize("database", ["mariadb"], indirect=True)
def test_a_mariadb_bit_column_is_read_as_its_integer_value(database: str) -> None:
    """PyMySQL hands BIT over as bytes, and b'1' (49 stored) was read as the digit 1."""
    from sqlalchemy.dialects import mysql

    stored = [49 + i % 5 for i in range(len(HOURS))]
    _write(database, sa.DateTime(), ("flag", mysql.BIT(8), stored))
    assert list(_rows(database)["flag"]) == [float(v) for v in stored]


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
@pytest.mark.parametrize("varying", [False, True], ids=["BIT(8)", "VARBIT"])
def test_a_postgresql_bit_string_is_read_as_its_integer_value(varying: bool, database: str) -> None:
    """psycopg hands a bit string over as the text of its bits: B'00000101' (5) was read as 101."""
    from sqlalchemy.dialects import postgresql

    stored = [i % 7 for i in range(len(HOURS))]
    kind = postgresql.BIT(varying=True) if varying else postgresql.BIT(8)
    bits = [format(v, "b" if varying else "08b") for v in stored]
    _write(database, sa.DateTime(), ("flag", kind, bits))
    assert list(_rows(database)["flag"]) == [float(v) for v in stored]


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_postgresql_money_column_is_read_as_its_amount(database: str) -> None:
    """psycopg hands MONEY over as text in the server's `lc_monetary` format ('$620.33'): refused as "not a
    number", with advice that did not fit."""
    from decimal import Decimal

    from sqlalchemy.dialects import postgresql

    stored = [Decimal(f"{620 + i}.{i % 100:02d}") for i in range(len(HOURS))]
    _write(database, sa.DateTime(), ("flag", postgresql.MONEY(), stored))
    assert list(_rows(database)["flag"]) == [float(v) for v in stored]


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
@pytest.mark.parametrize("over", ["BIT(8)", "MONEY", "JSON"])
def test_a_postgresql_domain_is_read_as_its_own_type(over: str, database: str) -> None:
    """A domain (`CREATE DOMAIN qty AS BIT(8)`) reflects as DOMAIN, not as its type, so no cast was made:
    over BIT, 5 was read as 101; over MONEY, '$620.00' was refused; over JSON, the string "5" was read as 5."""
    from sqlalchemy.dialects import postgresql

    stored = [i % 7 for i in range(len(HOURS))]
    values: dict[str, tuple[Any, list[Any]]] = {
        "BIT(8)": (postgresql.BIT(8), [format(v, "08b") for v in stored]),
        "MONEY": (postgresql.MONEY(), [620 + v for v in stored]),
        # the domain passes values as they are: JSON text, the JSON string "0" and so on
        "JSON": (postgresql.JSON(), [f'"{v}"' for v in stored]),
    }
    kind, written = values[over]
    _write(database, sa.DateTime(), ("flag", postgresql.DOMAIN("flag_domain", kind), written))
    if over == "JSON":  # a JSON string, refused as on every database (`test_a_json_column_...`)
        with pytest.raises(DataError, match=r"""column 'crypto_price.flag': '"0"' is not a number"""):
            _rows(database)
    else:
        assert list(_rows(database)["flag"]) == [float(v + (620 if over == "MONEY" else 0)) for v in stored]


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_a_four_byte_float_column_is_read_in_full(database: str) -> None:
    """MariaDB's text protocol sends FLOAT with 6 significant digits: 43251.37109375 arrived as 43251.4."""
    values = [43251.37109375, 16777216.0, 1234.5670166015625, 98765.4296875] * (len(HOURS) // 4)
    _write(database, sa.DateTime(), ("flag", sa.REAL() if "postgresql" in database else sa.Float(), values))
    read = _rows(database)["flag"].to_numpy()
    assert list(read.astype(np.float32)) == list(np.asarray(values, dtype=np.float32))


@pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)
def test_binary_values_are_refused_not_read_as_their_bytes_text(database: str) -> None:
    """pandas read a BLOB holding the bytes of '12' as the number 12."""
    _write(database, sa.DateTime(), ("flag", sa.LargeBinary(), [b"12"] * len(HOURS)))
    with pytest.raises(
        DataError, match=r"column 'crypto_price.flag': holds binary values \(a BLOB or BYTEA, e\.g\. b'12'\)"
    ):
        _rows(database)


@pytest.mark.parametrize("database", ["mariadb", "postgresql"], indirect=True)
def test_a_four_byte_float_date_is_refused(database: str) -> None:
    """A MariaDB FLOAT `date` of hourly epochs (stored to 128 s) was read at 6 digits: three hours became
    one time, and the build blamed duplicate rows at a time the table does not hold."""
    kind = sa.REAL() if "postgresql" in database else sa.Float()
    _write_joined(database, (kind, SECONDS[1]), (sa.BigInteger(), SECONDS[1]))
    with pytest.raises(DataError, match=r"crypto_price\.date is a 4-byte float column .*nearest 128 s"):
        _rows(database)


@pytest.mark.parametrize("database", ["mariadb", "postgresql"], indirect=True)
def test_a_duration_date_is_one_line_not_an_unexpected_error(database: str) -> None:
    """INTERVAL / TIME `date` columns ended in `AttributeError: Can only use .str accessor` (exit 3)."""
    kind = sa.Interval(native=True) if "postgresql" in database else sa.Time()
    values = (
        [dt.timedelta(hours=i) for i in range(len(HOURS))]
        if "postgresql" in database
        else [dt.time(i % 24) for i in range(len(HOURS))]
    )
    engine = sa.create_engine(database)
    meta = sa.MetaData()
    table = sa.Table("ohlcv", meta, sa.Column("date", kind), *(sa.Column(c, sa.Double()) for c in OHLCV))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"date": v, **dict.fromkeys(OHLCV, 1.0)} for v in values])
    engine.dispose()
    plan = plan_source(DatasetSpec(join="ohlcv", symbols=("ETHUSDT",)), database)
    with pytest.raises(DataError, match=r"column '(\w+\.)?date': holds durations or times of day"):
        load_symbol_rows(plan, "ETHUSDT")


def _sqlite_text_dates(
    path: str, price_dates: list[str], bond_dates: list[str], date_type: str = "TEXT"
) -> str:
    """A SQLite file with `crypto_price` (AAAUSDT) and `US_Bond_Yield` whose `date` texts are written as given."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute(f"CREATE TABLE crypto_price (date {date_type}, crypto_symbol TEXT, close REAL)")
        conn.execute(f'CREATE TABLE "US_Bond_Yield" (date {date_type}, yield REAL)')
        conn.executemany(
            "INSERT INTO crypto_price VALUES (?, 'AAAUSDT', ?)",
            [(d, 10.0 + i) for i, d in enumerate(price_dates)],
        )
        conn.executemany('INSERT INTO "US_Bond_Yield" VALUES (?, 4e-6)', [(d,) for d in bond_dates])
        conn.commit()
    return f"sqlite:///{path}"


def test_sqlite_offsets_written_as_two_digits_are_two_spellings(tmp_path: Path) -> None:
    """`+00` in winter beside `+01` in summer (PostgreSQL's own text) escaped the two-offsets check: every
    summer row joined no yield, without a word (`+00:00` / `+01:00` were already refused)."""
    local = [f"{h:%Y-%m-%d %H:%M:%S}+0{int(h >= pd.Timestamp('2024-01-02'))}" for h in HOURS]
    utc = [f"{h:%Y-%m-%d %H:%M:%S}+00" for h in HOURS]
    url = _sqlite_text_dates(str(tmp_path / "offsets.db"), local, utc)
    with pytest.raises(DataError, match=r"SQLite holds the dates written two ways .*\+00'.*\+01'"):
        _rows(url)


def test_sqlite_tables_joined_on_text_that_is_not_iso_are_refused(tmp_path: Path) -> None:
    """Day first (13/01/2024) in one table, month first (01/13/2024) in the other: one shape, so the check
    passed, and SQL joined 5 January's prices to 1 May's yield."""
    day_first = [f"{h:%d/%m/%Y %H:%M}" for h in HOURS]
    month_first = [f"{h:%m/%d/%Y %H:%M}" for h in HOURS]
    url = _sqlite_text_dates(str(tmp_path / "dmy.db"), day_first, month_first)
    with pytest.raises(DataError, match=r"SQLite holds the dates as text like '01/01/2024 00:00'.*not ISO"):
        _rows(url)
    iso = [f"{h:%Y-%m-%d %H:%M:%S}" for h in HOURS]
    assert (_rows(_sqlite_text_dates(str(tmp_path / "iso.db"), iso, iso))["yield"] == 4e-6).all()


def test_sqlite_text_in_a_number_declared_date_takes_a_bound(tmp_path: Path) -> None:
    """SQLite keeps text that is no number as text whatever the declared type: a NUMERIC `date` of ISO
    text with a start bound ended in `ValueError: could not convert string to float` (exit 3)."""
    iso = [f"{h:%Y-%m-%d %H:%M:%S}" for h in HOURS]
    url = _sqlite_text_dates(str(tmp_path / "numeric.db"), iso, iso, date_type="NUMERIC")
    spec = DatasetSpec(join="prices", symbols=("AAAUSDT",), start="2024-01-02")
    rows = load_symbol_rows(plan_source(spec, url), "AAAUSDT")
    assert rows["date"].min() == pd.Timestamp("2024-01-02") and len(rows) == 24


@pytest.mark.parametrize("database", BACKENDS, indirect=True)
def test_a_json_column_is_read_as_its_text_on_every_database(database: str) -> None:
    """psycopg decodes JSON: the JSON string "0.05" was read as 0.05 on PostgreSQL, while SQLite and MariaDB
    handed over '"0.05"' and refused it. JSON numbers are read alike; JSON strings are refused alike."""
    numbers = [round(0.05 + 0.01 * i, 2) for i in range(len(HOURS))]
    _write(database, sa.DateTime(), ("flag", sa.JSON(), numbers))
    assert list(_rows(database)["flag"]) == numbers
    engine = sa.create_engine(database)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE crypto_price"))
        conn.execute(
            sa.text('DROP TABLE "US_Bond_Yield"' if "postgresql" in database else "DROP TABLE US_Bond_Yield")
        )
    engine.dispose()
    _write(database, sa.DateTime(), ("flag", sa.JSON(), [str(n) for n in numbers]))
    with pytest.raises(DataError, match=r"""column 'crypto_price.flag': '"0.05"' is not a number"""):
        _rows(database)


def _write_dates_beyond_python(url: str, table: str, kind: str, beyond: str) -> None:
    """`table` (`ohlcv`, or `US_Bond_Yield` beside `crypto_price` of AAAUSDT) of 48 hourly rows in a PostgreSQL
    `kind` date column, the last one `beyond` instead (`infinity`, a year past 9999 or before Christ)."""
    hours = "TIMESTAMP '2024-01-01' + i * INTERVAL '1 hour'"
    stamp = f"CASE WHEN i = 47 THEN '{beyond}'::{kind} ELSE CAST({hours} AS {kind}) END"
    rows = "FROM generate_series(0, 47) i"
    if table == "ohlcv":
        statements = [
            f"CREATE TABLE ohlcv (date {kind}, {', '.join(f'{c} float8' for c in OHLCV)})",
            f"INSERT INTO ohlcv SELECT {stamp}, {', '.join('1.0 + i' for _ in OHLCV)} {rows}",
        ]
    else:
        statements = [
            "CREATE TABLE crypto_price (date timestamp, crypto_symbol text, close float8)",
            f"INSERT INTO crypto_price SELECT {hours}, 'AAAUSDT', i {rows}",
            f'CREATE TABLE "US_Bond_Yield" (date {kind}, yield float8)',
            f'INSERT INTO "US_Bond_Yield" SELECT {stamp}, 4e-6 {rows}',
        ]
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    engine.dispose()


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
@pytest.mark.parametrize("driver", ["postgresql+psycopg2", "postgresql+psycopg"])
@pytest.mark.parametrize(
    ("table", "kind", "beyond"),
    [
        ("ohlcv", "timestamp", "infinity"),
        ("ohlcv", "timestamptz", "-infinity"),
        ("ohlcv", "date", "infinity"),
        ("ohlcv", "timestamp", "20000-01-01"),
        ("ohlcv", "timestamptz", "0100-01-01 00:00:00+00 BC"),
        ("ohlcv", "date", "0100-01-01 BC"),
        ("US_Bond_Yield", "timestamp", "-infinity"),
        ("US_Bond_Yield", "timestamp", "20000-01-01"),
    ],
)
def test_a_postgresql_date_python_cannot_hold_is_refused_naming_the_column_on_every_driver(
    database: str, driver: str, table: str, kind: str, beyond: str
) -> None:
    """PostgreSQL stores dates that Python's cannot hold, and the drivers raised in the middle of the fetch:
    psycopg (v3, plain `postgresql://`'s driver) on `infinity` (`unexpected error: DataError: timestamp too
    large (after year 10K): 'infinity'`, exit 3; in a join "reading the schema failed", no column named),
    both on a year past 9999 or before Christ (psycopg2: `unexpected error: ValueError: year 20000 is out of
    range`). psycopg2 handed `infinity` over as 9999-12-31, refused naming the column: now every one is."""
    _write_dates_beyond_python(database, table, kind, beyond)
    url = database.replace("postgresql+psycopg2", driver, 1)
    join = "ohlcv" if table == "ohlcv" else "prices"
    symbol = "ETHUSDT" if table == "ohlcv" else "AAAUSDT"
    with pytest.raises(DataError, match=r"column '(\w+\.)?date': .*dates must lie between 1677"):
        load_symbol_rows(plan_source(DatasetSpec(join=join, symbols=(symbol,)), url), symbol)


def _write_ohlcv_volume(url: str, sql_type: str, value: str) -> None:
    """PostgreSQL `ohlcv` of 48 hours whose `volume` is `sql_type`, `value` at hour 5 and NULL elsewhere."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(f"CREATE TABLE ohlcv (date timestamp, {', '.join(f'{c} float8' for c in OHLCV)})")
        )
        conn.execute(sa.text(f"ALTER TABLE ohlcv ALTER COLUMN volume TYPE {sql_type} USING NULL"))
        conn.execute(
            sa.text(
                "INSERT INTO ohlcv SELECT TIMESTAMP '2024-01-01' + i * INTERVAL '1 hour', 1, 1, 1, 1, "
                f"CASE WHEN i = 5 THEN {value} END FROM generate_series(0, 47) i"
            )
        )
    engine.dispose()


def _ohlcv_rows(url: str) -> pd.DataFrame:
    return load_symbol_rows(plan_source(DatasetSpec(join="ohlcv", symbols=("ETHUSDT",)), url), "ETHUSDT")


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_value_the_driver_cannot_load_is_one_line_naming_the_read(database: str) -> None:
    """The rows are fetched from the DBAPI cursor itself (`_fetch_tuples`), past SQLAlchemy's wrapping of
    driver errors: psycopg's refusal of a value Python cannot hold (here a TIME of 24:00:00, which
    PostgreSQL stores and Python's `time` cannot) ended as `unexpected error: DataError` (exit 3) instead
    of the database's one line."""
    _write_ohlcv_volume(database, "time", "TIME '24:00:00'")
    url = database.replace("postgresql+psycopg2", "postgresql+psycopg", 1)
    with pytest.raises(DataError, match=r"reading the rows of ETHUSDT failed: can't parse time '24:00:00'"):
        _ohlcv_rows(url)


@pytest.mark.parametrize("driver", ["postgresql+psycopg2", "postgresql+psycopg"])
@pytest.mark.parametrize("sign", ["", "-"])
@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_an_interval_longer_than_python_holds_is_refused_naming_the_column(
    driver: str, sign: str, database: str
) -> None:
    """An INTERVAL beyond `timedelta`'s 999,999,999 days (PostgreSQL stores 178,000,000 years): psycopg2's
    typecaster raised `OverflowError: Python int too large to convert to C int` in the middle of the fetch
    (unexpected error, exit 3), psycopg's `can't parse interval` named the read but not the column. Both
    now read it as the longest duration Python holds, refused with the column's other durations."""
    _write_ohlcv_volume(database, "interval", f"INTERVAL '{sign}100000000 years'")
    url = database.replace("postgresql+psycopg2", driver, 1)
    with pytest.raises(DataError, match=r"^column 'ohlcv\.volume': holds durations .*, not numbers"):
        _ohlcv_rows(url)
