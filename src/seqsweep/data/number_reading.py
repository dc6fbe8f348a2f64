"""Numbers as the project reads them, on every path in (`ingest`'s one reading): `parse_numeric`,
`NumberReader`.

Values are read as float64. Numbers that arrive as text are parsed, thousands separators
included ("6,179.90" → 6179.9); a value that is not a number is refused, naming it, as are
infinities, a leading group of 0 ("0,500") and a column whose only grouped values are one comma and
three digits with no decimal point ("6,406": thousands separator or decimal comma?). A nonzero value
below float64's range (1e-400, which would read as 0) is refused; an integer beyond 2^53, whose last
digits float64 drops, is named in a warning (`float_range`).

Text in a spreadsheet's formats (`5%`, `$100`, `1.2M`) is refused with the fix `number_formats` names;
`MISSING_TEXT` is what reads as missing (`CSV_MISSING`: the same for `read_csv`), and `shown_value`
is how every message quotes a value. Every refusal is a `DataError` whose message is one line naming
the column and a bad value.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from seqsweep.data.float_range import Lost, inexact_warning, lost_values
from seqsweep.data.number_formats import number_fix
from seqsweep.errors import AmbiguousCommaError, DataError

logger = logging.getLogger(__name__)


MISSING_TEXT: Final = frozenset(
    {"", "nan", "NaN", "NAN", "-nan", "-NaN", "NA", "N/A", "n/a", "#N/A", "#N/A N/A", "#NA", "<NA>"}
    | {"null", "NULL", "None", "none", "1.#IND", "-1.#IND", "1.#QNAN", "-1.#QNAN"}
)
"""Text read as a missing number (NaN), not as a bad value, on every path in: in SQL text columns, and as
`read_csv`'s `na_values` (pandas' default list, `keep_default_na`, plus NAN and none), so that `#N/A` is
missing in a CSV and in a TEXT column alike."""


BOOLEAN_TEXT: Final = {"True": 1, "TRUE": 1, "true": 1, "False": 0, "FALSE": 0, "false": 0}
"""Text read as 1/0 in a value column: `read_csv`'s own `true_values`/`false_values`, which make a CSV chunk
that holds only these a bool column (1.0/0.0). Read alike in any chunk, mixed with numbers or not, and in
SQL text columns, so whether `True` is a number never depends on the chunk it falls in or on the path."""


CSV_MISSING: Final = {"keep_default_na": False, "na_values": sorted(MISSING_TEXT)}
"""`pd.read_csv` keywords that make a CSV's missing values exactly `MISSING_TEXT`."""


_GROUPED = re.compile(r"^[+-]?[1-9]\d{0,2}(,\d{3})+(\.\d*)?([eE][+-]?\d+)?$")
"""A number with comma thousands separators and an optional decimal point: 6,179.90 or 1,234,567.
Its leading group never starts with 0 ("0,500" is a decimal comma, not five hundred)."""


_ONE_GROUP = re.compile(r"^[+-]?[1-9]\d{0,2},\d{3}([eE][+-]?\d+)?$")
"""A grouped number that could as well be a decimal comma: 6,406 (6406 or 6.406?), 1,200E+03 (1.2e6
or 1.2e3?)."""


NUMBER_HINT: Final = "write plain numbers (6179.9) or thousands separators with a decimal point (6,179.90)"


MAX_SHOWN: Final = 40
"""The most characters of a value a message quotes whole (`shown_value`); a PostgreSQL NUMERIC of 1e400 filled
the line with its 401 digits."""


def shown_value(value: Any) -> str:
    """`value` as a message quotes it: text quoted, a whole float without its `.0`, and a text longer than
    `MAX_SHOWN` as its head and tail with its length between."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        shown = str(int(value))
    else:
        shown = repr(value) if isinstance(value, str) else str(value)
    if len(shown) <= MAX_SHOWN:
        return shown
    return f"{shown[:24]}…{shown[-8:]} ({len(shown)} characters)"


def _missing_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() in MISSING_TEXT


def _not_finite(column: str, values: pd.Series, finite: np.ndarray) -> DataError:
    bad = values[~finite].iloc[0]
    return DataError(f"column {column!r}: {shown_value(bad)} is not a finite number; {NUMBER_HINT}")


def _not_a_number(column: str, bad: object) -> DataError:
    """The refusal of `bad`, naming its fix when it is a number in a recognised form (`number_fix`: `5%`,
    `(12.5)`, `12.5 USD`, a decimal comma), else the generic `NUMBER_HINT`."""
    return DataError(
        f"column {column!r}: {shown_value(bad)} is not a number; {number_fix(bad) or NUMBER_HINT}"
    )


def _text_column(column: str, example: object) -> DataError:
    """The error for a value column most of whose values are text that is no number (a `ticker` or a
    `note` column): it names the column and two ways out, not a number format that cannot help."""
    bare = column.rsplit(".", 1)[-1]
    return DataError(
        f"column {column!r}: holds text, not numbers (e.g. {shown_value(example)}); drop the column from the "
        f"table or file, or leave it out of the build (dataset.exclude_columns: [{bare}])"
    )


def _durations(column: str, example: Any) -> DataError:
    return DataError(
        f"column {column!r}: holds durations (e.g. {example}), not numbers; store them as a number of "
        f"seconds (or minutes), or leave the column out with dataset.exclude_columns"
    )


@dataclass
class NumberReader:
    """Reads one value column, possibly in chunks: once a grouped value has shown the comma to be a
    thousands separator (1,234,567 or 6,179.90), later chunks' 6,406 are read as thousands too."""

    column: str
    """How the column is named in messages."""
    source: str = ""
    """Where the column comes from (a file name), for the log line."""
    thousands: bool = False
    """Whether a value has shown the comma to be a thousands separator."""
    undecided: Any = None
    """The first value like 6,406 (one comma, three digits) met before any value decided the comma: read
    as thousands meanwhile, refused by `finish` unless a later chunk shows it (1,234,567 or 6,179.90),
    so a column read in chunks is decided as the whole column read at once is."""
    pending: int = 0
    """How many values like 6,406 were read as thousands while the comma was undecided: logged once a
    value decides it (never for a column `finish` refuses, which would say "read as thousands" first)."""
    warned: bool = False
    """Whether integers beyond 2^53 read inexactly have been named (`note`: once per column)."""

    def __call__(self, values: pd.Series) -> pd.Series:
        """`values` (any dtype) → float64, same index; NULL, NaN and empty text → NaN.

        Raises DataError (one line) naming the column and a bad value.
        """
        column = self.column
        dtype = values.dtype
        if ptypes.is_datetime64_any_dtype(dtype):
            raise DataError(
                f"column {column!r}: holds dates, not numbers (e.g. {values.iloc[0]}); {NUMBER_HINT}"
            )
        if ptypes.is_timedelta64_dtype(dtype):
            raise _durations(column, values.iloc[0])
        if ptypes.is_bool_dtype(dtype):
            # a BOOLEAN column: SQLite and MariaDB hand over 0/1, PostgreSQL True/False; 1.0/0.0 on all
            return values.astype(np.float64)
        if ptypes.is_numeric_dtype(dtype):
            floats = values.astype(np.float64)
            finite = ~np.isinf(floats.to_numpy())
            if not finite.all():
                raise _not_finite(column, values, finite)
            return self._unchanged(values, floats)
        missing = values.isna() | values.map(_missing_text).astype(bool)
        present = values[~missing]
        numbers = pd.Series(np.nan, index=values.index, dtype=np.float64)
        if not len(present):
            return numbers
        durations = present.map(lambda v: isinstance(v, dt.timedelta | np.timedelta64))
        if durations.any():  # MariaDB's TIME, PostgreSQL's INTERVAL: pandas would give nanoseconds
            raise _durations(column, present[durations].iloc[0])
        binary = present.map(lambda v: isinstance(v, bytes | bytearray | memoryview))
        if binary.any():  # pandas would read b'12' as the text 12
            raise DataError(
                f"column {column!r}: holds binary values (a BLOB or BYTEA, e.g. {bytes(present[binary].iloc[0])[:16]!r}), "
                f"not numbers; {NUMBER_HINT}"
            )
        kinds_ok = present.map(lambda v: not isinstance(v, pd.Timestamp) and not hasattr(v, "year"))
        if not kinds_ok.all():
            bad = present[~kinds_ok].iloc[0]
            raise _not_a_number(column, bad)
        text = present.map(
            lambda v: (
                BOOLEAN_TEXT.get(v.strip(), v.strip())
                if isinstance(v, str)
                else int(v)
                if isinstance(v, bool | np.bool_)
                else v
            )
        )
        parsed = pd.to_numeric(text, errors="coerce").astype(np.float64)
        finite = ~np.isinf(parsed.to_numpy())
        if not finite.all():
            raise _not_finite(column, present, finite)
        failed = parsed.isna()
        if failed.any():
            grouped = text[failed].map(lambda v: isinstance(v, str) and bool(_GROUPED.match(v)))
            if not grouped.all():
                bad = present[failed][~grouped.to_numpy()].iloc[0]
                # a number with a unit (`12.5 USD`) is no word: its column is numbers to write plainly, not
                # text to drop from the features
                wordy = text[failed][~grouped.to_numpy()].map(
                    lambda v: sum(map(str.isalpha, str(v))) >= 2 and number_fix(v) is None
                )
                if 2 * int(wordy.sum()) > len(present):  # mostly words: a `ticker` or `note` column
                    raise _text_column(column, present[failed][~grouped.to_numpy()][wordy.to_numpy()].iloc[0])
                raise _not_a_number(column, bad)
            self._thousands_or_decimal_comma(text[failed], present[failed])
            parsed[failed] = text[failed].str.replace(",", "", regex=False).astype(np.float64)
            if not self.thousands:  # all like 6,406 so far: said once decided, or refused by `finish`
                self.pending += int(failed.sum())
            else:
                count, self.pending = int(failed.sum()) + self.pending, 0
                logger.info(
                    "%scolumn %s: %d %s read as numbers with thousands separators (e.g. %r → %s)",
                    f"{self.source}: " if self.source else "", column, count,
                    "value" if count == 1 else "values", present[failed].iloc[0], parsed[failed].iloc[0],
                )  # fmt: skip
        numbers[present.index] = self._unchanged(present, pd.Series(parsed.to_numpy(), index=present.index))
        return numbers

    def _unchanged(self, original: pd.Series, read: pd.Series) -> pd.Series:
        """`read`, after `note` of what its float64 reading changed of `original` as written."""
        self.note(lost_values(self.column, original, read))
        return read

    def note(self, lost: Lost) -> None:
        """Acts on what reading values of this column as float64 changed (`float_range`): DataError (one line:
        column, row, value) for a nonzero value read as 0 (`1e-400`); a warning, once per column, naming the
        integers beyond 2^53 whose last digits were dropped."""
        if lost.refusal is not None:
            raise DataError(lost.refusal)
        warning = inexact_warning(lost)
        if warning is not None and not self.warned:
            self.warned = True
            logger.warning("%s%s", f"{self.source}: " if self.source else "", warning)

    def _thousands_or_decimal_comma(self, grouped: pd.Series, original: pd.Series) -> None:
        """Notes grouped values that are all one comma and three digits (6,406): 6406 or 6.406? Until a
        value decides it, `finish` refuses the column."""
        if not self.thousands:
            one_group = grouped.str.fullmatch(_ONE_GROUP.pattern).to_numpy(dtype=bool)
            if one_group.all():
                if self.undecided is None:
                    self.undecided = original.iloc[0]
                return
            self.thousands, self.undecided = True, None

    def finish(self) -> None:
        """DataError (one line) when the column's every grouped value, over all its chunks, was like 6,406."""
        if self.undecided is not None and not self.thousands:
            raise AmbiguousCommaError(
                f"column {self.column!r}: the comma in {shown_value(self.undecided)} is ambiguous "
                f"(thousands separator or decimal comma); write plain numbers (6406 or 6.406)"
            )


def parse_numeric(values: pd.Series, column: str, *, source: str = "", thousands: bool = False) -> pd.Series:
    """One value column → float64, same index; NULL, NaN and empty text become NaN (masked later).

    Text is parsed as a number, with comma thousands separators allowed ("6,179.90" → 6179.9);
    Decimal, integer and true/false values (a BOOLEAN column, 1.0/0.0 on every database, or the text
    `BOOLEAN_TEXT`) become floats. Raises DataError naming `column` and the first bad value (text that is not a number, an
    infinity, a date, a duration (MariaDB's TIME, PostgreSQL's INTERVAL), a leading group of 0 as in
    "0,500", or a column whose grouped values are all like "6,406": thousands or decimal comma?).
    `source` (a file name) prefixes the log. `thousands`: the comma is already known to separate
    thousands (the column's other rows show it), so values like "6,406" are read as thousands. For a
    column read in chunks, keep one `NumberReader`.
    """
    reader = NumberReader(column, source=source, thousands=thousands)
    numbers = reader(values)
    reader.finish()
    return numbers
