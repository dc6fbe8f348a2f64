"""The header row of a CSV file, read as written and checked before any row is read.

`load-csv` and `dataset.csv` both read headers here. pandas renames what it cannot use as a name: a
column without a name becomes `Unnamed: 0`, a repeated one `close.1`. The build would then take that
column as one more feature without a word (a written-out index, a trailing comma, a column pasted
twice), so such a header is refused, as is a semicolon-separated file.
"""

from __future__ import annotations

import csv
import lzma
import re
import tarfile
import unicodedata
import zipfile
import zlib
from pathlib import Path
from typing import Final

import pandas as pd

from seqsweep.errors import DataError, not_opened_line

DAMAGED: Final = (EOFError, zlib.error, zipfile.BadZipFile, tarfile.TarError, lzma.LZMAError)
"""Errors of a compressed file cut short or damaged (gzip, zip, tar, xz; a damaged gzip or bz2 file also
raises an OSError): none of them a ValueError or an OSError, so a damaged `.csv.zip` ended as an
unexpected error."""
READ_ERRORS: Final = (ValueError, OSError, csv.Error, pd.errors.ParserError, ImportError, *DAMAGED)
"""Every error reading a CSV file can meet, file or content: `unreadable` makes each one line."""


def unreadable(who: str, exc: BaseException) -> DataError:
    """The one-line refusal of a file whose reading raised `exc` (one of `READ_ERRORS`): not UTF-8, not
    CSV, a compressed file cut short or damaged, or a compression whose package is not installed
    (pandas reads `.zst` with `zstandard`, an exit 3 before), or a file that cannot be opened (`NOT_OPENED`:
    gone, a folder, not readable: `errors.not_opened_line`), naming its path."""
    reason = " ".join(str(exc).split())[:200]
    if isinstance(exc, ImportError):
        return DataError(
            f"{who}: cannot read its compression without a package that is not installed ({reason}); "
            "decompress it or compress it with gzip"
        )
    not_opened = not_opened_line(exc)
    if not_opened is not None:
        # the file is gone (moved or deleted after it was checked, as a build's task meets it), a folder or
        # not readable: its path and the system's words, not a hint at damage
        return DataError(f"{who}: {not_opened}")
    if isinstance(exc, (OSError, *DAMAGED)):
        return DataError(f"{who}: cannot read it as UTF-8 CSV: {reason} (a file cut short or damaged?)")
    return DataError(f"{who}: cannot read it as UTF-8 CSV: {reason}")


MAX_NAME_LENGTH = 63
"""Longest column name, in UTF-8 bytes, kept as written on every supported database (PostgreSQL's
NAMEDATALEN − 1)."""
UNSAFE_NAME_CHARACTERS = (":", "`")
"""Characters no column name may hold: SQLAlchemy's `text()` takes `:start` in a quoted name for a bound
parameter, and MariaDB's schema reflection returns a backtick already doubled."""


def unsafe_name_character(name: str) -> str | None:
    """The first of `UNSAFE_NAME_CHARACTERS` in `name`, None when it has none."""
    return next((c for c in UNSAFE_NAME_CHARACTERS if c in name), None)


INVISIBLE_CATEGORIES: Final = ("Cc", "Cf")
"""Unicode categories of characters that print as nothing: control and format characters (a zero-width
space, a byte-order mark, a soft hyphen, a tab). A name or a symbol holding one prints like another."""


def invisible_character(text: str) -> str | None:
    """The first control or format character (`INVISIBLE_CATEGORIES`) in `text`, None when it has none."""
    return next((c for c in text if unicodedata.category(c) in INVISIBLE_CATEGORIES), None)


def visible_form(text: str) -> str:
    """`text` without its control and format characters: how it prints (`clo\u200bse` prints as `close`)."""
    return "".join(c for c in text if unicodedata.category(c) not in INVISIBLE_CATEGORIES)


def invisible_name_error(who: str, name: str) -> DataError:
    """The refusal of a column `name` holding an invisible character: it prints as another name (`close`),
    so `targets: [close]` or `transform: {close: ...}` were refused with a column list that seemed to hold
    it, and a required column (`yield`, `crypto_symbol`) was reported missing beside its look-alike."""
    char = invisible_character(name)
    assert char is not None
    return DataError(
        f"{who}: column name {name!a} holds the invisible character U+{ord(char):04X} "
        f"({unicodedata.name(char, 'a control or format character')}), so it prints as "
        f"{visible_form(name)!r} but is another name; rename it {visible_form(name).strip()!r}"
    )


def shown_names(names: list[str] | tuple[str, ...]) -> str:
    """`names` joined for a message, a name holding an invisible character escaped (`'clo\u200bse'`), so a
    list never seems to hold the very name it is said to lack."""
    return ", ".join(ascii(name) if invisible_character(name) else name for name in names)


SEPARATORS: Final = ((";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars"))
"""Field separators other than a comma that a one-column header betrays, with their names for a refusal."""


def read_header(file: Path, who: str) -> list[str]:
    """The names in `file`'s first row, exactly as written (a UTF-8 BOM dropped, quotes removed).

    `who` starts every message (`load-csv: prices.csv`, `dataset.csv: candles.csv`). Raises DataError
    for a file that cannot be read as UTF-8 CSV (empty, UTF-16, ...), separated by semicolons, tabs or
    bars (`SEPARATORS`), or whose header has a column without a name, a name twice (ignoring case), a name with blanks around it, an
    invisible character (`invisible_character`: a zero-width space, a second byte-order mark) or a
    character of `UNSAFE_NAME_CHARACTERS`, one longer than `MAX_NAME_LENGTH` bytes in UTF-8 (PostgreSQL
    counts bytes: 40 Cyrillic letters are 80) or one with a character outside the Basic Multilingual
    Plane (MariaDB's identifiers hold none): what the databases would store or read differently. A
    file whose first line is Excel's `sep=,`, or whose first row holds values (a file without a header),
    is refused too, and a UTF-16 or compressed file named `.csv` is named as such (`_written_as`).
    """
    try:
        # `header=None` reads the first row as values: pandas renames nothing
        raw = pd.read_csv(file, header=None, nrows=1, dtype=str, keep_default_na=False)
    except READ_ERRORS as exc:
        # EmptyDataError, UnicodeDecodeError; EOFError / BadGzipFile / zlib.error: a compressed file cut short
        if isinstance(exc, UnicodeDecodeError):
            kind = _written_as(file)
            if kind is not None:
                raise DataError(f"{who}: cannot read it as UTF-8 CSV: {kind}") from None
        raise unreadable(who, exc) from None
    header = [str(name) for name in raw.iloc[0]] if len(raw) else []
    if header and header[0].strip().lower().startswith("sep="):
        # Excel's separator hint: `sep=,` read as a header of `sep=` and a nameless column
        raise DataError(
            f"{who} starts with a separator line ({','.join(header)!r}, as Excel writes it) "
            "before its header; remove that first line"
        )
    # a TSV named .csv read as one column: "has no column 'date'" hid why. A header of more names counts
    # too when the separator outnumbers them: a semicolon header with a comma in a later name
    # (`...;close;vol,usd`) split in two at the comma and was reported as lacking `date`
    separator = next(
        (
            name
            for sep, name in SEPARATORS
            if header and sep in header[0] and sum(n.count(sep) for n in header) >= len(header)
        ),
        None,
    )
    if separator is not None:
        raise DataError(
            f"{who} is separated by {separator} (header {','.join(header)!r}); seqsweep reads comma-separated "
            "files with a decimal point: re-export it as CSV with ',' between fields"
        )
    _refuse_values_as_header(header, who)
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
        if invisible_character(name) is not None:
            raise invisible_name_error(who, name)
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


_MAGIC: Final = (
    ((b"\xff\xfe", b"\xfe\xff"), "it is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8"),
    ((b"\x1f\x8b",), "it is gzip-compressed; name it .csv.gz"),
    ((b"PK\x03\x04",), "it is a zip archive (an .xlsx workbook is one too); name a zipped CSV .csv.zip, or "
     "save a workbook as CSV (UTF-8)"),
    ((b"BZh",), "it is bzip2-compressed; name it .csv.bz2"),
    ((b"\xfd7zXZ\x00",), "it is xz-compressed; name it .csv.xz"),
)  # fmt: skip
"""First bytes of what a file named `.csv` may really be, and the fix: Python's "'utf-8' codec can't decode
byte 0xff in position 0" said neither."""


def _written_as(file: Path) -> str | None:
    """What `file` is (`_MAGIC`) when its first bytes show it to be UTF-16 or compressed against its name,
    None otherwise (or when it cannot be read, or its name says it is compressed: its first bytes are the
    compression's, not the text's)."""
    if file.suffix.lower() in (".gz", ".bz2", ".zip", ".xz", ".zst", ".tar", ".tgz"):
        return None
    try:
        with open(file, "rb") as handle:
            head = handle.read(8)
    except OSError:
        return None
    return next((fix for marks, fix in _MAGIC if head.startswith(marks)), None)


_VALUE = re.compile(r"^\s*([+-]?(\d[\d,]*)?\.?\d+([eE][+-]?\d+)?|\d{4}-\d{2}-\d{2}([ T].*)?)\s*$")
"""A header name that is a value: a number (`1704067200000`, `42283.58`, `6,179.90`) or an ISO date."""


def _refuse_values_as_header(header: list[str], who: str) -> None:
    """DataError for a first row most of whose names are values (`_VALUE`) and none `date`: a file written
    without a header, as exchanges' candle dumps are. Loaded under another table name (`--table ohlcv`,
    which requires no columns) it became a table of columns `1704067200000`, `42283.58`, ... without its
    first row, exit 0; as `crypto_price` the refusal named a `:` in the column name `2024-01-01 00:00:00`."""
    if "date" in header or 2 * sum(bool(_VALUE.match(name)) for name in header) <= len(header):
        return
    shown = shown_names(header[:4]) + (", ..." if len(header) > 4 else "")
    raise DataError(
        f"{who}: its first row holds values, not column names ({shown}): a file without a header? add a "
        "first row naming the columns (date, ...)"
    )


def require_columns(header: list[str], required: tuple[str, ...], who: str) -> None:
    """DataError naming the first of `required` missing from `header`, and the columns there are."""
    for column in required:
        if column not in header:
            raise DataError(f"{who} has no column {column!r} (columns: {shown_names(header)})")


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
                        else "name every column or drop the extra values" + _decimal_comma_hint(row)
                    )
                    raise DataError(
                        f"{who}: line {reader.line_num} has {values} values, the header names {width} "
                        f"columns: {fix}"
                    )
    except READ_ERRORS as exc:  # not UTF-8, a file cut short
        raise unreadable(who, exc) from None


def _decimal_comma_hint(row: list[str]) -> str:
    """For a row of too many values whose numbers have no decimal point but are split in whole parts
    (`2024-01-01 00:00,1234,5,…`), a note that a decimal comma splits a value in two; "" otherwise."""
    if any("." in field for field in row) or not any(field.strip().isdigit() for field in row):
        return ""
    return " (a decimal comma splits a value in two: 1234,5 is read as 1234 and 5; write 1234.5)"


def _refuse_lost_value(who: str, line: int, width: int) -> None:
    """DataError for `line`, `width` fields whose last is empty, in a file whose other rows end with a
    comma: it is a row that lost a value (`…,low,volume,` would store the volume as the close), not a
    row whose last value is missing and that also lacks the comma; the two cannot be told apart."""
    raise DataError(
        f"{who}: line {line} has {width - 1} values and a comma ending it, as other rows do, but the "
        f"header names {width} columns: a value is missing (the later ones would move one column left)"
    )
