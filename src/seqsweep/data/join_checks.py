"""Checks that the join's tables line up in time, run once by `plan_source` before any row is read.

`check_undated_rows` refuses rows whose date is empty (the join would drop them without a word),
`check_yield_spacing` a yield table coarser than the prices' grid, and `check_join_times` dates of two joined
tables that belong to one grid time but differ (a price at `00:00:00.003` beside a yield at
`00:00:00`), each in one `DataError` line naming the tables and the fix. A table's spacing is the
median step among its earliest or latest `SPACING_SAMPLE` distinct dates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from seqsweep.data.column_types import exact_text
from seqsweep.data.date_reading import parse_dates
from seqsweep.data.ingest import canonical_symbol
from seqsweep.data.joins import JoinTables
from seqsweep.data.spec import DatasetSpec, grid_step
from seqsweep.data.symbol_match import symbol_text
from seqsweep.data.tables import (
    DATE,
    SYMBOL,
    YIELD_TABLE,
)
from seqsweep.errors import DataError


def utf8_bytes(text: str) -> bytes:
    return text.encode("utf-8")


def check_undated_rows(
    engine: Engine, join_name: str, join: JoinTables, symbols: tuple[str, ...], q: Callable[[str], str]
) -> None:
    """DataError (one line) when a table the join reads holds rows without a `date` (NULL) for the
    dataset's symbols (every row, for a table without symbols: the yield, an OHLCV table).

    SQL never matches NULL: such a row of the partner or the yield table dropped out of the join
    without a word (the notebook join lost its hours, the yield its value), and one of the base table
    dropped out of a `start`/`end`-bounded read. They are refused whatever the bounds, as a whole-table
    read of the base table refuses them (`date_reading.DateReader`). On MariaDB a date with a zero part (the
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
                name = canonical_symbol(symbol_text(table, spelled))
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


def check_yield_spacing(engine: Engine, base: str, q: Callable[[str], str]) -> None:
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


def check_join_times(
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
    as_sent: Callable[[str], Any] = utf8_bytes if dialect in ("mysql", "mariadb") else str
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
