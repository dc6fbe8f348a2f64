"""Database connections: the URL a command uses, its engine, and one-line errors that hide the password.

`create_engine` gives every backend a UTC session (`UTC_SESSION`), a MariaDB/MySQL server that does not
answer a deadline (`CONNECT_TIMEOUT_S`) and PostgreSQL date loaders for values Python's `datetime`
cannot hold (`BEYOND_PYTHON`). `open_engine` also checks that the database exists (a SQLite file is never
created by a read). `db_errors` turns a driver's exception into one `DataError` line with the URL masked
(`masked_url`); no output of this module ever holds a password.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from seqsweep._fs import unmakeable_folder
from seqsweep.data.spec import DatasetSpec
from seqsweep.db_url import check_unescaped_at, mask, resolve, scrub
from seqsweep.errors import ConfigError, DataError

CONNECT_TIMEOUT_S = 10
"""A MySQL/MariaDB server that does not answer fails within this many seconds instead of hanging."""


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
    """Have the PostgreSQL drivers hand a date or a duration over that Python's cannot hold (`infinity`,
    `-infinity`, a year past 9999 or before Christ, an INTERVAL of more than 999,999,999 days, all of which
    PostgreSQL stores) as the latest or earliest one Python holds (9999-12-31 23:59:59.999999, 0001-01-01,
    `timedelta.max`, `timedelta.min`), as psycopg2 does with ±infinity; `ingest` refuses such a date as
    outside 1677–2262 and any duration as not a number, naming the column.

    The drivers' own loaders raise in the middle of the fetch instead: psycopg (v3, plain `postgresql://`'s
    driver) `timestamp too large (after year 10K): 'infinity'` or `can't parse interval`, psycopg2
    `ValueError: year 20000 is out of range` or `OverflowError: Python int too large to convert to C int`,
    so a whole-table read stopped with an unexpected error (exit 3), or a line naming the read but no
    column, and a join with "reading the schema failed". The loaders are registered on every new
    connection.
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
    "interval": (dt.timedelta.min, dt.timedelta.max),
}
"""Per PostgreSQL date and duration type, (earliest, latest) value Python holds: what a value beyond them
is read as."""


def _beyond_python(kind: str, text: str) -> Any:
    """`BEYOND_PYTHON`'s earliest `kind` for PostgreSQL's `text` before year 1 (`-infinity`, a year BC) or a
    negative duration (`-100000000 years`; `@ 100000000 years ago` in the `postgres_verbose` style), else
    its latest (`infinity`, a year past 9999, a duration beyond 999,999,999 days)."""
    earliest, latest = BEYOND_PYTHON[kind]
    return earliest if text.startswith("-") or text.endswith(("BC", "ago")) else latest


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
            except (ValueError, OverflowError):  # a date: ValueError; an INTERVAL: OverflowError
                return _beyond_python(kind, value or "")

        return extensions.new_type(default.values, f"SEQSWEEP_{default.name}", read)

    return [
        wrapped(extensions.PYDATE, "date"),
        wrapped(extensions.PYDATETIME, "timestamp"),
        wrapped(extensions.PYDATETIMETZ, "timestamptz"),
        wrapped(extensions.PYINTERVAL, "interval"),
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
        elif backend_name(url) == "postgresql":
            fix = (
                f"the driver could not read the server's answer ({failed}); a database in SQL_ASCII "
                f"encoding does this: use a UTF8 database (CREATE DATABASE ... ENCODING 'UTF8')"
            )
        else:
            fix = f"the driver could not read the server's answer ({failed})"
        raise DataError(f"cannot connect to database {masked_url(url)}: {fix}") from None
    return engine


def backend_name(url: str) -> str:
    """The database kind of a SQLAlchemy URL (`mysql`, `mariadb`, `postgresql`, `sqlite`, ...)."""
    return sa.engine.make_url(url).get_backend_name()
