"""How a SQL column's values are read exactly: its type under any variant, and the cast that keeps its text.

Shared by the join's plan (`sources`), the date checks (`sql_dates`), the symbol lookup (`symbol_match`)
and the join-time checks (`join_checks`): `underlying_type` sees through PostgreSQL domains,
`exact_text(dialect)` compares a text column byte for byte (no collation folding case, accents or
trailing blanks), and `read_as(kind, dialect)` is the cast a value column needs to reach Python as the
value stored on every database (bit strings as integers, 4-byte floats (`single_precision`) as
DOUBLE, PostgreSQL's MONEY as NUMERIC and JSON as text).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import mysql as mysql_types
from sqlalchemy.dialects import postgresql as postgresql_types


def underlying_type(kind: Any) -> Any:
    """The SQL type a column stores its values as: a PostgreSQL domain's own type (`CREATE DOMAIN qty AS
    BIT(8)`, a domain over a domain too), else `kind`. Every check and cast reads the stored type: a
    domain over BIT was read as the text of its bits (5 as 101), one over MONEY refused as `'$1,234.50'`
    and one over JSON decoded (the JSON string `"0.05"` read as 0.05), where the plain types are read as
    numbers alike on every database."""
    while isinstance(kind, postgresql_types.DOMAIN):
        kind = kind.data_type
    return kind


NUMBER_TYPES: Final = (sa.Integer, sa.Numeric, sa.Float)
"""SQL types of a `date` column that holds epoch numbers."""


def exact_text(dialect: str) -> Callable[[str], str]:
    """SQL that compares a text column byte for byte on `dialect`: MariaDB/MySQL's default collations fold
    case, accents ('É' = 'E') and trailing blanks, so there the column is cast to BINARY; PostgreSQL's
    follow the column's collation (a nondeterministic one folds case and accents), so there it is read
    as text in the "C" collation; SQLite compares text exactly already. The MariaDB bytes are those of the text in utf8mb4, whatever
    the column's character set (a latin1 database's `À` is one byte there). Symbols are matched in Python (`canonical_symbol`), and the
    query must then select exactly the spellings matched, on every database alike."""
    if dialect in ("mysql", "mariadb"):
        # converted to utf8mb4 first: a latin1 column's own bytes are no UTF-8 (and the bound
        # spellings arrive in the connection's utf8mb4)
        return lambda column: f"CAST(CONVERT({column} USING utf8mb4) AS BINARY)"
    if dialect == "postgresql":
        # a column of a nondeterministic ICU collation (`und-u-ks-level1`: 'À' = 'a') or of type citext
        # compares as the column says: as text in the "C" collation it compares byte for byte
        return lambda column: f'CAST({column} AS TEXT) COLLATE "C"'
    return lambda column: column


def read_as(kind: Any, dialect: str) -> str | None:
    """How a value column of SQL type `kind` is selected on `dialect` (`{}` is the column), None as it is.

    - A bit string (MariaDB's BIT, PostgreSQL's BIT/VARBIT) as its integer value: PyMySQL hands BIT over
      as bytes (b'1' read as the digit 1 where 49 was stored) and psycopg as the text of its bits (B'101',
      5, read as 101). PostgreSQL's text goes through BIT(64), so up to 64 bits.
    - A 4-byte float (MariaDB's FLOAT, PostgreSQL's REAL) as DOUBLE: MariaDB's text protocol sends FLOAT
      with 6 significant digits (43251.37109375 arrives as 43251.4); read as DOUBLE both give the value
      stored.
    - PostgreSQL's MONEY as NUMERIC: psycopg hands it over as text in the server's `lc_monetary` format
      (`$620.33`), which no number reader should guess at.
    - PostgreSQL's JSON and JSONB as their text: psycopg decodes them (the JSON string `"0.05"` became the
      text 0.05, read as a number), where SQLite and MariaDB hand over the JSON text itself (`"0.05"`,
      quotes included, refused as no number); as text every database gives the same value.
    """
    if single_precision(kind, dialect):
        return "CAST({} AS DOUBLE PRECISION)" if dialect == "postgresql" else "CAST({} AS DOUBLE)"
    if dialect in ("mysql", "mariadb") and isinstance(kind, mysql_types.BIT):
        return "CAST({} AS UNSIGNED)"
    if dialect == "postgresql" and isinstance(kind, postgresql_types.BIT):
        return "CAST(CAST(LPAD(CAST({} AS TEXT), 64, '0') AS BIT(64)) AS BIGINT)"
    if dialect == "postgresql" and isinstance(kind, postgresql_types.MONEY):
        return "CAST({} AS NUMERIC)"
    if dialect == "postgresql" and isinstance(kind, sa.JSON):
        return "CAST({} AS TEXT)"
    return None


def single_precision(kind: Any, dialect: str) -> bool:
    """Whether SQL type `kind` is a 4-byte float on `dialect` (MariaDB's FLOAT, PostgreSQL's REAL; 24
    significant bits, about 7 digits). SQLite stores every REAL in 8 bytes."""
    if dialect in ("mysql", "mariadb"):
        return isinstance(kind, mysql_types.FLOAT)
    if dialect == "postgresql":
        return isinstance(kind, sa.REAL) and not isinstance(kind, sa.DOUBLE_PRECISION)
    return False
