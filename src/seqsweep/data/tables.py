"""The table contract (names, key columns) and the one writer that puts frames into a database.

`seqsweep data sample` and `seqsweep data load-csv` both write through `write_tables`, so every table
the project creates has the same types (`date` DATETIME, `crypto_symbol` VARCHAR) and the same
(crypto_symbol, date) index, whichever database holds it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Final

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Engine

from seqsweep._fs import signals_held
from seqsweep.data.pg_views import postgresql_views
from seqsweep.data.table_extras import not_kept, not_kept_warning
from seqsweep.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

LENDING_TABLE: Final = "crypto_lending_borrowing"
PRICE_TABLE: Final = "crypto_price"
YIELD_TABLE: Final = "US_Bond_Yield"

DATE: Final = "date"
SYMBOL: Final = "crypto_symbol"
YIELD: Final = "yield"
RATE_COLUMNS: Final[tuple[str, ...]] = (
    "lending_rate",
    "borrowing_rate",
    "utilization_rate",
    "stable_borrow_rate",
)
"""What the notebook selects from the lending table."""
OHLCV_COLUMNS: Final[tuple[str, ...]] = (
    "open_price",
    "highest_price",
    "lowest_price",
    "closing_price",
    "volume",
)
"""GRU-ow's candle columns (besides `date`)."""

REQUIRED_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    LENDING_TABLE: (DATE, SYMBOL, *RATE_COLUMNS),
    PRICE_TABLE: (DATE, SYMBOL),
    YIELD_TABLE: (DATE, YIELD),
}
"""Columns a known table must carry; other tables need nothing (an OHLCV table is checked when read)."""

CYCLICAL_FEATURES: Final[tuple[str, ...]] = (
    "month_sin", "month_cos", "day_sin", "day_cos", "hour_sin", "hour_cos", "dayofweek_sin", "dayofweek_cos",
)  # fmt: skip
"""The calendar features the build adds after the value columns (`features.cyclical_encodings`)."""
EMBEDDING_PREFIX: Final = "crypto_symbol_embedding_"
"""The symbol embedding's feature names: this prefix and the component's number."""
INTERNAL_PREFIX: Final = "__"
"""Names the build keeps its own per-row values under beside the value columns (`build._INDEX` ...)."""


def reserved_column(name: str) -> str | None:
    """Why a value column may not be called `name` (a name the build gives its own values), or None.

    A price column `__hour_sin` was overwritten by the hour's sine, `__digest` took the rows' digest out of
    the cache key, and `hour_sin` or `crypto_symbol_embedding_1` made the feature list name two columns
    alike (a model card or a view picking a feature by name got the wrong one)."""
    if name.startswith(INTERNAL_PREFIX):
        return f"names starting with {INTERNAL_PREFIX!r} are the build's own"
    if name in CYCLICAL_FEATURES or name.startswith(EMBEDDING_PREFIX):
        return "the build names a feature of its own so"
    return None


SYMBOL_LENGTH: Final = 64
"""VARCHAR size of `crypto_symbol`: MySQL cannot index an unbounded TEXT column."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def check_table_name(name: str) -> str:
    """Table names become SQL identifiers, so only plain names are accepted."""
    if not _NAME.match(name):
        raise ConfigError(
            f"table name {name!r}: use letters, digits and underscores (starting with a letter), "
            "e.g. pass --table ohlcv"
        )
    return name


def normalize_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """`date` as naive UTC datetime64[ns] (read by `date_reading.parse_dates`): every database then stores
    and compares the same instants. Raises DataError naming the column and a bad value."""
    if DATE not in frame.columns or pd.api.types.is_datetime64_dtype(frame[DATE].dtype):
        return frame
    from seqsweep.data.date_reading import parse_dates

    return frame.assign(**{DATE: parse_dates(frame[DATE], DATE)})


def _check_microseconds(table: str, frame: pd.DataFrame) -> None:
    """DataError (one line) for a date finer than the microsecond every database keeps (`DATE_TYPE`):
    the drivers cut the rest off without a word, so 00:00:00.123456789 and 00:00:00.123456999 were
    stored as one time, which the build then refused as two rows at one time."""
    if DATE not in frame.columns or not pd.api.types.is_datetime64_dtype(frame[DATE].dtype):
        return
    nanoseconds = frame[DATE].dt.nanosecond
    finer = nanoseconds.notna() & (nanoseconds != 0)
    if finer.any():
        first = frame[DATE][finer].iloc[0]
        raise DataError(
            f"table {table}: column {DATE!r}: {first} is finer than the microsecond a database keeps "
            f"(the rest would be cut off without a word); round the dates to microseconds or coarser"
        )


DATE_TYPE: Final = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
"""The `date` column's SQL type: to the microsecond everywhere (MariaDB's plain DATETIME drops the fraction
of a second, so `12:00:00.6` would join SQLite's and PostgreSQL's rows differently)."""


def write_table(engine: Engine, table: str, frames: Iterable[pd.DataFrame], *, chunksize: int = 5000) -> int:
    """Write `frames` as table `table`, replacing an existing one; returns the number of rows.

    Rows go to a staging table first and replace `table` only once every chunk is in, so a bad
    chunk leaves the old table untouched (nothing half-written). SQLite tables are ANALYZEd
    (`sqlite_stat1`) so the planner uses the (crypto_symbol, date) index.
    """
    return write_tables(engine, {table: frames}, chunksize=chunksize)[table]


def write_tables(
    engine: Engine, tables: Mapping[str, Iterable[pd.DataFrame]], *, chunksize: int = 5000
) -> dict[str, int]:
    """Write several tables together: every one is staged before any replaces its old rows.

    `tables` maps a table name to its frames (read lazily, in order). A frame that fails (a
    DataError from the reader, a database error) drops every staging table and leaves every old
    table as it was, so loading a folder never leaves some tables new and others old. The tables are
    then swapped in all at once (one transaction; on MariaDB one RENAME TABLE), so even a kill in the
    middle leaves every table old or every table new; views over them read the new rows. Returns rows
    per table. Raises DataError (one line, every table as it was) for a view where a table would go, a
    name longer than the database takes, or a PostgreSQL view over a table that cannot be made again
    over its new rows.
    """
    _check_replaceable(engine, list(tables))
    _check_name_lengths(engine, list(tables))
    _drop_set_aside(engine, list(tables))
    staged: dict[str, tuple[int, list[str]]] = {}
    indexes: dict[str, str | None] = {}
    try:
        for table, frames in tables.items():
            staged[table] = _stage(engine, table, frames, chunksize)
        # every index name is settled (and fits) before the first table is replaced
        for table, (_, columns) in staged.items():
            key = _index_key(columns)
            taken = {i for i in indexes.values() if i}
            indexes[table] = _index_name(engine, table, key, taken) if key else None
        if not transactional_ddl(engine):
            # MariaDB keeps index names per table: the staging tables are indexed before the one RENAME
            for table, (_, columns) in staged.items():
                _create_index(engine, _staging_name(engine, table), columns, indexes[table])
        lost = _not_kept(engine, list(staged))
    except BaseException as exc:
        _drop_staging(engine, list(tables), exc)
        raise
    # a Ctrl-C or SIGTERM acts after the swap, never inside it; a SIGKILL (or a power cut) inside it leaves
    # every table old (the transaction is rolled back) or, on MariaDB, every table new and `__old` tables
    # the next load drops: each statement used to be committed alone, so one between the DROP and the
    # RENAME lost the table, and one between two tables left the folder half new, half old
    try:
        with signals_held():
            if transactional_ddl(engine):
                _swap_in_one_transaction(
                    engine, {table: cols for table, (_, cols) in staged.items()}, indexes
                )
            else:
                _swap_in_one_rename(engine, list(staged))
    except BaseException as exc:  # rolled back (a view that cannot be made again): every table as it was
        _drop_staging(engine, list(tables), exc)
        raise
    for table, (rows, _) in staged.items():
        logger.info("wrote %d rows to table %s", rows, table)
    for table, items in lost.items():
        logger.warning("%s", not_kept_warning(table, items))
    return {table: rows for table, (rows, _) in staged.items()}


def _not_kept(engine: Engine, tables: list[str]) -> dict[str, list[str]]:
    """What replacing each of `tables` drops besides its rows and the project's index
    (`table_extras.not_kept`), for the tables that hold anything else."""
    inspector = sa.inspect(engine)
    lost: dict[str, list[str]] = {}
    for table in tables:
        if not inspector.has_table(table):
            continue
        key = _index_key([column["name"] for column in inspector.get_columns(table)])
        items = not_kept(engine, table, key)
        if items:
            lost[table] = items
    return lost


def _drop_staging(engine: Engine, tables: list[str], failure: BaseException) -> None:
    """Drop the staging tables of `tables` after `failure` stopped their writing, never hiding it.

    A Ctrl-C or SIGTERM in the middle of a chunk leaves its cursor referenced from the exception's frames,
    and SQLite keeps the write lock of a closed connection until its statements are freed: the drop failed
    ("database is locked") and that error replaced the interrupt (exit 2, not 130 or 143), the staging
    tables left. The frames' variables are cleared first; a drop that still fails (a server gone) is a
    warning naming what is left, which the next load drops, and the first failure is raised as it was."""
    traceback.clear_frames(failure.__traceback__)
    left = []
    for table in tables:
        staging = _staging_name(engine, table)
        try:
            _drop(engine, staging)
        except sa.exc.SQLAlchemyError:
            left.append(staging)
    if left:
        logger.warning("staging tables left in the database (the next load drops them): %s", ", ".join(left))


def _check_replaceable(engine: Engine, tables: list[str]) -> None:
    """DataError (one line) before anything is written when a table to replace is a view: the swap would
    fail on it after the tables before it had been replaced (a folder left half new, half old)."""
    views = set(sa.inspect(engine).get_view_names())
    for table in tables:
        if table in views:
            raise DataError(
                f"{table!r} is a view in the database, which load-csv would not replace; drop the view "
                f"(or load the file as another table, --table NAME) and load again"
            )


IDENTIFIER_LIMITS: Final[dict[str, int]] = {"mysql": 64, "mariadb": 64, "postgresql": 63}
"""The longest table or index name each database takes (PostgreSQL counts bytes; the names here are
ASCII). MariaDB refuses a longer one (1059 "Identifier name ... is too long"), PostgreSQL cuts it short;
SQLite has no limit."""


def identifier_limit(engine: Engine) -> int | None:
    """The longest identifier `engine`'s database takes (`IDENTIFIER_LIMITS`), None without a limit."""
    return IDENTIFIER_LIMITS.get(engine.dialect.name)


def _fit(name: str, limit: int | None, suffix: str = "") -> str:
    """`name + suffix`, or where that is longer than `limit` the head of `name`, `_`, eight hex digits
    of the whole name's digest and `suffix`: always within `limit`, and one long name gives one short one."""
    whole = name + suffix
    if limit is None or len(whole) <= limit:
        return whole
    digest = hashlib.sha256(whole.encode()).hexdigest()[:8]
    return f"{name[: limit - len(suffix) - len(digest) - 1]}_{digest}{suffix}"


def _check_name_lengths(engine: Engine, tables: list[str]) -> None:
    """DataError (one line) before anything is written for a table name longer than the database takes:
    PostgreSQL would cut it short without a word (the table would not be found by its name after)."""
    limit = identifier_limit(engine)
    for table in tables:
        if limit is not None and len(table.encode()) > limit:
            raise DataError(
                f"table name {table!r} is {len(table.encode())} characters, longer than the {limit} "
                f"{engine.dialect.name} takes; rename the file (or load it alone with --table NAME) to "
                f"a name of at most {limit} characters"
            )


def _index_key(columns: Sequence[str]) -> list[str]:
    """The columns a table's index covers: (crypto_symbol, date), those of them it has."""
    return [c for c in (SYMBOL, DATE) if c in columns]


def _index_name(engine: Engine, table: str, key: Sequence[str], reserved: Iterable[str] = ()) -> str:
    """`ix_<table>_<key>`, or that name with `_2`, `_3` ... when an index of another table holds it (or
    `reserved`, names chosen for the other tables of this write): a table renamed as a backup
    (`crypto_price` → `crypto_price_old`) keeps its index's name, which SQLite and PostgreSQL keep
    database-wide, so creating it again failed after other tables had been replaced (MariaDB names
    indexes per table and loaded). A name longer than the database takes is cut to fit (`_fit`): a
    45-character table's `ix_..._crypto_symbol_date` failed on MariaDB after the other tables had been
    replaced."""
    inspector = sa.inspect(engine)
    limit = identifier_limit(engine)
    taken = set(reserved) | {
        index["name"]
        for other in inspector.get_table_names()
        if other not in (table, _staging_name(engine, table))
        for index in inspector.get_indexes(other)
    }
    base = f"ix_{table}_{'_'.join(key)}"
    name, n = _fit(base, limit), 1
    while name in taken:
        n += 1
        name = _fit(base, limit, f"_{n}")
    return name


def _staging_name(engine: Engine, table: str) -> str:
    """`<table>__staging`, its table part cut (`_fit`) where the whole is longer than the database takes."""
    return _fit(check_table_name(table), identifier_limit(engine), "__staging")


def _stage(
    engine: Engine, table: str, frames: Iterable[pd.DataFrame], chunksize: int
) -> tuple[int, list[str]]:
    """Append `frames` to `<table>__staging` (dropped first); rows written and the columns."""
    staging = _staging_name(engine, table)
    _drop(engine, staging)
    rows = 0
    columns: list[str] = []
    for frame in frames:
        frame = normalize_dates(frame)
        _check_microseconds(table, frame)
        columns = list(frame.columns)
        dtypes = {DATE: DATE_TYPE, SYMBOL: sa.String(SYMBOL_LENGTH)}
        # our transaction, not pandas': given the engine, pandas (3.1) ends its own transaction with a
        # commit whatever was raised, so a Ctrl-C or SIGTERM in the middle of a chunk (which leaves the
        # connection invalid) became "Can't reconnect until invalid transaction is rolled back" (exit 2),
        # and on SQLite the staging tables stayed, their drop refused ("database is locked")
        with engine.begin() as conn:
            frame.to_sql(
                staging,
                conn,
                if_exists="append",
                index=False,
                chunksize=chunksize,
                dtype={k: v for k, v in dtypes.items() if k in frame.columns},
            )
        rows += len(frame)
    if not columns:
        raise DataError(f"table {table}: nothing to write (the input holds no data)")
    return rows, columns


def text_quote(engine: Engine) -> Callable[[str], str]:
    """Quotes a table or column name for SQL written into `sqlalchemy.text`, on `engine`'s dialect.

    The dialect's own `identifier_preparer.quote` also doubles every `%` for drivers with `%`-style
    parameters (PyMySQL, psycopg), and `text` doubles them once more, so a column `Change %` reached
    MariaDB and PostgreSQL as `Change %%` (and SQLite as written). Here only the quote character is
    escaped; the name is always quoted (a lower-case name means the same quoted or not).
    """
    preparer = engine.dialect.identifier_preparer

    def quote(name: str) -> str:
        escaped = name.replace(preparer.escape_quote, preparer.escape_to_quote)
        return f"{preparer.initial_quote}{escaped}{preparer.final_quote}"

    return quote


RENAME_SWAP_DIALECTS: Final = frozenset({"mysql", "mariadb"})
"""Databases whose DDL is committed statement by statement (MariaDB/MySQL): their tables are swapped by
one `RENAME TABLE` of them all, which the server runs atomically. Every other database swaps them in one
transaction (SQLite and PostgreSQL roll DDL back)."""
SET_ASIDE_SUFFIX: Final = "__old"
"""What MariaDB's swap renames a replaced table to, before dropping it."""


def transactional_ddl(engine: Engine) -> bool:
    """Whether `engine`'s tables are swapped in one transaction (not MariaDB/MySQL's one RENAME)."""
    return engine.dialect.name not in RENAME_SWAP_DIALECTS


def _set_aside_name(engine: Engine, table: str) -> str:
    """`<table>__old` (MariaDB's swap), cut to fit like `_staging_name`."""
    return _fit(check_table_name(table), identifier_limit(engine), SET_ASIDE_SUFFIX)


def _drop_set_aside(engine: Engine, tables: list[str]) -> None:
    """On MariaDB, drop the `<table>__old` tables a load killed between its RENAME and its drops left
    (they would make the next RENAME fail); nothing elsewhere."""
    if transactional_ddl(engine):
        return
    for table in tables:
        _drop(engine, _set_aside_name(engine, table))


@contextmanager
def _one_transaction(engine: Engine) -> Iterator[sa.Connection]:
    """A connection in one transaction, committed when the block ends and rolled back if it raises,
    DDL included.

    pysqlite runs DDL outside the transaction it begins (only before INSERT, UPDATE, DELETE), so every
    DROP and RENAME was committed alone: its own BEGIN is turned off (SQLAlchemy's AUTOCOMMIT, which sets
    the driver's `isolation_level` to None) and the transaction is begun here, `BEGIN IMMEDIATE`, the
    pattern SQLAlchemy documents for pysqlite's transactional DDL. PostgreSQL's DDL is transactional."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            with suppress(sa.exc.SQLAlchemyError):
                conn.exec_driver_sql("ROLLBACK")
            raise
        conn.exec_driver_sql("COMMIT")


def _swap_in_one_transaction(
    engine: Engine, staged: Mapping[str, list[str]], indexes: Mapping[str, str | None]
) -> None:
    """Replace every table of `staged` (table → its columns) by its staging table in one transaction:
    drop it, rename the staging table to it, index it on (symbol, date) as `indexes[table]`
    (`_index_name`; None without either column) and ANALYZE it on SQLite. A failure (or a kill) leaves
    every table as it was.

    Views over the tables read the new ones after: SQLite's RENAME runs with `legacy_alter_table` on
    (otherwise it checks every view, and one over the table just dropped failed it: "error in view"), so
    a view keeps naming the table; PostgreSQL's views (which name a table by its identity, and forbid
    its DROP) are dropped first and made again from their definitions (`seqsweep.data.pg_views`).
    Raises DataError (one line) for a PostgreSQL view that cannot be made again over the new table."""
    quote = text_quote(engine)
    with _one_transaction(engine) as conn:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql("PRAGMA legacy_alter_table=ON")
        views = postgresql_views(conn, list(staged), quote) if engine.dialect.name == "postgresql" else []
        try:
            for view in reversed(views):  # the views over other views first
                conn.execute(sa.text(f"DROP VIEW {view.name}"))
            for table, columns in staged.items():
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {quote(table)}"))
                conn.execute(
                    sa.text(f"ALTER TABLE {quote(_staging_name(engine, table))} RENAME TO {quote(table)}")
                )
                _create_index(conn, table, columns, indexes[table])
                if sqlite:
                    # SQLite plans without statistics until ANALYZE: a bounded notebook join on an 8k-row
                    # table took 5.4 s without them, 0.01 s with them
                    conn.execute(sa.text(f"ANALYZE {quote(table)}"))
            for view in views:
                view.create(conn, list(staged))
        finally:
            if sqlite:
                with suppress(sa.exc.SQLAlchemyError):  # never in place of the error that ended the block
                    conn.exec_driver_sql("PRAGMA legacy_alter_table=OFF")


def _swap_in_one_rename(engine: Engine, tables: list[str]) -> None:
    """MariaDB/MySQL (whose DDL is committed statement by statement): one `RENAME TABLE` sets every old
    table aside as `<table>__old` and renames every (already indexed) staging table to its name, which the
    server does atomically; the set-aside tables are dropped after. A kill before the RENAME leaves every
    table old, one after it every table new (the next load drops the `__old` tables left). Views name the
    table, so they read the new one."""
    quote = text_quote(engine)
    existing = set(sa.inspect(engine).get_table_names())
    pairs: list[str] = []
    for table in tables:
        if table in existing:
            pairs.append(f"{quote(table)} TO {quote(_set_aside_name(engine, table))}")
        pairs.append(f"{quote(_staging_name(engine, table))} TO {quote(table)}")
    with engine.begin() as conn:
        conn.execute(sa.text(f"RENAME TABLE {', '.join(pairs)}"))
    set_aside = [quote(_set_aside_name(engine, table)) for table in tables if table in existing]
    if set_aside:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {', '.join(set_aside)}"))


def _create_index(
    connectable: Engine | sa.Connection, table: str, columns: Sequence[str], index: str | None
) -> None:
    """Index `table` on (symbol, date), those of them `columns` has, as `index` (nothing when None)."""
    key = _index_key(columns)
    if not key or index is None:
        return
    quote = text_quote(connectable.engine)
    statement = sa.text(f"CREATE INDEX {quote(index)} ON {quote(table)} ({', '.join(map(quote, key))})")
    if isinstance(connectable, sa.Connection):
        connectable.execute(statement)
        return
    with connectable.begin() as conn:
        conn.execute(statement)


def _drop(engine: Engine, table: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {text_quote(engine)(table)}"))
