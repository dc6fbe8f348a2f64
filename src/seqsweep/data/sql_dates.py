"""The `date` column in SQL: its type, its epoch unit, its text layout on SQLite, and the plan's bounds.

`plan_source` calls these checks once per table before any row is read: a `date` stored as epoch
numbers must be in one unit across the join's tables (`check_epoch_units`, `bound_epoch_unit`), a
server's date type must be one the join compares exactly (`check_server_date_columns`,
`check_bound_date_types`, `check_date_precision`), and on SQLite, where a date is text, the layout the
rows use decides how `dataset.start` / `end` are written in SQL (`sqlite_date_text`, `SQLiteDateText`).
`inner_float` rounds an epoch bound to the inside of the period it names. Each refusal is one
`DataError` line naming the table and the fix.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from seqsweep.data.column_types import NUMBER_TYPES, single_precision
from seqsweep.data.epoch_times import EPOCH_EARLIEST, EPOCH_LATEST, EPOCH_UNITS, epoch_unit_of
from seqsweep.data.tables import DATE
from seqsweep.errors import DataError, DateCutError


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


def inner_float(numerator: int, denominator: int, *, up: bool) -> float:
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


def check_epoch_units(engine: Engine, tables: Sequence[str], q: Callable[[str], str]) -> None:
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
    table or one whose dates are no epoch (`epoch_times.epoch_unit_of`, 1971–2200).

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
"""Nanoseconds per epoch unit (`epoch_times.epoch_unit_of`'s names)."""


def bound_epoch_unit(engine: Engine, table: str, q: Callable[[str], str], kind: Any) -> str | None:
    """The epoch unit of `table`'s numeric `date` (its earliest value's, `epoch_times.epoch_unit_of`), in which
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


def sqlite_stores_numbers(engine: Engine, table: str, q: Callable[[str], str]) -> bool:
    """Whether SQLite holds `table`'s earliest `date` as a number, whatever the column's declared type.

    SQLite keeps each value's own storage class: a DATETIME column (as `load-csv` creates it) that
    another tool rewrote as epoch integers holds numbers, which a bound must meet as numbers in their
    unit, as an INTEGER column's. Numbers sort before text, so a column mixing both answers True here
    and is refused by `bound_epoch_unit` / `sqlite_date_text` (text at its latest end: two shapes)."""
    if engine.dialect.name != "sqlite":
        return False
    column = q(DATE)
    with engine.connect() as conn:
        kind = conn.execute(sa.text(f"SELECT typeof(MIN({column})) FROM {q(table)}")).scalar()
    return kind in ("integer", "real")


def check_bound_date_types(date_types: Mapping[str, Any]) -> None:
    """DataError (one line) if a table's `date` column holds numbers: a `start`/`end` bound (a DATETIME)
    compares with epoch numbers differently on each database (ignored, no rows, or an error)."""
    for table, kind in date_types.items():
        if isinstance(kind, NUMBER_TYPES):
            raise DataError(
                f"dataset.start/end: {table}.date is a number column ({kind}), epoch times that a date bound "
                f"cannot be compared with; reload the table with `seqsweep data load-csv` (it stores dates "
                f"as DATETIME) or leave start and end out"
            )


def check_server_date_columns(
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


def check_date_precision(date_types: Mapping[str, Any], dialect: str) -> None:
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
