"""Where the rows come from: the database URL, the join's SQL, and a cheap fingerprint of the source.

The driver calls `plan_source` once: it checks tables, columns and symbols (each failure is one
line naming what to fix) and returns a picklable `SourcePlan`. Each per-symbol Ray task then calls
`load_symbol_rows(plan, symbol)`. Every query is a `text()` with bound parameters (the symbol list
is an expanding parameter); only identifiers that were checked against the schema are spliced in,
quoted by the database's own dialect. URLs in messages and logs always have the password hidden.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from seqsweep.constants import DB_URL_ENV, DEFAULT_SAMPLE_DB
from seqsweep.data.spec import DatasetSpec
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
)
from seqsweep.errors import ConfigError, DataError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10
"""A MySQL/MariaDB server that does not answer fails within this many seconds instead of hanging."""


# --- URLs ---------------------------------------------------------------------------------------


def masked_url(url: str) -> str:
    """The URL with its password replaced by ***: the only form that may appear in any output."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def resolve_db_url(db: str | None = None, spec: DatasetSpec | None = None) -> str:
    """`--db`, else `spec.db`, else $SEQSWEEP_DB_URL, else the generated sample database (made on first use)."""
    for candidate in (db, spec.db if spec is not None else None, os.environ.get(DB_URL_ENV)):
        if candidate:
            return candidate
    from seqsweep.data.sample import ensure_sample_db

    return ensure_sample_db(Path(DEFAULT_SAMPLE_DB).expanduser())


def _password(url: str) -> str | None:
    with contextlib.suppress(Exception):
        password = make_url(url).password
        return str(password) if password else None
    return None


def _reason(exc: BaseException, url: str) -> str:
    """The driver's own message in one line, without SQLAlchemy's statement dump and never the password."""
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split())
    password = _password(url)
    if password:
        text = text.replace(password, "***")
    return text[:300]


@contextlib.contextmanager
def db_errors(url: str, doing: str) -> Iterator[None]:
    """Turn driver errors raised while `doing` something into one DataError line (password hidden)."""
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        raise DataError(f"database {masked_url(url)}: {doing} failed: {_reason(exc, url)}") from None


def create_engine(url: str) -> Engine:
    """An engine without a pool (tasks connect once); a bad URL or missing driver is a ConfigError."""
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError:
        raise ConfigError(
            f"database URL {masked_url(url)!s} is not a SQLAlchemy URL (e.g. sqlite:///path.db, "
            "mysql+pymysql://user@host:3306/db)"
        ) from None
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "mysql":
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    try:
        return sa.create_engine(parsed, poolclass=NullPool, connect_args=connect_args)
    except (sa_exc.NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"database URL {masked_url(url)}: no driver for it ({_reason(exc, url)})") from None


def _sqlite_file(url: str) -> Path | None:
    with contextlib.suppress(Exception):
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
            return None if parsed.database.startswith("file:") else Path(parsed.database)
    return None


def open_engine(url: str, *, must_exist: bool = True) -> Engine:
    """An engine whose database answered: unreachable servers and wrong credentials fail here.

    A SQLite file must exist when reading (`must_exist`), so a typo in the path is named instead of
    silently creating an empty database; writers create it, folders included.
    """
    sqlite_file = _sqlite_file(url)
    if sqlite_file is not None and not sqlite_file.exists():
        if must_exist:
            raise DataError(
                f"database file {sqlite_file} does not exist; create it with `seqsweep data sample --db {url}` "
                "or `seqsweep data load-csv DIR --db URL`"
            )
        sqlite_file.parent.mkdir(parents=True, exist_ok=True)
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
    return engine


# --- the joins -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Join:
    base: str
    """Table whose `date` (and symbol) drive the query."""
    partner: str | None
    """Table inner-joined on (symbol, date): the notebook's prices."""
    with_yield: bool
    """LEFT JOIN US_Bond_Yield on date."""
    by_symbol: bool = True


def _join_tables(spec: DatasetSpec) -> _Join:
    return {
        "notebook": _Join(LENDING_TABLE, PRICE_TABLE, True),
        "prices": _Join(PRICE_TABLE, None, True),
        "rates": _Join(LENDING_TABLE, None, True),
        "ohlcv": _Join(spec.ohlcv_table, None, False, by_symbol=False),
    }[spec.join]


_FINGERPRINT_SUM_COLUMN = {LENDING_TABLE: "lending_rate", YIELD_TABLE: YIELD, PRICE_TABLE: "close"}


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
    """Numeric columns the query returns besides `date`, in feature order."""
    symbols: tuple[str, ...]
    """Upper-cased dataset symbols, in spec order."""
    by_symbol: bool
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    limit: int | None
    fingerprint: dict[str, Any]
    """Cheap aggregates of the source (counts, date range, a sum) per table and symbol: the cache key's half."""

    def params(self, symbol: str) -> dict[str, Any]:
        params: dict[str, Any] = {"symbols": [symbol]} if self.by_symbol else {}
        for name in ("start", "end", "limit"):
            value = getattr(self, name)
            if value is not None:
                params[name] = value.to_pydatetime() if isinstance(value, pd.Timestamp) else value
        return params


def _statement(sql: str) -> sa.TextClause:
    """Attach types to the bound parameters the SQL uses (dates bind as DATETIME in every dialect)."""
    binds: dict[str, sa.BindParameter[Any]] = {
        "symbols": sa.bindparam("symbols", expanding=True),
        "start": sa.bindparam("start", type_=sa.DateTime()),
        "end": sa.bindparam("end", type_=sa.DateTime()),
        "limit": sa.bindparam("limit", type_=sa.Integer()),
    }
    return sa.text(sql).bindparams(*(bind for name, bind in binds.items() if f":{name}" in sql))


def _timestamp(value: str | None, key: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        return pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ConfigError(f"dataset.{key}: not a date or datetime: {value!r}") from None


def plan_source(spec: DatasetSpec, url: str | None) -> SourcePlan:
    """Check that the source can give `spec`'s rows and describe how to fetch them."""
    start, end = _timestamp(spec.start, "start"), _timestamp(spec.end, "end")
    if start is not None and end is not None and start >= end:
        raise ConfigError(f"dataset.start must be before dataset.end, got {spec.start} >= {spec.end}")
    join = _join_tables(spec)
    base = SourcePlan(
        url=url,
        masked=masked_url(url) if url else "",
        sql=None,
        csv=None,
        value_columns=(),
        symbols=tuple(s.upper() for s in spec.symbol_list),
        by_symbol=join.by_symbol,
        start=start,
        end=end,
        limit=spec.max_rows_per_symbol,
        fingerprint={},
    )
    if spec.join == "ohlcv" and spec.csv is not None:
        columns, fingerprint = _check_csv(spec.csv)
        _check_targets(spec, columns)
        return replace(
            base, url=None, masked="", csv=spec.csv, value_columns=columns, fingerprint=fingerprint
        )
    if url is None:
        raise ConfigError("no database URL: pass --db, set dataset.db or $SEQSWEEP_DB_URL")
    engine = open_engine(url)
    try:
        with db_errors(url, "reading the schema"):
            return _plan_sql(spec, join, base, engine)
    finally:
        engine.dispose()


def _plan_sql(spec: DatasetSpec, join: _Join, base: SourcePlan, engine: Engine) -> SourcePlan:
    url = base.url or ""
    inspector = sa.inspect(engine)
    existing = set(inspector.get_table_names())
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
        columns[table] = {c["name"]: c["type"] for c in inspector.get_columns(table)}
        required = REQUIRED_COLUMNS.get(table, (DATE, *OHLCV_COLUMNS) if table == spec.ohlcv_table else ())
        for name in required:
            if name not in columns[table]:
                raise DataError(
                    f"table {table!r} has no column {name!r} (columns: {', '.join(columns[table])})"
                )
    selected: dict[str, str] = {}  # value column -> alias of the table it comes from
    for alias, table in aliases.items():
        for name in _value_columns(table, columns[table]):
            selected.setdefault(name, alias)
    value_columns = tuple(selected)
    _check_targets(spec, value_columns)
    q = engine.dialect.identifier_preparer.quote
    return replace(
        base,
        sql=_select_sql(join, selected, q, base),
        value_columns=value_columns,
        fingerprint=_fingerprint(engine, url, join, tables, columns, base.symbols, q),
    )


def _value_columns(table: str, columns: Mapping[str, Any]) -> tuple[str, ...]:
    """Rates and OHLCV columns are fixed by the contract; the price table gives all its numeric columns (`cp.*`)."""
    if table == LENDING_TABLE:
        return RATE_COLUMNS
    if table == YIELD_TABLE:
        return (YIELD,)
    if table == PRICE_TABLE:
        numeric = (sa.types.Numeric, sa.types.Float, sa.types.Integer, sa.types.NullType)
        return tuple(n for n, t in columns.items() if n not in (DATE, SYMBOL) and isinstance(t, numeric))
    return OHLCV_COLUMNS


def _check_targets(spec: DatasetSpec, columns: tuple[str, ...]) -> None:
    for target in spec.target_columns:
        if target not in columns:
            raise DataError(
                f"dataset.targets: {target!r} is not a column of the {spec.join} join (columns: {', '.join(columns)})"
            )


def _select_sql(join: _Join, selected: Mapping[str, str], q: Any, bounds: SourcePlan) -> str:
    cols = ", ".join([f"b.{q(DATE)} AS {q(DATE)}"] + [f"{a}.{q(c)} AS {q(c)}" for c, a in selected.items()])
    source = f"{q(join.base)} b"
    if join.partner:
        source += f" JOIN {q(join.partner)} p ON b.{q(SYMBOL)} = p.{q(SYMBOL)} AND b.{q(DATE)} = p.{q(DATE)}"
    if join.with_yield:
        source += f" LEFT JOIN {q(YIELD_TABLE)} y ON b.{q(DATE)} = y.{q(DATE)}"
    where = [f"UPPER(b.{q(SYMBOL)}) IN :symbols"] if join.by_symbol else []
    if bounds.start is not None:
        where.append(f"b.{q(DATE)} >= :start")
    if bounds.end is not None:
        where.append(f"b.{q(DATE)} <= :end")
    sql = f"SELECT {cols} FROM {source}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    # the latest N rows when bounded (reversed again after loading), else oldest first
    sql += f" ORDER BY b.{q(DATE)} {'DESC' if bounds.limit is not None else 'ASC'}"
    if bounds.limit is not None:
        sql += " LIMIT :limit"
    return sql


def _fingerprint(
    engine: Engine,
    url: str,
    join: _Join,
    tables: list[str],
    columns: Mapping[str, Mapping[str, Any]],
    symbols: tuple[str, ...],
    q: Any,
) -> dict[str, Any]:
    """Per table (and symbol): row count, first and last date, sum of one numeric column.

    The same query tells which requested symbols a table lacks, so an unknown symbol is named here,
    before any task starts.
    """
    result: dict[str, Any] = {}
    with engine.connect() as conn:
        for table in tables:
            by_symbol = join.by_symbol and table != YIELD_TABLE
            total = _FINGERPRINT_SUM_COLUMN.get(table, "closing_price")
            if total not in columns[table]:
                total = next(n for n in _value_columns(table, columns[table]))
            aggregates = f"COUNT(*), MIN({q(DATE)}), MAX({q(DATE)}), SUM({q(total)})"
            if by_symbol:
                sql = (
                    f"SELECT UPPER({q(SYMBOL)}), {aggregates} FROM {q(table)} "
                    f"WHERE UPPER({q(SYMBOL)}) IN :symbols GROUP BY UPPER({q(SYMBOL)})"
                )
                rows = conn.execute(_statement(sql), {"symbols": list(symbols)}).fetchall()
                found = {str(r[0]): _aggregate(r[1:]) for r in rows}
                missing = [s for s in symbols if s not in found]
                if missing:
                    raise DataError(_unknown_symbols(conn, table, missing, q, url))
                result[table] = dict(sorted(found.items()))
            else:
                row = conn.execute(sa.text(f"SELECT {aggregates} FROM {q(table)}")).one()
                if not row[0]:
                    raise DataError(f"table {table!r} in {masked_url(url)} has no rows")
                result[table] = _aggregate(row)
    return result


def _aggregate(row: Any) -> list[Any]:
    """Count, ISO first/last date and a rounded sum: equal whether SQLite or MariaDB computed them."""
    count, first, last, total = row
    total = None if total is None else float(f"{float(total):.10g}")
    return [int(count), str(pd.Timestamp(first)), str(pd.Timestamp(last)), total]


def _unknown_symbols(conn: sa.Connection, table: str, missing: list[str], q: Any, url: str) -> str:
    held = [str(r[0]) for r in conn.execute(sa.text(f"SELECT DISTINCT UPPER({q(SYMBOL)}) FROM {q(table)}"))]
    shown = ", ".join(sorted(held)[:20]) + (" ..." if len(held) > 20 else "")
    noun = "symbol" if len(missing) == 1 else "symbols"
    return (
        f"dataset.symbols: unknown {noun} {', '.join(missing)}: not in table {table!r} of "
        f"{masked_url(url)} (it holds: {shown or 'no rows'})"
    )


def _check_csv(path: str) -> tuple[tuple[str, ...], dict[str, Any]]:
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"dataset.csv: file not found: {path}")
    header = pd.read_csv(file, nrows=0).columns
    for name in (DATE, *OHLCV_COLUMNS):
        if name not in header:
            raise DataError(f"dataset.csv: {path} has no column {name!r} (columns: {', '.join(header)})")
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    return OHLCV_COLUMNS, {"csv": {"sha256": digest, "bytes": file.stat().st_size}}


# --- the task side -------------------------------------------------------------------------------


def load_symbol_rows(plan: SourcePlan, symbol: str) -> pd.DataFrame:
    """One symbol's rows: `date` (datetime64[ns], ascending, unique) + `plan.value_columns` as float64."""
    if plan.csv is not None:
        frame = _read_csv_rows(plan)
    else:
        assert plan.url is not None and plan.sql is not None  # plan_source sets both for SQL sources
        engine = create_engine(plan.url)
        try:
            with db_errors(plan.url, f"reading the rows of {symbol}"), engine.connect() as conn:
                result = conn.execute(_statement(plan.sql), plan.params(symbol))
                frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        finally:
            engine.dispose()
    return clean_rows(frame, plan.value_columns)


def _read_csv_rows(plan: SourcePlan) -> pd.DataFrame:
    assert plan.csv is not None
    frame = pd.read_csv(Path(plan.csv).expanduser(), usecols=[DATE, *plan.value_columns])
    frame[DATE] = pd.to_datetime(frame[DATE], format="mixed")
    if plan.start is not None:
        frame = frame[frame[DATE] >= plan.start]
    if plan.end is not None:
        frame = frame[frame[DATE] <= plan.end]
    frame = frame.sort_values(DATE, kind="stable")
    return frame.tail(plan.limit) if plan.limit is not None else frame


def clean_rows(frame: pd.DataFrame, value_columns: tuple[str, ...]) -> pd.DataFrame:
    """Typed, sorted, one row per timestamp (the last wins): what every later step assumes."""
    out = pd.DataFrame(
        {DATE: pd.to_datetime(frame[DATE], format="mixed").astype("datetime64[ns]")}
        | {c: pd.to_numeric(frame[c], errors="coerce").astype(np.float64) for c in value_columns}
    )
    out = out.sort_values(DATE, kind="stable").drop_duplicates(DATE, keep="last")
    return out.reset_index(drop=True)
