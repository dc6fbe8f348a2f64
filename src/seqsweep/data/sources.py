"""Where the rows come from: the database URL, the join's SQL, and how each symbol is spelled there.

The driver calls `plan_source` once: it checks tables, columns and symbols (each failure is one
line naming what to fix) and returns a picklable `SourcePlan`. Each per-symbol task then calls
`load_symbol_rows(plan, symbol)`. Every query is a `text()` with bound parameters (the symbol lists
are expanding parameters); only identifiers that were checked against the schema are spliced in,
quoted by the database's own dialect. URLs in messages and logs always have the password hidden.

Symbols match one way on every database: stripped and upper-cased (`ingest.canonical_symbol`), in
Python, not by the database's collation. `plan_source` lists the stored spellings of each requested
symbol per table (`aaausdt`, `'BBBUSDT '`), and the per-symbol query binds exactly those, so the
(crypto_symbol, date) index still serves the filter and the join (a join on UPPER(TRIM(symbol))
cannot use it: 0.35 s against 0.09 s per symbol on the real tables in SQLite). SQLite, MariaDB and
PostgreSQL then give the same rows. Every value read goes through `ingest` (`clean_rows`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import functools
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import mysql as mysql_types
from sqlalchemy.dialects import postgresql as postgresql_types
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from seqsweep._fs import unmakeable_folder
from seqsweep.data.csv_header import (
    READ_ERRORS,
    check_row_widths,
    invisible_character,
    invisible_name_error,
    read_header,
    require_columns,
    shown_names,
    unreadable,
    unsafe_name_character,
    visible_form,
)
from seqsweep.data.float_range import lost_in_text, parsed_with_candidates
from seqsweep.data.ingest import (
    CSV_MISSING,
    EPOCH_EARLIEST,
    EPOCH_LATEST,
    EPOCH_UNITS,
    NumberReader,
    canonical_symbol,
    epoch_unit_of,
    look_alike_form,
    pair_form,
    parse_dates,
    parse_numeric,
    refuse_time_columns,
)
from seqsweep.data.joins import JoinTables
from seqsweep.data.local_time import LOCAL_TIME_FIX, clock_change
from seqsweep.data.spec import DatasetSpec, grid_step, naive_utc
from seqsweep.data.tables import (
    DATE,
    LENDING_TABLE,
    OHLCV_COLUMNS,
    PRICE_TABLE,
    RATE_COLUMNS,
    REQUIRED_COLUMNS,
    SYMBOL,
    YIELD,
    YIELD_TABLE,
    reserved_column,
    text_quote,
)
from seqsweep.db_url import check_unescaped_at, mask, resolve, scrub
from seqsweep.errors import AmbiguousCommaError, ConfigError, DataError, DateCutError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10
"""A MySQL/MariaDB server that does not answer fails within this many seconds instead of hanging."""


# --- URLs ---------------------------------------------------------------------------------------


masked_url = mask
"""`seqsweep.db_url.mask`: the URL with its password shown as ***, the only form any output holds."""


def resolve_db_url(db: str | None = None, spec: DatasetSpec | None = None) -> str:
    """`--db`, else `spec.db`, else $SEQSWEEP_DB_URL, else the generated sample database (made on first
    use): `seqsweep.db_url.resolve` for a dataset spec."""
    return resolve(db, spec.db if spec is not None else None)


def _reason(exc: BaseException, url: str) -> str:
    """The driver's own message in one line, without SQLAlchemy's statement dump and never the password."""
    orig = getattr(exc, "orig", None) or exc
    return scrub(" ".join(str(orig).split()), url)[:300]


@contextlib.contextmanager
def db_errors(url: str, doing: str) -> Iterator[None]:
    """Turn driver errors raised while `doing` something into one DataError line (password hidden)."""
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        raise DataError(f"database {masked_url(url)}: {doing} failed: {_reason(exc, url)}") from None
    except pd.errors.DatabaseError as exc:  # pandas' `to_sql` wraps what the driver refused (a value
        cause = exc.__cause__ or exc  # the column's character set cannot hold, say)
        raise DataError(f"database {masked_url(url)}: {doing} failed: {_reason(cause, url)}") from None


UTC_SESSION: dict[str, str] = {
    "mysql": "SET time_zone = '+00:00'",
    "mariadb": "SET time_zone = '+00:00'",
    "postgresql": "SET TIME ZONE 'UTC'",
}
"""Per backend, the statement every new connection runs first (`utc_sessions`)."""


def create_engine(url: str) -> Engine:
    """An engine without a pool (tasks connect once), its sessions in UTC whatever the driver
    (`utc_sessions`); a bad URL or missing driver is a ConfigError."""
    check_unescaped_at(url)
    try:
        parsed = make_url(url)
    except ValueError as exc:  # e.g. a port of letters (`int()` inside make_url)
        raise ConfigError(
            f"database URL {masked_url(url)!s}: {scrub(str(exc), url)[:120]} (is the port a number?)"
        ) from None
    except sa_exc.ArgumentError:
        raise ConfigError(
            f"database URL {masked_url(url)!s} is not a SQLAlchemy URL (e.g. sqlite:///path.db, "
            "mysql+pymysql://user@host:3306/db)"
        ) from None
    backend = parsed.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend in ("mysql", "mariadb"):
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    try:
        engine = sa.create_engine(parsed, poolclass=NullPool, connect_args=connect_args)
    except (sa_exc.NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"database URL {masked_url(url)}: no driver for it ({_reason(exc, url)})") from None
    except sa_exc.ArgumentError as exc:  # a URL its dialect refuses: `sqlite://sample.db` (two slashes)
        raise ConfigError(f"database URL {masked_url(url)}: {_dialect_refusal(backend, url, exc)}") from None
    if backend in UTC_SESSION:
        utc_sessions(engine, UTC_SESSION[backend])
    postgresql_dates_beyond_python(engine)
    return engine


def _dialect_refusal(backend: str, url: str, exc: sa_exc.ArgumentError) -> str:
    """What to fix in a URL whose dialect refused it (`create_engine`), in one line, password hidden."""
    if backend == "sqlite":
        rest = url.split("://", 1)[-1]
        return (
            "a SQLite URL takes three slashes before a relative path and four before an absolute one: "
            f"write sqlite:///{scrub(rest, url)} (or sqlite:////abs/path.db)"
        )
    return _reason(exc, url)


def utc_sessions(engine: Engine, statement: str) -> None:
    """Run `statement` (`UTC_SESSION`) on every new DBAPI connection of `engine`, then commit it.

    A time-zone-aware column (PostgreSQL's timestamptz, MariaDB's TIMESTAMP) read back, or compared with a
    naive one in a join, is shifted by the session's zone, which is the server's or the database's unless
    set: an event on connect (SQLAlchemy's "Connection Pool Events", `PoolEvents.connect`) sets it for every
    driver alike (`mariadb+pymysql`, `postgresql+psycopg`, `pg8000` ...), where connect arguments
    are each driver's own. The commit keeps PostgreSQL's SET when a later transaction rolls back.
    """

    @sa.event.listens_for(engine, "connect")
    def set_utc(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(statement)
        finally:
            cursor.close()
        dbapi_connection.commit()


def postgresql_dates_beyond_python(engine: Engine) -> None:
    """Have the PostgreSQL drivers hand a date over that Python's cannot hold (`infinity`, `-infinity`, a
    year past 9999 or before Christ, all of which PostgreSQL stores) as the latest or earliest one Python
    holds (9999-12-31 23:59:59.999999, 0001-01-01), as psycopg2 does with ±infinity; `ingest` refuses such
    a date as outside 1677–2262, naming the column.

    The drivers' own loaders raise in the middle of the fetch instead: psycopg (v3, plain `postgresql://`'s
    driver) `timestamp too large (after year 10K): 'infinity'`, psycopg2 `ValueError: year 20000 is out of
    range`, so a whole-table read stopped with an unexpected error (exit 3) and a join with "reading the
    schema failed", no column named. The loaders are registered on every new connection.
    """
    driver = engine.dialect.driver
    if driver not in ("psycopg", "psycopg2"):
        return

    @sa.event.listens_for(engine, "connect")
    def register(dbapi_connection: Any, connection_record: Any) -> None:
        if driver == "psycopg":
            for name, loader in _psycopg_date_loaders().items():
                dbapi_connection.adapters.register_loader(name, loader)
        else:
            import psycopg2.extensions

            for caster in _psycopg2_date_casters():
                psycopg2.extensions.register_type(caster, dbapi_connection)


BEYOND_PYTHON: Final[dict[str, tuple[Any, Any]]] = {
    "date": (dt.date.min, dt.date.max),
    "timestamp": (dt.datetime.min, dt.datetime.max),
    "timestamptz": (dt.datetime.min.replace(tzinfo=dt.UTC), dt.datetime.max.replace(tzinfo=dt.UTC)),
}
"""Per PostgreSQL date type, (earliest, latest) value Python holds: what a date beyond them is read as."""


def _beyond_python(kind: str, text: str) -> Any:
    """`BEYOND_PYTHON`'s earliest `kind` for PostgreSQL's `text` before year 1 (`-infinity`, a year BC),
    else its latest (`infinity`, a year past 9999)."""
    earliest, latest = BEYOND_PYTHON[kind]
    return earliest if text.startswith("-") or text.endswith("BC") else latest


@functools.cache
def _psycopg_date_loaders() -> dict[str, type]:
    """psycopg's text loaders of `BEYOND_PYTHON`'s types, with `_beyond_python` where they raise.

    Each calls psycopg's own loader (compiled, with `psycopg[binary]`; its class cannot be subclassed), so
    reading dates costs what it did (a loader written in Python took 4.5 times as long, 1.1 s more on
    400,000 timestamps)."""
    import psycopg
    from psycopg.abc import AdaptContext
    from psycopg.adapt import Loader

    def beyond(kind: str, own: Any) -> type[Loader]:
        class BeyondPython(Loader):
            def __init__(self, oid: int, context: AdaptContext | None = None) -> None:
                super().__init__(oid, context)
                self._own = own(oid, context).load

            def load(self, data: Any) -> Any:
                try:
                    return self._own(data)
                except psycopg.DataError:
                    return _beyond_python(kind, bytes(data).decode())

        return BeyondPython

    loaders: dict[str, type] = {}
    for kind in BEYOND_PYTHON:
        own = psycopg.adapters.get_loader(psycopg.adapters.types[kind].oid, psycopg.pq.Format.TEXT)
        if own is not None:
            loaders[kind] = beyond(kind, own)
    return loaders


@functools.cache
def _psycopg2_date_casters() -> list[Any]:
    """psycopg2's typecasters of `BEYOND_PYTHON`'s types, with `_beyond_python` where they raise (its own
    typecaster called through Python: 0.13 s more on 400,000 timestamps, 0.54 s before)."""
    import psycopg2.extensions as extensions

    def wrapped(default: Any, kind: str) -> Any:
        def read(value: str | None, cursor: Any) -> Any:
            try:
                return default(value, cursor)
            except ValueError:
                return _beyond_python(kind, value or "")

        return extensions.new_type(default.values, f"SEQSWEEP_{default.name}", read)

    return [
        wrapped(extensions.PYDATE, "date"),
        wrapped(extensions.PYDATETIME, "timestamp"),
        wrapped(extensions.PYDATETIMETZ, "timestamptz"),
    ]


def _sqlite_file(url: str) -> Path | None:
    with contextlib.suppress(Exception):
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
            return None if parsed.database.startswith("file:") else Path(parsed.database)
    return None


def make_sqlite_folder(sqlite_file: Path) -> None:
    """Make the folder of a SQLite file a writer creates; DataError (one line) where none can be made (a
    part of the path is a file, or under /proc): `mkdir` raised FileExistsError or FileNotFoundError, which
    ended `data sample`, `load-csv` and the sample database's first use as unexpected errors (exit 3)."""
    folder = sqlite_file.parent
    reason = unmakeable_folder(folder)
    try:
        if reason is None:
            folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = f"{folder} cannot be made ({exc.strerror or exc}); give a folder you can write"
    if reason is not None:
        raise DataError(f"database file {sqlite_file}: {reason}")


def open_engine(url: str, *, must_exist: bool = True) -> Engine:
    """An engine whose database answered: unreachable servers and wrong credentials fail here.

    A SQLite file must exist when reading (`must_exist`), so a typo in the path is named instead of
    silently creating an empty database; writers create it, folders included.
    """
    sqlite_file = _sqlite_file(url)
    if sqlite_file is not None and not sqlite_file.exists():
        if must_exist:
            raise DataError(
                f"database file {sqlite_file} does not exist; create it with `seqsweep data sample --db {masked_url(url)}` "
                "or `seqsweep data load-csv DIR --db URL`"
            )
        make_sqlite_folder(sqlite_file)
    engine = create_engine(url)
    try:
        with engine.connect():
            pass
    except sa_exc.SQLAlchemyError as exc:
        engine.dispose()
        raise DataError(
            f"cannot connect to database {masked_url(url)}: {_reason(exc, url)} "
            "(check the host, port, database name and credentials)"
        ) from None
    except (ValueError, TypeError, LookupError, AttributeError) as exc:
        # a driver taking a URL option it cannot use (PyMySQL's `?charset=nosuch` fails on a None codec),
        # or reading a server answer it cannot decode (psycopg2 on a SQL_ASCII database hands over bytes)
        engine.dispose()
        failed = f"{type(exc).__name__}: {_reason(exc, url)}"
        if sa.engine.make_url(url).query:
            fix = f"the driver refused the URL's options ({failed}); check the query options after '?'"
        elif _backend(url) == "postgresql":
            fix = (
                f"the driver could not read the server's answer ({failed}); a database in SQL_ASCII "
                f"encoding does this: use a UTF8 database (CREATE DATABASE ... ENCODING 'UTF8')"
            )
        else:
            fix = f"the driver could not read the server's answer ({failed})"
        raise DataError(f"cannot connect to database {masked_url(url)}: {fix}") from None
    return engine


# --- the joins -----------------------------------------------------------------------------------


def _join_tables(spec: DatasetSpec) -> JoinTables:
    """The tables `spec`'s join reads (`seqsweep.data.joins`)."""
    return spec.join_spec.layout(spec.ohlcv_table)


def _backend(url: str) -> str:
    """The database kind of a SQLAlchemy URL (`mysql`, `mariadb`, `postgresql`, `sqlite`, ...)."""
    return sa.engine.make_url(url).get_backend_name()


def _utf8_bytes(text: str) -> bytes:
    return text.encode("utf-8")


@dataclass(frozen=True)
class SourcePlan:
    """What a per-symbol task needs to fetch its rows. Picklable; holds no engine."""

    url: str | None = field(repr=False)
    """Full URL, possibly with a password: never log it, log `masked`."""
    masked: str
    sql: str | None
    """Dialect-quoted SELECT of one symbol's rows (`:symbols`, `:start`, `:end`, `:limit` bound)."""
    csv: str | None
    value_columns: tuple[str, ...]
    """Columns the query returns besides `date`, in feature order; each is read as float64."""
    symbols: tuple[str, ...]
    """Canonical (stripped, upper-cased) dataset symbols, in spec order."""
    by_symbol: bool
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    limit: int | None
    spellings: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    """Canonical symbol → SQL parameter (`b_symbols`, `p_symbols`) → its stored spellings in that table."""
    labels: dict[str, str] = field(default_factory=dict)
    """Value column → `table.column`, how messages name it."""
    date_text: SQLiteDateText | None = None
    """SQLite only: how its `date` text is written, so that `start`/`end` bind in that spelling."""
    epoch_unit: str | None = None
    """The unit of a `date` of epoch numbers ('s', 'ms', 'us', 'ns'), so that `start`/`end` bind as
    numbers in it (start rounded up, end down)."""
    whole_sql: str | None = None
    """`sql` without `start`, `end` and `limit`: every row of one symbol (`thousands_columns`)."""

    def params(self, symbol: str) -> dict[str, Any]:
        """The bound parameters of `sql` for one canonical symbol."""
        # MariaDB compares the symbols as utf8mb4 bytes (`exact_text`): they go as bytes too, whatever the
        # connection's character set (`?charset=latin1` sent 'À' as the one byte C0, which matched nothing)
        as_sent = _utf8_bytes if self.url is not None and _backend(self.url) in ("mysql", "mariadb") else str
        params: dict[str, Any] = (
            {name: [as_sent(s) for s in spelled] for name, spelled in self.spellings[symbol].items()}
            if self.by_symbol
            else {}
        )
        if self.by_symbol and self.sql is not None:
            for name, spelled in self.spellings[symbol].items():  # the same spellings, as text
                stored = name.replace("_symbols", "_stored")
                if f":{stored}" in self.sql:
                    params[stored] = list(spelled)
        if self.limit is not None:
            # one time past the cut: every copy of a kept time comes, so `clean_rows` sees a conflict
            # between copies (`_query_rows` asks for more rows while copies take places);
            # `load_symbol_rows` keeps the latest `limit` times
            params["limit"] = self.limit + 1
        for name, bound in (("start", self.start), ("end", self.end)):
            if bound is None:
                continue
            if self.epoch_unit is not None:
                # whole units as integers (a BIGINT column of ns needs every digit); a bound between two
                # units as its exact fraction, which an integer column compares as ceil/floor would and a
                # REAL/DOUBLE one (1704067200.5) compares as it is
                per = EPOCH_NS[self.epoch_unit]
                params[name] = (
                    bound.value // per
                    if bound.value % per == 0
                    else _inner_float(bound.value, per, up=name == "start")
                )
            elif self.date_text is not None:
                params[name] = self.date_text.render(bound, round_up=name == "start")
            else:
                # the drivers take microseconds: a start between two of them rounds up, an end down
                stamp = bound.ceil("us") if name == "start" else bound.floor("us")
                params[name] = stamp.to_pydatetime()
        return params

    def statement(self) -> sa.TextClause:
        """`sql` with its bound parameters typed (dates as DATETIME, or as SQLite's date text)."""
        assert self.sql is not None
        date_type: sa.types.TypeEngine[Any] = (
            sa.BigInteger()
            if self.epoch_unit is not None
            else sa.String()
            if self.date_text is not None
            else sa.DateTime()
        )
        binds: dict[str, sa.BindParameter[Any]] = {
            "symbols": sa.bindparam("symbols", expanding=True),
            "b_symbols": sa.bindparam("b_symbols", expanding=True),
            "p_symbols": sa.bindparam("p_symbols", expanding=True),
            "b_stored": sa.bindparam("b_stored", expanding=True),
            "p_stored": sa.bindparam("p_stored", expanding=True),
            "start": sa.bindparam("start", type_=date_type),
            "end": sa.bindparam("end", type_=date_type),
            "limit": sa.bindparam("limit", type_=sa.Integer()),
        }
        return sa.text(self.sql).bindparams(*(bind for name, bind in binds.items() if f":{name}" in self.sql))


@dataclass(frozen=True)
class SQLiteDateText:
    """One spelling of SQLite's `date` text (ISO 8601, fixed width), in which a bound compares exactly.

    SQLite compares a DATETIME column as text, so `date >= '2024-01-03 00:00:00.000000'` leaves out
    the row stored as `2024-01-03 00:00:00` (a shorter string sorts first). Written in the stored
    spelling, fixed-width text sorts as time does; a bound finer than the stored precision is rounded
    inward (a start up, an end down), which keeps exactly the rows the bound keeps.
    """

    format: str
    """`strftime` format of the stored text, e.g. `%Y-%m-%d %H:%M:%S`."""
    precision: str
    """pandas frequency of its last field: `D`, `min`, `s`, `ms` or `us`."""
    digits: int = 6
    """Digits of the fraction of a second kept (3 for milliseconds)."""

    def render(self, bound: pd.Timestamp, round_up: bool) -> str:
        """`bound` in this spelling, rounded to the stored precision (up for a start, down for an end)."""
        value = bound.ceil(self.precision) if round_up else bound.floor(self.precision)
        text = value.strftime(self.format)
        return text[: len(text) - (6 - self.digits)] if "%f" in self.format else text

    @classmethod
    def of(cls, length: int, separator: str, iso: bool = True, zone: str = "") -> SQLiteDateText | None:
        """The spelling of ISO text `length` characters long with `separator` between date and time;
        None for any other: `iso` False (the text is no fixed-width ISO layout, `ISO_LAYOUT_GLOBS`: e.g.
        15/01/2024 00:00, which has an ISO length and separator but sorts by day), a `zone` (an offset or
        Z), other layouts."""
        if not iso or zone:
            return None
        if length == 10:
            return cls("%Y-%m-%d", "D")
        if separator not in (" ", "T"):
            return None
        date_time = f"%Y-%m-%d{separator}%H:%M"
        spellings = {
            16: cls(date_time, "min"),
            19: cls(f"{date_time}:%S", "s"),
            23: cls(f"{date_time}:%S.%f", "ms", digits=3),
            26: cls(f"{date_time}:%S.%f", "us"),
        }
        return spellings.get(length)


def _inner_float(numerator: int, denominator: int, *, up: bool) -> float:
    """`numerator / denominator` as the nearest float on the bound's inside: at or above it for a start
    (`up`), at or below it for an end. A plain division rounds to nearest, so an end of
    23:59:59.999999999 in epoch seconds became the next midnight and kept that row."""
    value = numerator / denominator
    exact = Fraction(numerator, denominator)
    if up and Fraction(value) < exact:
        return math.nextafter(value, math.inf)
    if not up and Fraction(value) > exact:
        return math.nextafter(value, -math.inf)
    return value


def _timestamp(value: str | None, key: str) -> pd.Timestamp | None:
    """`dataset.start`/`end` as naive UTC (an offset converted, as the stored rows are); None if unset.
    An inclusive `end` keeps the whole period it names (`end: 2024` all of 2024, as pandas reads it)."""
    return None if value is None else naive_utc(str(value), f"dataset.{key}", last_kept=key == "end")


def plan_source(spec: DatasetSpec, url: str | None, *, columns: tuple[str, ...] | None = None) -> SourcePlan:
    """Check that the source can give `spec`'s rows and describe how to fetch them.

    `columns`: read exactly these value columns (a trained model's, for `predict`), whatever else the
    tables hold now; `dataset.exclude_columns` is then not consulted (a column excluded in training and
    dropped since is no error, nor is a new text column). DataError names a column the tables lack.
    """
    start, end = _timestamp(spec.start, "start"), _timestamp(spec.end, "end")
    if start is not None and end is not None and start >= end:
        raise ConfigError(f"dataset.start must be before dataset.end, got {spec.start} >= {spec.end}")
    join = _join_tables(spec)
    symbols = tuple(canonical_symbol(s) for s in spec.symbol_list)
    if len(set(symbols)) != len(symbols):
        raise ConfigError(
            f"dataset.symbols: {list(spec.symbol_list)} names a symbol twice once stripped and upper-cased"
        )
    base = SourcePlan(
        url=url,
        masked=masked_url(url) if url else "",
        sql=None,
        csv=None,
        value_columns=(),
        symbols=symbols,
        by_symbol=join.by_symbol,
        start=start,
        end=end,
        limit=spec.max_rows_per_symbol,
    )
    if spec.csv is not None:  # only a join that reads CSV takes `csv` (DatasetSpec)
        kept = _wanted(
            spec, _check_csv(spec.csv, spec.join, spec.ohlcv_symbol), columns, f"dataset.csv {spec.csv}"
        )
        _check_targets(spec, kept)
        return replace(base, url=None, masked="", csv=spec.csv, value_columns=kept)
    if url is None:
        raise ConfigError("no database URL: pass --db, set dataset.db or $SEQSWEEP_DB_URL")
    engine = open_engine(url)
    try:
        with db_errors(url, "reading the schema"):
            return _plan_sql(spec, join, base, engine, columns)
    finally:
        engine.dispose()


def _plan_sql(
    spec: DatasetSpec, join: JoinTables, base: SourcePlan, engine: Engine, wanted: tuple[str, ...] | None
) -> SourcePlan:
    url = base.url or ""
    inspector = sa.inspect(engine)
    # a view is read as a table: the natural way to give a schema of other names the contract's
    existing = set(inspector.get_table_names()) | set(inspector.get_view_names())
    aliases: dict[str, str] = {"b": join.base}  # alias in the SQL -> table
    if join.partner:
        aliases["p"] = join.partner
    if join.with_yield:
        aliases["y"] = YIELD_TABLE
    tables = list(aliases.values())
    columns: dict[str, dict[str, Any]] = {}
    for table in tables:
        if table not in existing:
            raise DataError(
                f"table {table!r} not found in {masked_url(url)} (tables: {', '.join(sorted(existing)) or 'none'}); "
                "load it with `seqsweep data load-csv`"
            )
        columns[table] = {c["name"]: underlying_type(c["type"]) for c in inspector.get_columns(table)}
        for name in _required_columns(spec, table, wanted):
            if name not in columns[table]:
                twin = next(
                    (c for c in columns[table] if invisible_character(c) and visible_form(c) == name), None
                )
                if twin is not None:  # `yield` plus a zero-width space, written by another tool
                    raise invisible_name_error(f"table {table!r}", twin)
                raise DataError(
                    f"table {table!r} has no column {name!r} (columns: {shown_names(list(columns[table]))})"
                )
        if SYMBOL in columns[table]:
            _check_symbol_type(table, columns[table][SYMBOL])
    selected: dict[str, str] = {}  # value column -> alias of the table it comes from
    for alias, table in aliases.items():
        for name in _value_columns(table, columns[table]):
            if wanted is not None and name not in wanted:
                continue
            if name != name.strip():
                raise DataError(
                    f"table {table!r}: column {name!r} has blanks around its name (MariaDB drops them from "
                    f"the names a query returns); rename it {name.strip()!r}"
                )
            if invisible_character(name) is not None:  # it printed as `close` in "'close' is not a column"
                raise invisible_name_error(f"table {table!r}", name)
            reserved = reserved_column(name)
            if reserved is not None:
                raise DataError(f"table {table!r}: column {name!r} cannot be read ({reserved}); rename it")
            unsafe = unsafe_name_character(name)
            if unsafe is not None:
                raise DataError(
                    f"table {table!r}: column {name!r} holds {unsafe!r}, which the SQL that reads it cannot "
                    f"keep on every database (`:x` reads as a parameter); rename it without {unsafe!r}"
                )
            if name in selected:
                raise DataError(
                    f"tables {aliases[selected[name]]!r} and {table!r} both have a column {name!r}; the "
                    f"{spec.join} join takes it from one table only: rename or drop the other"
                )
            selected[name] = alias
    value_columns = _wanted(spec, tuple(selected), wanted, f"the {spec.join} join")
    if wanted is None:
        for table in tables:
            _note_unread_columns(spec.join, table, tuple(columns[table]), f"table {table!r}")
    selected = {name: selected[name] for name in value_columns}
    _check_targets(spec, value_columns)
    q = text_quote(engine)
    bounded = base.start is not None or base.end is not None
    latest = base.limit is not None
    date_types = {table: columns[table][DATE] for table in tables}
    _check_date_precision(date_types, engine.dialect.name)
    epoch_unit = None
    if bounded and (
        isinstance(date_types[join.base], NUMBER_TYPES) or _sqlite_stores_numbers(engine, join.base, q)
    ):
        epoch_unit = _bound_epoch_unit(engine, join.base, q, date_types[join.base])
    elif bounded:
        _check_bound_date_types(date_types)
    date_text = None
    if engine.dialect.name == "sqlite" and (len(tables) > 1 or bounded or latest):
        date_text = sqlite_date_text(engine, tables, q, bounded and epoch_unit is None, latest)
    elif engine.dialect.name != "sqlite":
        _check_server_date_columns(date_types, engine.dialect.name, bounded=bounded, latest=latest)
    if len(tables) > 1 or latest:
        # every dialect, whatever the declared type (SQLite keeps epoch integers in a DATETIME column): a
        # join over two units matched nothing, and the latest rows of a table whose unit changes partway
        # (ms, then s) were the old unit's, the newest rows left out without a word
        _check_epoch_units(engine, tables, q)
    symbol_types = {table: columns[table].get(SYMBOL) for table in tables}
    spellings = _resolve_symbols(engine, url, join, base.symbols, q, symbol_types)
    _check_undated_rows(engine, spec.join, join, base.symbols, q)
    if join.with_yield and YIELD in value_columns:
        _check_yield_spacing(engine, join.base, q)
    if len(tables) > 1:
        _check_join_times(engine, spec, join, spellings, q, yield_read=YIELD in value_columns)
    read_as = _value_casts(selected, {a: columns[t] for a, t in aliases.items()}, engine.dialect.name)
    indexed = _symbol_index_usable(engine.dialect.name, spellings)

    def select(plan: SourcePlan) -> str:
        return _select_sql(
            join, selected, q, plan, exact=exact_text(engine.dialect.name), read_as=read_as, indexed=indexed
        )

    return replace(
        base,
        date_text=date_text,
        epoch_unit=epoch_unit,
        sql=select(base),
        whole_sql=select(replace(base, start=None, end=None, limit=None)),
        value_columns=value_columns,
        spellings=spellings,
        # the rows' date is the base table's (`b.date`): a refusal of one names that table
        labels={DATE: f"{join.base}.{DATE}"}
        | {name: f"{aliases[alias]}.{name}" for name, alias in selected.items()},
    )


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


def _check_epoch_units(engine: Engine, tables: Sequence[str], q: Callable[[str], str]) -> None:
    """DataError (one line) for joined epoch `date` columns in different units (seconds beside
    milliseconds): SQL's join on date would match nothing and leave every joined value missing. Each
    table's unit is that of its earliest and latest dates (`_table_epoch_unit`)."""
    units: dict[str, str | None] = {}
    with engine.connect() as conn:
        for table in tables:
            units[table] = _table_epoch_unit(conn, table, q)[0]
    found = {table: unit for table, unit in units.items() if unit is not None}
    if len(set(found.values())) > 1:
        (a, unit_a), (b, unit_b) = next(
            ((x, found[x]), (y, found[y])) for x in found for y in found if found[x] != found[y]
        )
        raise DataError(
            f"{a}.date holds epoch {unit_a} and {b}.date epoch {unit_b}: the join on date would match no "
            f"row; store both in one unit (`seqsweep data load-csv` reads either and stores DATETIME)"
        )


def _table_epoch_unit(conn: sa.Connection, table: str, q: Callable[[str], str]) -> tuple[str | None, Any]:
    """(the epoch unit of `table`'s numeric `date`, its earliest value); the unit is None for an empty
    table or one whose dates are no epoch (`ingest.epoch_unit_of`, 1971–2200).

    Read from the earliest and the latest value: the units' ranges lie a factor of 1000 apart, so two
    ends in one unit hold every value between in it. Ends in two units (seconds, then milliseconds from
    some day on), or an end in none beside one in a unit (a 0 placeholder), are a DataError: SQL joins
    and bounds in one unit silently dropped or unmatched the other's rows.
    """
    first, last = conn.execute(sa.text(f"SELECT MIN({q(DATE)}), MAX({q(DATE)}) FROM {q(table)}")).one()
    if first is None or isinstance(first, str) or isinstance(last, str):
        return None, last if isinstance(last, str) else first  # SQLite: text there, its own checks apply
    if not all(isinstance(end, int | float | decimal.Decimal) for end in (first, last)):
        return None, first  # DATETIME values: no epoch
    unit_first, unit_last = epoch_unit_of(float(first)), epoch_unit_of(float(last))
    if (unit_first is None) != (unit_last is None):  # a placeholder (0, -1), PostgreSQL's NaN: no time
        bad = first if unit_first is None else last
        raise DataError(
            f"{table}.date: {bad} is not an epoch time in any unit between {EPOCH_EARLIEST.year} and "
            f"{EPOCH_LATEST.year} (its {'latest' if unit_first is None else 'earliest'} value "
            f"{last if unit_first is None else first} reads in {unit_last or unit_first}); replace it with "
            "the row's time, or delete the row"
        )
    if unit_first != unit_last:
        raise DataError(
            f"{table}.date mixes epoch units: its earliest value {first} reads as "
            f"{unit_first or 'no epoch'}, its latest {last} as {unit_last or 'no epoch'}; store every date "
            f"in one unit (`seqsweep data load-csv` reads each and stores DATETIME)"
        )
    return unit_first, first


EPOCH_NS: Final = dict(EPOCH_UNITS)
"""Nanoseconds per epoch unit (`ingest.epoch_unit_of`'s names)."""


def _bound_epoch_unit(engine: Engine, table: str, q: Callable[[str], str], kind: Any) -> str | None:
    """The epoch unit of `table`'s numeric `date` (its earliest value's, `ingest.epoch_unit_of`), in which
    a start/end bound (the sweep's, `validate`'s dry run, `predict --at`) is compared; DataError when the
    numbers are no epoch in any unit. None when SQLite holds text there (it keeps text that is no number
    as text whatever the declared type; the text checks apply, `sqlite_date_text`)."""
    with engine.connect() as conn:
        unit, first = _table_epoch_unit(conn, table, q)
    if isinstance(first, str):
        return None
    if unit is None:
        raise DataError(
            f"{table}.date holds numbers ({kind} column) whose values (e.g. {first}) are no epoch time in s, ms, "
            f"us or ns, so a date bound cannot be compared with them; reload the table with `seqsweep data "
            f"load-csv` (it stores dates as DATETIME)"
        )
    return unit


def _sqlite_stores_numbers(engine: Engine, table: str, q: Callable[[str], str]) -> bool:
    """Whether SQLite holds `table`'s earliest `date` as a number, whatever the column's declared type.

    SQLite keeps each value's own storage class: a DATETIME column (as `load-csv` creates it) that
    another tool rewrote as epoch integers holds numbers, which a bound must meet as numbers in their
    unit, as an INTEGER column's. Numbers sort before text, so a column mixing both answers True here
    and is refused by `_bound_epoch_unit` / `sqlite_date_text` (text at its latest end: two shapes)."""
    if engine.dialect.name != "sqlite":
        return False
    column = q(DATE)
    with engine.connect() as conn:
        kind = conn.execute(sa.text(f"SELECT typeof(MIN({column})) FROM {q(table)}")).scalar()
    return kind in ("integer", "real")


def _check_bound_date_types(date_types: Mapping[str, Any]) -> None:
    """DataError (one line) if a table's `date` column holds numbers: a `start`/`end` bound (a DATETIME)
    compares with epoch numbers differently on each database (ignored, no rows, or an error)."""
    for table, kind in date_types.items():
        if isinstance(kind, NUMBER_TYPES):
            raise DataError(
                f"dataset.start/end: {table}.date is a number column ({kind}), epoch times that a date bound "
                f"cannot be compared with; reload the table with `seqsweep data load-csv` (it stores dates "
                f"as DATETIME) or leave start and end out"
            )


def _check_server_date_columns(
    date_types: Mapping[str, Any], dialect: str, *, bounded: bool, latest: bool
) -> None:
    """DataError (one line) for joined `date` columns of days (DATE) beside times (DATETIME), and for a
    text `date` column (VARCHAR, TEXT) on MariaDB/MySQL or PostgreSQL where
    SQL must compare or sort it as time: a start/end bound (MariaDB compares text, so
    `2024-01-20T00:00:00` falls outside an end of 2024-01-20 00:00:00; PostgreSQL refuses the
    comparison), the latest rows (`ORDER BY date DESC`: 15/01/2024 sorts by day), or a join of several
    tables on `date` (two spellings of one time never match). SQLite's text is checked row by row
    instead (`sqlite_date_text`); a single table read whole is parsed in Python and needs neither."""
    if not (bounded or latest or len(date_types) > 1):
        return
    mixed = _one_kind_beside_another(date_types, sa.Date)
    if mixed is not None:
        days, times = mixed
        raise DataError(
            f"{days}.date is a DATE column (days) and {times}.date holds times: the join on date "
            f"would match the midnight rows only and leave {days}'s values missing in every other "
            f"hour; store {days} with a time for every row of {times} (or as DATETIME)"
        )
    mixed = _one_kind_beside_another(date_types, NUMBER_TYPES)
    if mixed is not None:
        numbers, times = mixed
        raise DataError(
            f"{numbers}.date holds numbers (epoch times, {date_types[numbers]}) and {times}.date "
            f"holds times ({date_types[times]}): SQL's join on date compares a number with a time and "
            f"matches no row; store both as DATETIME (`seqsweep data load-csv` reads epochs and stores DATETIME)"
        )
    for table, kind in date_types.items():
        if isinstance(kind, sa.String):
            what = (
                "a dataset.start/end bound"
                if bounded
                else "dataset.max_rows_per_symbol (the latest rows)"
                if latest
                else "the join on date"
            )
            raise (DataError if len(date_types) > 1 else DateCutError)(
                f"{table}.date is a text column ({kind}) on {dialect}, which SQL compares and sorts as text, "
                f"not as time, so {what} could pick the wrong rows; reload the table with `seqsweep data "
                f"load-csv` (it stores dates as DATETIME) or alter the column to DATETIME"
            )


def _one_kind_beside_another(date_types: Mapping[str, Any], kind: Any) -> tuple[str, str] | None:
    """(a table whose `date` is of SQL type `kind`, a table whose `date` is not) when the tables mix them."""
    of_kind = [table for table, found in date_types.items() if isinstance(found, kind)]
    others = [table for table in date_types if table not in of_kind]
    return (of_kind[0], others[0]) if of_kind and others else None


def _required_columns(spec: DatasetSpec, table: str, wanted: tuple[str, ...] | None) -> tuple[str, ...]:
    """The columns `table` must carry: the contract's (`REQUIRED_COLUMNS`, every OHLCV column of the
    OHLCV table), or with a trained model's `wanted` columns only the keys the join matches on and the
    columns it reads (`wanted`, the targets), so a column excluded in training and dropped since is no error."""
    required = REQUIRED_COLUMNS.get(table, (DATE, *OHLCV_COLUMNS) if table == spec.ohlcv_table else ())
    if wanted is None:
        return required
    # still checked here, not left to the query: the rates and OHLCV columns are read by name, unlisted
    # (`_value_columns`), so one the table lacks would otherwise fail in SQL on every symbol's task
    needs = {DATE, SYMBOL, *wanted, *spec.target_columns}
    return tuple(name for name in required if name in needs)


def _note_unread_columns(join: str, table: str, columns: tuple[str, ...], where: str) -> None:
    """Log (INFO) the `columns` of `table` (`where` names it: `table 'ohlcv'`, `dataset.csv a.csv`) that
    its join does not read: the rates, yield and OHLCV tables are read by the contract's column names,
    so a further column (a `supply_apy` beside the rates, GRU-ow's `utc_timestamp`) is named in the
    build's log rather than left out without a word."""
    read = _value_columns(table, dict.fromkeys(columns))
    unread = [name for name in columns if name not in {DATE, SYMBOL, *read}]
    if unread:
        log.info(
            "%s: %s not read: the %s join reads %s (README, Data)",
            where,
            ("column " if len(unread) == 1 else "columns ") + ", ".join(repr(n) for n in unread),
            join,
            ", ".join(read),
        )


def _value_columns(table: str, columns: Mapping[str, Any]) -> tuple[str, ...]:
    """Rates and OHLCV columns are fixed by the contract; the price table gives every other column (`cp.*`).

    Whatever their SQL type: a price column stored as text is parsed as numbers by `clean_rows`
    (or refused, naming the column and a bad value), never dropped from the features without a word.
    """
    if table == LENDING_TABLE:
        return RATE_COLUMNS
    if table == YIELD_TABLE:
        return (YIELD,)
    if table == PRICE_TABLE:
        return tuple(n for n in columns if n not in (DATE, SYMBOL))
    return OHLCV_COLUMNS


def _wanted(
    spec: DatasetSpec, available: tuple[str, ...], wanted: tuple[str, ...] | None, where: str
) -> tuple[str, ...]:
    """`_kept_columns`, or exactly `wanted` in its order (DataError naming one `available` lacks)."""
    if wanted is None:
        return _kept_columns(spec, available)
    missing = [name for name in wanted if name not in available]
    if missing:
        raise DataError(f"{where} has no column {missing[0]!r} any more; the model reads {', '.join(wanted)}")
    return wanted


def _kept_columns(spec: DatasetSpec, available: tuple[str, ...]) -> tuple[str, ...]:
    """The join's value columns minus `dataset.exclude_columns`, after checking that every excluded and
    every transformed column is one of the join's (ConfigError naming the valid ones)."""
    kept = tuple(c for c in available if c not in spec.exclude_columns)
    spec.check_columns(kept, available)
    return kept


def _check_targets(spec: DatasetSpec, columns: tuple[str, ...]) -> None:
    for target in spec.target_columns:
        if target not in columns:
            raise DataError(
                f"dataset.targets: {target!r} is not a column of the {spec.join} join (columns: {', '.join(columns)})"
            )


def sqlite_date_text(
    engine: Engine, tables: list[str], q: Any, bounded: bool, latest: bool = False
) -> SQLiteDateText | None:
    """How SQLite writes the `date` of `tables`: one spelling, or a DataError (one line).

    SQLite keeps a DATETIME as text and compares text: `2024-01-09T00:00:00` never equals
    `2024-01-09 00:00:00.000000`, so a join (or a start/end bound) over dates written two ways drops
    rows without a word. A shape is (type, length, the character between date and time); the check
    reads each table once (GROUP BY over its rows). A shape is (type, length, the character between
    date and time, whether the text (its zone left out) is a fixed-width ISO layout, its time-zone designator,
    whether it starts with an ISO date): the same instant
    written with two offsets (`+00:00` beside Europe/London's `+01:00` in summer) is two shapes. With
    `bounded` (a start or end is set) the one spelling must be a fixed-width ISO one without a zone
    (`SQLiteDateText.of`) that a bound can be written in; with `latest` (`ORDER BY date DESC LIMIT`) text
    must be such a spelling too (15/01/2024 sorts by day), numbers sort as they are. Tables joined on
    text dates must write them ISO: the same shape (05/01/2024) may put the day first in one table and
    the month first in the other.
    """
    shapes: dict[tuple[str, int, str, bool, str, bool], tuple[str, str]] = {}
    with engine.connect() as conn:
        for table in tables:
            column = q(DATE)
            # numbers are one shape whatever their digits (999302400 beside 1000000800): SQLite compares
            # integers and reals as numbers; their unit is checked apart (`_table_epoch_unit`)
            number = f"typeof({column}) IN ('integer', 'real')"
            sql = (
                f"SELECT CASE WHEN {number} THEN 'number' ELSE typeof({column}) END, "
                f"CASE WHEN {number} THEN 0 ELSE length({column}) END, "
                f"CASE WHEN {number} THEN '' ELSE substr({column}, 11, 1) END, "
                f"{_sqlite_iso_layout(column)}, {_sqlite_zone(column)}, {column} GLOB '{ISO_DATE_GLOB}', "
                f"min({column}) FROM {q(table)} WHERE {column} IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6"
            )
            for kind, length, separator, iso, zone, iso_day, example in conn.execute(sa.text(sql)):
                shape = (str(kind), int(length or 0), str(separator), bool(iso), str(zone), bool(iso_day))
                shapes.setdefault(shape, (table, str(example)))
    if len(shapes) > 1:
        (table_a, one), (table_b, other) = list(shapes.values())[:2]
        raise DataError(
            f"SQLite holds the dates written two ways ({table_a}: {one!r}, {table_b}: {other!r}) and compares "
            f"them as text, so equal times would not join; reload the tables with `seqsweep data load-csv` "
            f"(or rewrite `date` in one format)"
        )
    if not shapes:
        return None
    (kind, length, separator, iso, zone, iso_day), (table, example) = next(iter(shapes.items()))
    spelling = SQLiteDateText.of(length, separator, iso, zone) if kind == "text" else None
    # one ISO spelling with one offset throughout sorts as time does: the latest rows need no more
    sorts = kind != "text" or SQLiteDateText.of(length - len(zone), separator, iso, "") is not None
    if spelling is None and (bounded or (latest and not sorts)):
        what = "dataset.start/end" if bounded else "dataset.max_rows_per_symbol (the latest rows)"
        raise DateCutError(
            f"{what}: SQLite holds {table}.date as {kind} values like {example!r}, which SQL compares and "
            f"sorts as text, not as time; reload the tables with `seqsweep data load-csv` (or rewrite "
            f"`date` as ISO text in UTC, e.g. 2024-01-09 00:00:00)"
        )
    if kind == "text" and not iso_day and len(tables) > 1:
        # one shape, but 05/01/2024 may be 5 January in one table and 1 May in the other: SQL joins the text
        raise DataError(
            f"SQLite holds the dates as text like {example!r} ({table}), not ISO (2024-01-05 ...), and the join "
            f"compares the text: a table writing the day first and one writing the month first would join "
            f"other days without a word; reload the tables with `seqsweep data load-csv` (or rewrite `date` "
            f"as ISO text in UTC)"
        )
    return spelling


_ISO_DAY: Final = "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]"
ISO_DATE_GLOB: Final = f"{_ISO_DAY}*"
"""SQLite GLOB of text that starts with an ISO date (YYYY-MM-DD): the same text in two tables is the
same day (05/01/2024 may be 5 January in one and 1 May in the other), so a join of it is exact."""
_ISO_MINUTE: Final = f"{_ISO_DAY}[ T][0-2][0-9]:[0-5][0-9]"
_ISO_SECOND: Final = f"{_ISO_MINUTE}:[0-6][0-9]"
ISO_LAYOUT_GLOBS: Final = (
    _ISO_DAY,
    _ISO_MINUTE,
    _ISO_SECOND,
    f"{_ISO_SECOND}.{'[0-9]' * 3}",
    f"{_ISO_SECOND}.{'[0-9]' * 6}",
)
"""SQLite GLOBs of the fixed-width ISO layouts (`SQLiteDateText.of`), which sort as time does: a text
only starting with an ISO date (`2024-01-01 01:00 PM`, `2024-01-02 05:00:00 UTC`) had the length of one
and was taken for it, so a bound or the latest rows compared 12:00 AM after 05:00 without a word."""


def _sqlite_iso_layout(column: str) -> str:
    """SQLite expression: whether `column`'s text, its time-zone designator (`_sqlite_zone`) left out, is
    exactly one of `ISO_LAYOUT_GLOBS`."""
    bare = f"substr({column}, 1, length({column}) - length({_sqlite_zone(column)}))"
    return "(" + " OR ".join(f"{bare} GLOB '{glob}'" for glob in ISO_LAYOUT_GLOBS) + ")"


def _sqlite_zone(column: str) -> str:
    """SQLite expression: the time-zone designator ending `column`'s text (`+01:00`, `-0500`, `+01` after a
    time, as PostgreSQL writes it, `Z`), else ''.
    The same instant written with two offsets is two texts, which a join on `date` never matches."""
    return (
        f"CASE WHEN {column} GLOB '*[+-][0-9][0-9]:[0-9][0-9]' THEN substr({column}, -6) "
        f"WHEN {column} GLOB '*[0-9][+-][0-9][0-9][0-9][0-9]' THEN substr({column}, -5) "
        f"WHEN {column} GLOB '*[0-9]:[0-9][0-9]*[0-9][+-][0-9][0-9]' THEN substr({column}, -3) "
        f"WHEN {column} GLOB '*[0-9]Z' THEN 'Z' ELSE '' END"
    )


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


def _check_date_precision(date_types: Mapping[str, Any], dialect: str) -> None:
    """DataError (one line) for a `date` column that is a 4-byte float: epoch seconds near 2024 are
    stored only to 128 s there (the hours 01:00 and 01:01 are one value), so the times were changed when
    they were written, and reading them back cannot restore them."""
    for table, kind in date_types.items():
        if single_precision(kind, dialect):
            raise DataError(
                f"{table}.date is a 4-byte float column ({kind}), which keeps about 7 digits: epoch times "
                f"near 2024 are stored only to the nearest 128 s; store the dates as DATETIME (`seqsweep "
                f"data load-csv`), BIGINT or DOUBLE and load them again"
            )


def _value_casts(
    selected: Mapping[str, str], types: Mapping[str, Mapping[str, Any]], dialect: str
) -> dict[str, str]:
    """`read_as` of each selected column that needs one: value column → SQL template."""
    casts = {name: read_as(types[alias][name], dialect) for name, alias in selected.items()}
    return {name: cast for name, cast in casts.items() if cast is not None}


def _symbol_index_usable(dialect: str, spellings: Mapping[str, Mapping[str, tuple[str, ...]]]) -> bool:
    """Whether the query also compares the symbol columns as stored (`_select_sql`'s `indexed`).

    On MariaDB/MySQL the exact comparison (`exact_text`: the column cast to bytes) cannot use an index,
    and MariaDB has no hash join: the notebook join on the real tables (95,659 rates × 382,860 prices)
    ran as a block nested loop, 90 s against 0.3 s with the (symbol, date) index. A comparison in the
    column's own collation folds case, accents and trailing blanks, so it keeps every row the exact one
    keeps (and more, which the exact one then drops); it is added only for ASCII spellings, which every
    connection character set sends as they are."""
    return dialect in ("mysql", "mariadb") and all(
        spelling.isascii()
        for per_table in spellings.values()
        for spelled in per_table.values()
        for spelling in spelled
    )


def _select_sql(
    join: JoinTables,
    selected: Mapping[str, str],
    q: Any,
    bounds: SourcePlan,
    exact: Callable[[str], str] = lambda column: column,
    read_as: Mapping[str, str] | None = None,
    indexed: bool = False,
) -> str:
    """The query of a join's rows for one symbol (bound `:b_symbols`/`:p_symbols`, the stored spellings),
    between `:start` and `:end`, the latest `:limit` when bounded. `indexed`: the symbol columns are also
    compared as stored (`:b_stored`/`:p_stored`), so that an index on (symbol, date) narrows the rows
    before the exact comparison (`_symbol_index_usable`)."""
    casts = read_as or {}
    cols = ", ".join(
        [f"b.{q(DATE)} AS {q(DATE)}"]
        + [f"{casts.get(c, '{}').format(f'{a}.{q(c)}')} AS {q(c)}" for c, a in selected.items()]
    )
    source = f"{q(join.base)} b"
    if join.partner:
        # both sides hold only spellings of the one canonical symbol, so (symbol, date) matching is date matching
        source += f" JOIN {q(join.partner)} p ON {exact(f'p.{q(SYMBOL)}')} IN :p_symbols AND b.{q(DATE)} = p.{q(DATE)}"
        if indexed:
            source += f" AND p.{q(SYMBOL)} IN :p_stored"
    if join.with_yield:
        source += f" LEFT JOIN {q(YIELD_TABLE)} y ON b.{q(DATE)} = y.{q(DATE)}"
    where = [f"{exact(f'b.{q(SYMBOL)}')} IN :b_symbols"] if join.by_symbol else []
    if indexed and join.by_symbol:
        where.append(f"b.{q(SYMBOL)} IN :b_stored")
    if bounds.start is not None:
        where.append(f"b.{q(DATE)} >= :start")
    if bounds.end is not None:
        where.append(f"b.{q(DATE)} <= :end")
    sql = f"SELECT {cols} FROM {source}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    # the latest N rows when bounded (reversed again after loading), else oldest first
    if bounds.limit is not None:
        # a row without a date first on every database (PostgreSQL sorts NULL first in DESC, SQLite and
        # MariaDB last): `clean_rows` refuses it as it does in a whole-table read
        sql += f" ORDER BY CASE WHEN b.{q(DATE)} IS NULL THEN 0 ELSE 1 END, b.{q(DATE)} DESC LIMIT :limit"
    else:
        sql += f" ORDER BY b.{q(DATE)} ASC"
    return sql


def _resolve_symbols(
    engine: Engine,
    url: str,
    join: JoinTables,
    symbols: tuple[str, ...],
    q: Any,
    symbol_types: Mapping[str, Any],
) -> dict[str, dict[str, tuple[str, ...]]]:
    """Canonical symbol → SQL parameter → the spellings stored in that table (one GROUP BY per table).

    Matching is `canonical_symbol` in Python, so it does not depend on the database's collation
    (MariaDB's folds case, accents and trailing blanks, SQLite's and PostgreSQL's do not): the stored
    spellings are read byte for byte (`exact_text`).
    A requested symbol a table lacks is named here, before any task starts; a table the join reads
    without a symbol (the yield, an OHLCV table) must hold rows. `symbol_types`: each table's declared
    SQL type of its symbol column (SQLite's storage classes are checked against it).
    """
    spellings: dict[str, dict[str, tuple[str, ...]]] = {symbol: {} for symbol in symbols}
    exact = exact_text(engine.dialect.name)
    tables = {"b_symbols": join.base, "p_symbols": join.partner} if join.by_symbol else {}
    sqlite = engine.dialect.name == "sqlite"
    # SQLite keeps each value's own storage class: how it is stored decides whether a text parameter equals it
    stored_as = f", typeof({q(SYMBOL)})" if sqlite else ""
    with engine.connect() as conn:
        for param, table in tables.items():
            if table is None:
                continue
            rows = conn.execute(
                sa.text(f"SELECT DISTINCT {exact(q(SYMBOL))}{stored_as} FROM {q(table)}")
            ).all()
            if sqlite:
                _check_sqlite_symbol_storage(
                    table, [(row[0], row[1]) for row in rows], symbol_types.get(table)
                )
            stored = [_symbol_text(table, row[0]) for row in rows if row[0] is not None]
            found: dict[str, list[str]] = {}
            for spelled in stored:
                found.setdefault(canonical_symbol(spelled), []).append(spelled)
            missing = [s for s in symbols if s not in found]
            if missing:
                raise DataError(_unknown_symbols(table, missing, stored, url))
            _refuse_look_alike_spellings(table, symbols, found)
            for symbol in symbols:
                spellings[symbol][param] = tuple(sorted(found[symbol]))
                if len(found[symbol]) > 1:  # two stored spellings read as one symbol: say so, never silently
                    log.warning(
                        "table %r: symbol %s is stored as %d spellings (%s), read together as one symbol",
                        table,
                        symbol,
                        len(found[symbol]),
                        ", ".join(repr(s) for s in sorted(found[symbol])),
                    )
        for table in [join.base] if not join.by_symbol else []:
            if conn.execute(sa.text(f"SELECT 1 FROM {q(table)} LIMIT 1")).first() is None:
                raise DataError(f"table {table!r} in {masked_url(url)} has no rows")
            if symbol_types.get(table) is not None:  # a one-instrument table with a symbol column
                distinct = conn.execute(
                    sa.text(f"SELECT DISTINCT {exact(q(SYMBOL))} FROM {q(table)} LIMIT {_SYMBOLS_SHOWN * 20}")
                ).all()
                held = [_symbol_text(table, row[0]) for row in distinct if row[0] is not None]
                refuse_several_instruments(f"table {table!r}", held)
                refuse_another_instrument(f"table {table!r}", held, symbols[0])
        if (
            join.with_yield
            and conn.execute(sa.text(f"SELECT 1 FROM {q(YIELD_TABLE)} LIMIT 1")).first() is None
        ):
            raise DataError(f"table {YIELD_TABLE!r} in {masked_url(url)} has no rows")
    return spellings


def _refuse_look_alike_spellings(
    table: str, symbols: tuple[str, ...], found: Mapping[str, Sequence[str]]
) -> None:
    """DataError (one line) when `table` also holds a requested symbol under a spelling that prints like
    it but is another symbol (`look_alike_form`: `AAAUSDT\u200b`, full-width `ＡAAUSDT`), or that differs
    from it only in separators (`pair_form`: `ETH/USDT`, `ETH-USDT` beside `ETHUSDT`), not itself
    requested. Those rows were left out of the symbol's without a word (half its hours became gaps),
    where `load-csv` refuses such a symbol. `found`: canonical symbol → its stored spellings."""
    wanted = set(symbols)
    forms: dict[str, list[str]] = {}
    for name in found:
        if name not in wanted:
            forms.setdefault(pair_form(name), []).append(name)
    for symbol in symbols:
        twins = forms.get(pair_form(symbol))
        if twins:
            twin = sorted(found[twins[0]])[0]
            raise DataError(
                f"table {table!r} holds rows of {symbol} under {twin!a} too, which {_differs(symbol, twin)}, "
                f"so they would be left out of {symbol}'s: store them as {symbol!a} (or delete them, or ask "
                f"for both symbols if they are two instruments)"
            )


def _differs(asked: str, stored: str) -> str:
    """How two spellings of one `pair_form` differ, for a message."""
    if look_alike_form(asked) == look_alike_form(stored):
        return "prints alike but differs in Unicode form or an invisible character"
    return "differs only in separators (/, -, _, spaces, dots) or Unicode form"


def _check_symbol_type(table: str, kind: Any) -> None:
    """DataError (one line) for a binary (BLOB, BYTEA, BINARY, VARBINARY) or fractional-number (REAL,
    FLOAT, DOUBLE, DECIMAL, NUMERIC, MONEY) symbol column.

    Symbols are matched as text, and neither kind reads as the same text on every database: bytes
    (SQLite never equals a BLOB to text, PostgreSQL reads BYTEA as its hex, MariaDB compares the bytes),
    nor numbers (a DOUBLE 7 is '7.0' to SQLite's driver and '7' to MariaDB and PostgreSQL; a DECIMAL(10,2)
    7 is '7' to SQLite and '7.00' to the others; 1e20 is '1e+20' or '1e20'), so the same rows built three
    different datasets or refusals. Whole-number types (INTEGER, BIGINT) read alike and are kept.
    """
    if isinstance(kind, sa.types._Binary):
        raise DataError(
            f"table {table!r}: column {SYMBOL!r} is binary ({kind}); symbols are matched as text, which "
            f"bytes are not alike on every database: store them as text (VARCHAR)"
        )
    if isinstance(kind, sa.types.Numeric | sa.types.Float | postgresql_types.MONEY):
        raise DataError(
            f"table {table!r}: column {SYMBOL!r} is a fractional number ({kind}); symbols are matched as "
            f"text, which such numbers are not alike on every database: store them as text (VARCHAR)"
        )


def _check_sqlite_symbol_storage(table: str, stored: Sequence[tuple[Any, str]], declared: Any) -> None:
    """DataError (one line) for SQLite symbols a text parameter never equals: a value stored as a BLOB
    (`CAST(... AS BLOB)`, bytes written by a driver), or a number in a column declared without a type
    (no affinity turns the parameter '7' into the number 7). Those rows dropped out of the query
    without a word while the same bytes as text were read."""
    for value, storage in stored:
        untyped_number = storage in ("integer", "real") and isinstance(declared, sa.types.NullType)
        if storage == "blob" or untyped_number:
            raise DataError(
                f"table {table!r}: column {SYMBOL!r} holds symbols stored as {storage} (e.g. {value!r}) that "
                f"SQLite never equals to text; store every symbol as text (UPDATE {table} SET {SYMBOL} = "
                f"CAST({SYMBOL} AS TEXT)) or load the table with `seqsweep data load-csv`"
            )


def _symbol_text(table: str, value: Any) -> str:
    """A stored symbol as text: bytes (MariaDB's byte-for-byte read, `exact_text`) as UTF-8."""
    if not isinstance(value, bytes | bytearray):
        return str(value)
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise DataError(
            f"table {table!r}: column {SYMBOL!r} holds {bytes(value)!r}, which is not UTF-8 text; fix the symbol"
        ) from None


def _check_undated_rows(
    engine: Engine, join_name: str, join: JoinTables, symbols: tuple[str, ...], q: Callable[[str], str]
) -> None:
    """DataError (one line) when a table the join reads holds rows without a `date` (NULL) for the
    dataset's symbols (every row, for a table without symbols: the yield, an OHLCV table).

    SQL never matches NULL: such a row of the partner or the yield table dropped out of the join
    without a word (the notebook join lost its hours, the yield its value), and one of the base table
    dropped out of a `start`/`end`-bounded read. They are refused whatever the bounds, as a whole-table
    read of the base table refuses them (`ingest.DateReader`). On MariaDB a date with a zero part (the
    zero date `0000-00-00`, or a zero day or month, `2024-01-00`, which its default `sql_mode` stores)
    counts as none: no row of another table matches it either (a notebook join lost such a price row
    without a word, where the prices join's read refused it as no date).
    """
    exact = exact_text(engine.dialect.name)
    date_is_null = f"{q(DATE)} IS NULL"
    if engine.dialect.name in ("mysql", "mariadb"):
        text = f"CAST({q(DATE)} AS CHAR)"
        date_is_null = f"({date_is_null} OR {text} LIKE '____-00-%' OR {text} LIKE '____-__-00%')"
    by_symbol = [join.base, join.partner] if join.by_symbol else []
    plain = ([] if join.by_symbol else [join.base]) + ([YIELD_TABLE] if join.with_yield else [])
    wanted = set(symbols)
    with engine.connect() as conn:
        for table in by_symbol:
            if table is None:
                continue
            symbol = exact(q(SYMBOL))
            counts: dict[str, int] = {}
            for spelled, count in conn.execute(
                sa.text(f"SELECT {symbol}, COUNT(*) FROM {q(table)} WHERE {date_is_null} GROUP BY {symbol}")
            ):
                if spelled is None:
                    continue
                name = canonical_symbol(_symbol_text(table, spelled))
                if name in wanted:
                    counts[name] = counts.get(name, 0) + int(count)
            if counts:
                first = next(s for s in symbols if s in counts)
                raise DataError(_undated(table, counts[first], f" of {first}", join_name))
        for table in plain:
            count = int(
                conn.execute(sa.text(f"SELECT COUNT(*) FROM {q(table)} WHERE {date_is_null}")).scalar_one()
            )
            if count:
                raise DataError(_undated(table, count, "", join_name))


SPACING_SAMPLE: Final = 500
"""Distinct dates of a table read (its earliest) to tell its spacing."""


def _median_spacing(
    conn: sa.Connection, table: str, q: Callable[[str], str], *, latest: bool = False
) -> pd.Timedelta | None:
    """The median step between `table`'s earliest (`latest`: latest) `SPACING_SAMPLE` distinct dates
    (None with < 3)."""
    order = "DESC" if latest else "ASC"
    sql = (
        f"SELECT DISTINCT {q(DATE)} FROM {q(table)} WHERE {q(DATE)} IS NOT NULL "
        f"ORDER BY {q(DATE)} {order} LIMIT {SPACING_SAMPLE}"
    )
    values = pd.Series([row[0] for row in conn.execute(sa.text(sql))], dtype=object)
    if len(values) < 3:
        return None
    steps = parse_dates(values, f"{table}.date").sort_values().diff().dropna()
    steps = steps[steps > pd.Timedelta(0)]
    return pd.Timedelta(steps.median()) if len(steps) else None


def _check_yield_spacing(engine: Engine, base: str, q: Callable[[str], str]) -> None:
    """DataError (one line) when the yield table is coarser than the table it is LEFT JOINed to (a daily
    FRED series beside hourly prices): the join on date matched its rows at their own times only and
    left the yield missing in every other row, without a word (23 hours in 24 masked). The notebook's
    table holds the daily rate carried to every hour. Both ends of each table are read: a yield hourly
    at first and daily from some day on (a daily series appended later) masked the later hours alike."""
    with engine.connect() as conn:
        ends = [
            (
                _median_spacing(conn, base, q, latest=latest),
                _median_spacing(conn, YIELD_TABLE, q, latest=latest),
            )
            for latest in (False, True)
        ]
    coarser = [(b, y) for b, y in ends if b is not None and y is not None and y > b * 1.5]
    if not coarser:
        return
    base_step, yield_step = coarser[0]
    raise DataError(
        f"table {YIELD_TABLE!r} has a row every {yield_step} (median) and {base!r} every {base_step}: the "
        f"join on date would find the yield at its own times only and leave it missing in between; carry "
        f"each yield forward to every {base_step} step (as the notebook's table does) or leave it out "
        f"(dataset.exclude_columns: [yield])"
    )


def _check_join_times(
    engine: Engine,
    spec: DatasetSpec,
    join: JoinTables,
    spellings: Mapping[str, Mapping[str, tuple[str, ...]]],
    q: Callable[[str], str],
    *,
    yield_read: bool,
) -> None:
    """DataError (one line) when dates of two joined tables that belong to one grid time differ: the
    join matches equal dates only, so a price stamped `00:00:00.003` (or `00:59:59`, or `00:00:02`)
    beside a yield or rate at `00:00:00` lost its yield without a word (the yield masked there), and the
    notebook's inner join dropped the hour itself.

    A date of the base table counts when no row of the other table (the partner, for each dataset
    symbol; the yield, over the dataset's symbols' dates) has that date but one, itself matched by no
    base date, lies less than a grid step (`dataset.frequency`, else the base's median spacing) from
    it. Missing rows (a gap in either table) are no such pair and are left alone. Every date of the
    dataset's symbols is compared, whatever `start`/`end` (`SELECT DISTINCT date`: per symbol for the
    partner, the symbols together for the yield; 0.2 s for the 17 symbols of the real prices join).
    """
    step = grid_step(spec.frequency)
    dialect = engine.dialect.name
    exact = exact_text(dialect)
    as_sent: Callable[[str], Any] = _utf8_bytes if dialect in ("mysql", "mariadb") else str
    symbol_in = f"{exact(q(SYMBOL))} IN :symbols"
    not_null = f"{q(DATE)} IS NOT NULL"

    def dates(conn: sa.Connection, table: str, spelled: Sequence[str] | None) -> np.ndarray:
        sql = f"SELECT DISTINCT {q(DATE)} FROM {q(table)} WHERE {not_null}"
        statement = sa.text(sql if spelled is None else f"{sql} AND {symbol_in}")
        params: dict[str, Any] = {}
        if spelled is not None:
            statement = statement.bindparams(sa.bindparam("symbols", expanding=True))
            params["symbols"] = [as_sent(s) for s in spelled]
        values = pd.Series([row[0] for row in conn.execute(statement, params)], dtype=object)
        if values.empty:
            return np.empty(0, dtype=np.int64)
        parsed = parse_dates(values, f"{table}.date")
        return np.unique(parsed.to_numpy("datetime64[ns]").astype(np.int64))

    with engine.connect() as conn:
        if step is None:
            step = _median_spacing(conn, join.base, q)
            if step is None:
                return
        partner_table = join.partner
        for symbol in spellings if partner_table is not None else ():
            assert partner_table is not None
            base = dates(conn, join.base, spellings[symbol]["b_symbols"])
            partner = dates(conn, partner_table, spellings[symbol]["p_symbols"])
            near = _near_misses(base, partner, step)
            if near is not None:
                raise DataError(
                    _near_miss_message(
                        join.base, partner_table, near, step, spec, f" ({symbol})", "drop those rows"
                    )
                )
        if join.with_yield and yield_read:
            # one read of the dataset's symbols' dates together: a yield row meets any symbol's equal date
            spelled = (
                [s for symbol in spellings for s in spellings[symbol]["b_symbols"]]
                if join.by_symbol
                else None
            )
            pooled = dates(conn, join.base, spelled)
            near = _near_misses(pooled, dates(conn, YIELD_TABLE, None), step)
            if near is not None:
                raise DataError(
                    _near_miss_message(
                        join.base, YIELD_TABLE, near, step, spec, "", "leave the yield missing in those rows"
                    )
                )


def _near_misses(base: np.ndarray, other: np.ndarray, step: pd.Timedelta) -> tuple[int, int, int] | None:
    """(how many, first base date, its nearest other date) of the sorted unique ns `base` dates that
    `other` lacks while holding a date, itself no base date, less than `step` away; None when none."""
    lone_base = np.setdiff1d(base, other, assume_unique=True)
    lone_other = np.setdiff1d(other, base, assume_unique=True)
    if not len(lone_base) or not len(lone_other):
        return None
    at = np.searchsorted(lone_other, lone_base)
    before = lone_other[np.clip(at - 1, 0, len(lone_other) - 1)]
    after = lone_other[np.clip(at, 0, len(lone_other) - 1)]
    nearest = np.where(np.abs(lone_base - before) <= np.abs(after - lone_base), before, after)
    close = np.abs(nearest - lone_base) < step.value
    if not close.any():
        return None
    first = int(np.argmax(close))
    return int(close.sum()), int(lone_base[first]), int(nearest[first])


def _near_miss_message(
    base: str,
    other: str,
    near: tuple[int, int, int],
    step: pd.Timedelta,
    spec: DatasetSpec,
    whose: str,
    effect: str,
) -> str:
    count, at, beside = near
    rows, have = ("1 date", "has") if count == 1 else (f"{count} dates", "have")
    every = spec.frequency or str(step)
    return (
        f"table {other!r}: {rows} of {base}{whose} {have} no equal date there but one less than {every} away "
        f"({base} {pd.Timestamp(at)} beside {other} {pd.Timestamp(beside)}): the join on date matches equal "
        f"times only and would {effect} without a word; store both tables' dates on one {every} grid (round "
        f"them to it)"
    )


def _undated(table: str, count: int, whose: str, join_name: str) -> str:
    rows = "1 row" if count == 1 else f"{count} rows"
    return (
        f"table {table!r}: {rows}{whose} without a date (NULL, or MariaDB's zero date 0000-00-00 or a zero "
        f"day or month, 2024-01-00), which "
        f"the {join_name} join cannot place "
        "in time; fill the dates or delete those rows"
    )


def _unknown_symbols(table: str, missing: list[str], stored: list[str], url: str) -> str:
    """One line naming the missing symbols and what the table holds, quoted so a blank is visible."""
    held = sorted(set(stored))
    shown = ", ".join(repr(s) for s in held[:20]) + (" ..." if len(held) > 20 else "")
    noun = "symbol" if len(missing) == 1 else "symbols"
    alike = next(((m, h) for m in missing for h in held if pair_form(m) == pair_form(h)), None)
    how = (
        "Unicode form (full-width or compatibility characters) or invisible characters"
        if alike is None or look_alike_form(alike[0]) == look_alike_form(alike[1])
        else "separators (/, -, _, spaces, dots) or Unicode form"
    )
    hint = (
        ""
        if alike is None
        else f"; {alike[0]!a} and the stored {alike[1]!a} differ only in {how}: write the symbol as stored"
    )
    return (
        f"dataset.symbols: unknown {noun} {', '.join(repr(s) for s in missing)}: not in table {table!r} of "
        f"{masked_url(url)} (it holds: {shown or 'no rows'}){hint}"
    )


_SYMBOLS_SHOWN: Final = 5
"""The most symbols `refuse_several_instruments` names."""


def refuse_several_instruments(where: str, symbols: Sequence[Any]) -> None:
    """DataError (one line) when `symbols`, the `crypto_symbol` values of a one-instrument source (the
    ohlcv join's table or `dataset.csv`), name more than one symbol once stripped and upper-cased.

    The ohlcv join reads every row as one instrument's: a candles file of two symbols was read as one
    series, their hours interleaved or one symbol's after the other's (a close of 10 jumping to 500), or
    refused as rows at one time with different values, naming neither symbol.
    """
    distinct = sorted({canonical_symbol(str(s)) for s in symbols if s is not None and str(s).strip()})
    if len(distinct) > 1:
        shown = ", ".join(distinct[:_SYMBOLS_SHOWN]) + (", ..." if len(distinct) > _SYMBOLS_SHOWN else "")
        raise DataError(
            f"{where} holds the rows of several symbols in column {SYMBOL!r} ({shown}), and the ohlcv join "
            f"reads one instrument: their rows would be read as one series; keep one symbol's rows (a file "
            f"or table per instrument)"
        )


def refuse_another_instrument(where: str, symbols: Sequence[Any], ohlcv_symbol: str) -> None:
    """DataError (one line) when `symbols`, the `crypto_symbol` values of a one-instrument source (the
    ohlcv join's table or `dataset.csv`), name one symbol that is not `ohlcv_symbol`, both stripped and
    upper-cased (`canonical_symbol`). Call after `refuse_several_instruments`; blank or missing values
    name none, and a source without the column is not checked.

    The join names its series `dataset.ohlcv_symbol` (ETHUSDT by default), whose name picks the symbol
    embedding: BTCUSDT's rows read under the default were ETHUSDT's series without a word.
    """
    distinct = sorted({canonical_symbol(str(s)) for s in symbols if s is not None and str(s).strip()})
    wanted = canonical_symbol(ohlcv_symbol)
    if len(distinct) == 1 and distinct[0] != wanted:
        raise DataError(
            f"{where} holds the rows of {distinct[0]} in column {SYMBOL!r}, but dataset.ohlcv_symbol is "
            f"{wanted}, whose name and symbol embedding the series would carry: set "
            f"`dataset.ohlcv_symbol: {distinct[0]}` (or read {wanted}'s rows)"
        )


def _check_csv(path: str, join: str, ohlcv_symbol: str) -> tuple[str, ...]:
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"dataset.csv: file not found: {path}")
    who = f"dataset.csv: {path}"
    header = read_header(file, who)
    require_columns(header, (DATE, *OHLCV_COLUMNS), who)
    check_row_widths(file, len(header), who)  # `usecols` would drop a row's extra values without a word
    if SYMBOL in header:
        try:
            symbols = pd.read_csv(file, usecols=[SYMBOL], dtype=str, keep_default_na=False)[SYMBOL].unique()
        except READ_ERRORS as exc:
            raise unreadable(who, exc) from None
        refuse_several_instruments(who, list(symbols))
        refuse_another_instrument(who, list(symbols), ohlcv_symbol)
    _note_unread_columns(join, path, tuple(header), f"dataset.csv {path}")
    return OHLCV_COLUMNS


# --- the task side -------------------------------------------------------------------------------


def load_symbol_rows(plan: SourcePlan, symbol: str) -> pd.DataFrame:
    """One symbol's rows: `date` (naive UTC datetime64[ns], ascending, unique) + `plan.value_columns` as float64;
    with `plan.limit`, its latest `limit` times.

    Read through `ingest` like every other path; raises DataError naming a column and a bad value
    (a date that is no date, a number that is no number) or the database's own error.
    """
    frame = _stored_rows(plan, symbol)
    try:
        rows = _clean_symbol_rows(plan, frame, symbol)
    except AmbiguousCommaError:
        if plan.limit is None and plan.start is None and plan.end is None:
            raise
        # the rows read hold only commas like 6,406; the symbol's every row decides them, as in the whole
        # read that trained on these rows (`predict`, `--at`, `validate`'s dry build, a start/end bound)
        rows = _clean_symbol_rows(plan, frame, symbol, thousands_columns(plan, symbol))
    return rows if plan.limit is None else rows.tail(plan.limit).reset_index(drop=True)


def thousands_columns(plan: SourcePlan, symbol: str) -> frozenset[str]:
    """The value columns whose comma the symbol's every row (no bound, no limit) shows to be a thousands
    separator (a 6,179.90 or 1,234,567 among them), so that a bounded or latest-rows read whose own
    values are all like 6,406 reads them as the whole read does; a column the whole read refuses for
    another reason is left out here (the bounded read keeps its own verdict)."""
    whole = _stored_rows(replace(plan, sql=plan.whole_sql, start=None, end=None, limit=None), symbol)
    shown = set()
    for column in plan.value_columns:
        reader = NumberReader(column)
        try:
            reader(whole[column])
        except DataError:
            continue
        if reader.thousands:
            shown.add(column)
    return frozenset(shown)


def _clean_symbol_rows(
    plan: SourcePlan, frame: pd.DataFrame, symbol: str, thousands: frozenset[str] = frozenset()
) -> pd.DataFrame:
    """`clean_rows` of one symbol's rows as stored; a refusal of a `dataset.csv` value names the file, as
    its own date and header refusals and `load-csv`'s do (it named the column only: `column 'volume':
    'N.A.' is not a number`, with nothing to say which file to fix). The refusal keeps its class."""
    try:
        return clean_rows(frame, plan.value_columns, plan.labels, symbol=symbol, thousands=thousands)
    except DataError as exc:
        if plan.csv is None:
            raise
        raise type(exc)(f"dataset.csv: {plan.csv}: {exc}") from None


def _stored_rows(plan: SourcePlan, symbol: str) -> pd.DataFrame:
    """`symbol`'s rows as `plan`'s CSV or query gives them (not yet parsed)."""
    if plan.csv is not None:
        return _read_csv_rows(plan)
    assert plan.url is not None and plan.sql is not None  # plan_source sets both for SQL sources
    engine = create_engine(plan.url)
    try:
        with db_errors(plan.url, f"reading the rows of {symbol}"), engine.connect() as conn:
            return _query_rows(conn, plan, symbol)
    finally:
        engine.dispose()


def _query_rows(conn: sa.Connection, plan: SourcePlan, symbol: str) -> pd.DataFrame:
    """The rows `plan`'s query gives for `symbol`, as stored (not yet parsed); with `plan.limit`, every
    row of its latest `limit` + 1 times (`SourcePlan.params`).

    SQL's LIMIT counts rows, not times: copies of one time (an exact repeat, or a conflicting one that
    `clean_rows` must refuse) take places, so the rows may end before `limit` + 1 times have come, and a
    conflicting copy of a kept time would be left out, the other copy kept without a word. The query is
    then asked again for as many more rows as times are missing, until they have come or the rows end.
    """
    params = plan.params(symbol)
    while True:
        result = conn.execute(plan.statement(), params)
        frame = pd.DataFrame(_fetch_tuples(result), columns=list(result.keys()))
        if plan.limit is None or len(frame) < params["limit"]:
            return frame
        missing = plan.limit + 1 - frame[DATE].nunique()
        if missing <= 0:
            return frame
        params = {**params, "limit": params["limit"] + missing}


def _fetch_tuples(result: sa.CursorResult[Any]) -> list[tuple[Any, ...]]:
    """Every row of `result` as a plain tuple: the DBAPI's own rows when SQLAlchemy converts no column.

    Handing pandas SQLAlchemy `Row` objects costs about 4 µs a row in `hasattr` probes (an exception
    each) before pandas turns them into tuples itself; the 360,651 rows of the 16-symbol `prices`
    join spent 3 of their 5 s there. A text query has no result types, so the DBAPI rows are the
    values `Row` would give; if SQLAlchemy ever processes a column, the rows go through `Row`. The DBAPI
    rows are fetched through the result's own strategy, so a driver's error in the fetch (a value its
    loader refuses) reaches `db_errors` as SQLAlchemy's, one line, not as an unexpected error.
    """
    processors = getattr(result._metadata, "_processors", None)
    if processors is not None and not any(processors):
        return list(result.cursor_strategy.fetchall(result, result.cursor))
    return [tuple(row) for row in result.fetchall()]


def _read_csv_rows(plan: SourcePlan) -> pd.DataFrame:
    assert plan.csv is not None
    try:
        frame = pd.read_csv(Path(plan.csv).expanduser(), usecols=[DATE, *plan.value_columns], **CSV_MISSING)
    except READ_ERRORS as exc:
        raise unreadable(f"dataset.csv: {plan.csv}", exc) from None
    try:
        frame[DATE] = parse_dates(frame[DATE], DATE)  # the whole column at once: its epoch unit decided once
    except DataError as exc:
        raise DataError(f"dataset.csv: {plan.csv}: {exc}") from None
    _check_lost_csv_values(plan.csv, frame[list(plan.value_columns)])
    if plan.start is not None:
        frame = frame[frame[DATE] >= plan.start]
    if plan.end is not None:
        frame = frame[frame[DATE] <= plan.end]
    frame = frame.sort_values(DATE, kind="stable")
    if plan.limit is None:
        return frame
    # every row of the latest `limit` + 1 times, as the SQL query gives (`_query_rows`)
    times = frame[DATE].drop_duplicates()
    return frame[frame[DATE] >= times.iloc[-(plan.limit + 1)]] if len(times) > plan.limit + 1 else frame


def _check_lost_csv_values(path: str, values: pd.DataFrame) -> None:
    """DataError (one line, naming `path`) when a value column that pandas read as floats held a nonzero
    value read as 0 (`1e-400`); a warning for integers beyond 2^53 that lost digits (`float_range`). The
    columns that hold a 0.0 or such a magnitude are read again as text to tell."""
    suspects = sorted(parsed_with_candidates(values))
    if not suspects:
        return
    try:
        text = pd.read_csv(Path(path).expanduser(), usecols=suspects, dtype=str, **CSV_MISSING)
    except READ_ERRORS as exc:
        raise unreadable(f"dataset.csv: {path}", exc) from None
    for column, lost in lost_in_text([text], {c: c for c in suspects}).items():
        try:
            NumberReader(column, source=f"dataset.csv: {path}").note(lost)
        except DataError as exc:
            raise DataError(f"dataset.csv: {path}: {exc}") from None


def clean_rows(
    frame: pd.DataFrame,
    value_columns: tuple[str, ...],
    labels: Mapping[str, str] | None = None,
    *,
    symbol: str = "",
    thousands: frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """Typed, sorted, one row per timestamp: what every later step assumes.

    `date` → naive UTC datetime64[ns] (`ingest.parse_dates`), each value column → float64
    (`ingest.parse_numeric`; NULL → NaN). `labels` names columns in messages (`crypto_price.volume`,
    `crypto_price.date`),
    `symbol` names the rows' symbol; `thousands` names columns whose comma other rows showed to
    separate thousands (`thousands_columns`). Rows repeated at one timestamp with the same values are kept once.
    Raises DataError naming the column and a bad value (`parse_numeric` refuses infinities), a value
    column of epoch times that follow the date (`ingest.refuse_time_columns`), or two rows
    at one timestamp whose values differ (which one is right cannot be told, and SQL hands duplicates over in an order
    that differs between databases).
    """
    labels = labels or {}
    out = pd.DataFrame(
        {DATE: parse_dates(frame[DATE], labels.get(DATE, DATE)).to_numpy()}
        | {
            c: parse_numeric(frame[c], labels.get(c, c), thousands=c in thousands).to_numpy(np.float64)
            for c in value_columns
        }
    )
    refuse_time_columns(out[DATE], out[list(value_columns)], dict(labels))
    whose = f" of symbol {symbol}" if symbol else ""
    out = out.sort_values(DATE, kind="stable")
    repeated = out[out[DATE].duplicated(keep=False)]
    if len(repeated):
        conflicting = repeated.groupby(DATE)[list(value_columns)].nunique(dropna=False).max(axis=1) > 1
        if conflicting.any():
            at = conflicting.index[int(np.argmax(conflicting.to_numpy()))]
            rows = repeated[repeated[DATE] == at]
            column = next(c for c in value_columns if rows[c].nunique(dropna=False) > 1)
            # in value order (NaN last): the rows' order differs between databases, the message must not
            shown = " vs ".join(f"{v:g}" for v in np.sort(rows[column].drop_duplicates().to_numpy()))
            change = clock_change(at, repeated=True)
            fix = f"{at} is {change}: {LOCAL_TIME_FIX}" if change else "keep one row per symbol and time"
            raise DataError(
                f"rows{whose} at {at} appear {len(rows)} times with different values (column "
                f"{labels.get(column, column)!r}: {shown}); {fix}"
            )
    out = out.drop_duplicates(DATE, keep="first")
    return out.reset_index(drop=True)
