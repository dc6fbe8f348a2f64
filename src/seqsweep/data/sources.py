"""Where the rows come from: the join's plan on the database (or CSV file).

The driver calls `plan_source` once: it checks tables, columns and symbols (each failure is one
line naming what to fix) and returns a picklable `SourcePlan`. Each per-symbol task then calls
`symbol_rows.load_symbol_rows(plan, symbol)`. Every query is a `text()` with bound parameters (the symbol lists
are expanding parameters); only identifiers that were checked against the schema are spliced in,
quoted by the database's own dialect. URLs in messages and logs always have the password hidden.

Symbols match one way on every database: stripped and upper-cased (`ingest.canonical_symbol`), in
Python, not by the database's collation. `plan_source` lists the stored spellings of each requested
symbol per table (`aaausdt`, `'BBBUSDT '`), and the per-symbol query binds exactly those, so the
(crypto_symbol, date) index still serves the filter and the join (a join on UPPER(TRIM(symbol))
cannot use it: 0.35 s against 0.09 s per symbol on the real tables in SQLite). SQLite, MariaDB and
PostgreSQL then give the same rows. Every value read goes through `ingest` (`symbol_rows.clean_rows`).

The plan's parts live beside this module, one job each: `engines` (URLs and connections),
`column_types` (how a column's values are read as exact text), `sql_dates` (the date column: epoch
units, SQLite's date text, the bounds), `symbol_match` (each symbol's stored spellings) and
`join_checks` (rows without a date, the grids' spacing, the tables' times lining up).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from seqsweep.data.column_types import NUMBER_TYPES, exact_text, read_as, underlying_type
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
from seqsweep.data.engines import backend_name, db_errors, masked_url, open_engine
from seqsweep.data.ingest import canonical_symbol
from seqsweep.data.join_checks import check_join_times, check_undated_rows, check_yield_spacing, utf8_bytes
from seqsweep.data.joins import JoinTables
from seqsweep.data.spec import DatasetSpec, naive_utc
from seqsweep.data.sql_dates import (
    EPOCH_NS,
    SQLiteDateText,
    bound_epoch_unit,
    check_bound_date_types,
    check_date_precision,
    check_epoch_units,
    check_server_date_columns,
    inner_float,
    sqlite_date_text,
    sqlite_stores_numbers,
)
from seqsweep.data.symbol_match import (
    check_symbol_type,
    refuse_another_instrument,
    refuse_several_instruments,
    resolve_symbols,
    symbol_index_usable,
)
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
from seqsweep.errors import ConfigError, DataError

logger = logging.getLogger(__name__)


# --- the joins -----------------------------------------------------------------------------------


def _join_tables(spec: DatasetSpec) -> JoinTables:
    """The tables `spec`'s join reads (`seqsweep.data.joins`)."""
    return spec.join_spec.layout(spec.ohlcv_table)


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
        as_sent = (
            utf8_bytes if self.url is not None and backend_name(self.url) in ("mysql", "mariadb") else str
        )
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
                    else inner_float(bound.value, per, up=name == "start")
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
            check_symbol_type(table, columns[table][SYMBOL])
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
    check_date_precision(date_types, engine.dialect.name)
    epoch_unit = None
    if bounded and (
        isinstance(date_types[join.base], NUMBER_TYPES) or sqlite_stores_numbers(engine, join.base, q)
    ):
        epoch_unit = bound_epoch_unit(engine, join.base, q, date_types[join.base])
    elif bounded:
        check_bound_date_types(date_types)
    date_text = None
    if engine.dialect.name == "sqlite" and (len(tables) > 1 or bounded or latest):
        date_text = sqlite_date_text(engine, tables, q, bounded and epoch_unit is None, latest)
    elif engine.dialect.name != "sqlite":
        check_server_date_columns(date_types, engine.dialect.name, bounded=bounded, latest=latest)
    if len(tables) > 1 or latest:
        # every dialect, whatever the declared type (SQLite keeps epoch integers in a DATETIME column): a
        # join over two units matched nothing, and the latest rows of a table whose unit changes partway
        # (ms, then s) were the old unit's, the newest rows left out without a word
        check_epoch_units(engine, tables, q)
    symbol_types = {table: columns[table].get(SYMBOL) for table in tables}
    spellings = resolve_symbols(engine, url, join, base.symbols, q, symbol_types)
    check_undated_rows(engine, spec.join, join, base.symbols, q)
    if join.with_yield and YIELD in value_columns:
        check_yield_spacing(engine, join.base, q)
    if len(tables) > 1:
        check_join_times(engine, spec, join, spellings, q, yield_read=YIELD in value_columns)
    read_as = _value_casts(selected, {a: columns[t] for a, t in aliases.items()}, engine.dialect.name)
    indexed = symbol_index_usable(engine.dialect.name, spellings)

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
        logger.info(
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


def _value_casts(
    selected: Mapping[str, str], types: Mapping[str, Mapping[str, Any]], dialect: str
) -> dict[str, str]:
    """`read_as` of each selected column that needs one: value column → SQL template."""
    casts = {name: read_as(types[alias][name], dialect) for name, alias in selected.items()}
    return {name: cast for name, cast in casts.items() if cast is not None}


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
    before the exact comparison (`symbol_index_usable`)."""
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
