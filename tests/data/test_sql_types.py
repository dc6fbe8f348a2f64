"""SQL column types the drivers hand over differently: the same rows, or the same refusal, on SQLite,
MariaDB and PostgreSQL. Tables are made by SQLAlchemy (as a user's own tables are), not by `load-csv`.

- epoch milliseconds in a DECIMAL `date` (MariaDB and PostgreSQL give `Decimal`: read as text and refused);
- a BOOLEAN value column (SQLite and MariaDB give 0/1, PostgreSQL True/False: refused there only);
- a duration column (MariaDB's TIME, PostgreSQL's INTERVAL give `timedelta`: built as nanoseconds).
- joined `date` columns that SQL cannot match (epoch seconds beside milliseconds or DATETIME): on MariaDB
  no row matched and the build blamed an all-NULL `yield`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from seqsweep.data import DatasetSpec
from seqsweep.data.sources import load_symbol_rows, plan_source
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
