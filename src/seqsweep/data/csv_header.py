"""The header row of a CSV file, read as written and checked before any row is read.

`load-csv` and `dataset.csv` both read headers here. pandas renames what it cannot use as a name: a
column without a name becomes `Unnamed: 0`, a repeated one `close.1`. The build would then take that
column as one more feature without a word (a written-out index, a trailing comma, a column pasted
twice), so such a header is refused, as is a semicolon-separated file.
"""

from __future__ import annotations

import csv
import zlib
from pathlib import Path
from typing import Final

import pandas as pd

from seqsweep.errors import DataError

MAX_NAME_LENGTH = 63
"""Longest column name, in UTF-8 bytes, kept as written on every supported database (PostgreSQL's
NAMEDATALEN − 1)."""
UNSAFE_NAME_CHARACTERS = (":", "`")
"""Characters no column name may hold: SQLAlchemy's `text()` takes `:start` in a quoted name for a bound
parameter, and MariaDB's schema reflection returns a backtick already doubled."""


def unsafe_name_character(name: str) -> str | None:
    """The first of `UNSAFE_NAME_CHARACTERS` in `name`, None when it has none."""
    return next((c for c in UNSAFE_NAME_CHARACTERS if c in name), None)


SEPARATORS: Final = ((";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars"))
"""Field separators other than a comma that a one-column header betrays, with their names for a refusal."""


def read_header(file: Path, who: str) -> list[str]:
    """The names in `file`'s first row, exactly as written (a UTF-8 BOM dropped, quotes removed).

    `who` starts every message (`load-csv: prices.csv`, `dataset.csv: candles.csv`). Raises DataError
    for a file that cannot be read as UTF-8 CSV (empty, UTF-16, ...), separated by semicolons, tabs or
    bars (`SEPARATORS`), or whose header has a column without a name, a name twice (ignoring case), a name with blanks around it or a
    character of `UNSAFE_NAME_CHARACTERS`, one longer than `MAX_NAME_LENGTH` bytes in UTF-8 (PostgreSQL
    counts bytes: 40 Cyrillic letters are 80) or one with a character outside the Basic Multilingual
    Plane (MariaDB's identifiers hold none): what the databases would store or read differently.
    """
    try:
        # `header=None` reads the first row as values: pandas renames nothing
        raw = pd.read_csv(file, header=None, nrows=1, dtype=str, keep_default_na=False)
    except (ValueError, OSError, EOFError, zlib.error, pd.errors.ParserError) as exc:
        # EmptyDataError, UnicodeDecodeError; EOFError / BadGzipFile / zlib.error: a compressed file cut short
        raise DataError(f"{who}: cannot read it as UTF-8 CSV: {' '.join(str(exc).split())[:200]}") from None
    header = [str(name) for name in raw.iloc[0]] if len(raw) else []
    separator = next((name for sep, name in SEPARATORS if len(header) == 1 and sep in header[0]), None)
    if separator is not None:  # a TSV named .csv read as one column: "has no column 'date'" hid why
        raise DataError(
            f"{who} is separated by {separator} (header {header[0]!r}); seqsweep reads comma-separated "
            "files with a decimal point: re-export it as CSV with ',' between fields"
        )
    seen: dict[str, str] = {}
    for position, name in enumerate(header, start=1):
        if not name.strip():
            raise DataError(
                f"{who}: column {position} of {len(header)} has no name (a written-out index or a trailing "
                "comma?); remove it or name it"
            )
        if name != name.strip():
            raise DataError(
                f"{who}: column name {name!r} has blanks around it (databases keep or strip them "
                f"differently); write it as {name.strip()!r}"
            )
        unsafe = unsafe_name_character(name)
        if unsafe is not None:
            raise DataError(
                f"{who}: column name {name!r} holds {unsafe!r}, which the SQL that reads the tables cannot "
                f"keep on every database; rename it without {unsafe!r}"
            )
        size = len(name.encode("utf-8"))
        if size > MAX_NAME_LENGTH:
            raise DataError(
                f"{who}: column name {name[:20]!r}… is {size} bytes long in UTF-8; PostgreSQL keeps "
                f"{MAX_NAME_LENGTH} bytes (and cuts the rest without a word), MariaDB refuses more than 64 "
                f"characters: shorten it"
            )
        wide = next((c for c in name if ord(c) > 0xFFFF), None)
        if wide is not None:
            raise DataError(
                f"{who}: column name {name!r} holds {wide!r}, a 4-byte character (an emoji, say) that "
                f"MariaDB cannot hold in a name; rename it without {wide!r}"
            )
        earlier = seen.get(name.lower())
        if earlier == name:
            raise DataError(f"{who}: column {name!r} appears twice in the header; keep one")
        if earlier is not None:
            raise DataError(
                f"{who}: columns {earlier!r} and {name!r} differ only in case (MariaDB and SQLite compare "
                "column names ignoring case); rename or drop one"
            )
        seen[name.lower()] = name
    return header


def require_columns(header: list[str], required: tuple[str, ...], who: str) -> None:
    """DataError naming the first of `required` missing from `header`, and the columns there are."""
    for column in required:
        if column not in header:
            raise DataError(f"{who} has no column {column!r} (columns: {', '.join(header)})")


def check_row_widths(file: Path, width: int, who: str) -> None:
    """DataError (one line, naming the line) for a row of `file` with fewer or more values than its
    header's `width` names. pandas pads a short row with missing values, so a row that left out one
    value moved every later value one column left (a close stored as the low) without a word; with
    `usecols` it also drops extra values. A comma ending a row is not a value (`index_col=False`
    drops it); in a file whose rows end with one, a row of `width` fields whose last is empty lost a
    value. Blank lines are skipped as pandas skips them. Compressed files are read as pandas
    reads them (`pandas.io.common.get_handle`, compression inferred from the name)."""
    from pandas.io.common import get_handle

    try:
        with get_handle(file, "r", encoding="utf-8-sig", compression="infer") as handles:
            reader = csv.reader(handles.handle)
            next(reader, None)  # the header
            comma_ended = False  # a row ended with a comma
            open_ended: int | None = None  # the first row of `width` fields whose last is empty
            for row in reader:
                if not row:
                    continue
                comma = len(row) == width + 1 and row[-1] == ""
                values = len(row) - 1 if comma else len(row)
                comma_ended |= comma
                if open_ended is None and len(row) == width and row[-1] == "":
                    open_ended = reader.line_num
                if comma_ended and open_ended is not None:
                    _refuse_lost_value(who, open_ended, width)
                if values != width:
                    fix = (
                        "a value is missing (the later ones would move one column left)"
                        if values < width
                        else "name every column or drop the extra values"
                    )
                    raise DataError(
                        f"{who}: line {reader.line_num} has {values} values, the header names {width} "
                        f"columns: {fix}"
                    )
    except (ValueError, csv.Error, EOFError, OSError, zlib.error) as exc:  # not UTF-8, a file cut short
        raise DataError(f"{who}: cannot read it as UTF-8 CSV: {' '.join(str(exc).split())[:200]}") from None


def _refuse_lost_value(who: str, line: int, width: int) -> None:
    """DataError for `line`, `width` fields whose last is empty, in a file whose other rows end with a
    comma: it is a row that lost a value (`…,low,volume,` would store the volume as the close), not a
    row whose last value is missing and that also lacks the comma; the two cannot be told apart."""
    raise DataError(
        f"{who}: line {line} has {width - 1} values and a comma ending it, as other rows do, but the "
        f"header names {width} columns: a value is missing (the later ones would move one column left)"
    )
