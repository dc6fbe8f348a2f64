"""Each symbol's rows, as a per-symbol task of the build reads them: `load_symbol_rows(plan, symbol)`.

A task runs the `SourcePlan` that `sources.plan_source` checked on the driver (its query with the
symbol's stored spellings bound, or its CSV file) and hands every value to `clean_rows`: dates through
`date_reading`, numbers through `number_reading`, one row per time. A comma whose meaning the rows read
cannot tell (only 6,406-like values under a bound or a latest-rows limit) is decided by the symbol's
every row (`thousands_columns`), as the whole read that trained on them decided it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from seqsweep.data.csv_header import READ_ERRORS, unreadable
from seqsweep.data.date_reading import parse_dates
from seqsweep.data.engines import create_engine, db_errors
from seqsweep.data.epoch_times import refuse_time_columns
from seqsweep.data.float_range import lost_in_text, parsed_with_candidates
from seqsweep.data.local_time import LOCAL_TIME_FIX, clock_change
from seqsweep.data.number_reading import CSV_MISSING, NumberReader, parse_numeric
from seqsweep.data.sources import SourcePlan
from seqsweep.data.tables import DATE
from seqsweep.errors import AmbiguousCommaError, DataError


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

    `date` → naive UTC datetime64[ns] (`date_reading.parse_dates`), each value column → float64
    (`number_reading.parse_numeric`; NULL → NaN). `labels` names columns in messages (`crypto_price.volume`,
    `crypto_price.date`),
    `symbol` names the rows' symbol; `thousands` names columns whose comma other rows showed to
    separate thousands (`thousands_columns`). Rows repeated at one timestamp with the same values are kept once.
    Raises DataError naming the column and a bad value (`parse_numeric` refuses infinities), a value
    column of epoch times that follow the date (`epoch_times.refuse_time_columns`), or two rows
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
