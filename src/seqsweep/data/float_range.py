"""Values that float64 cannot hold as written, found so that a reading never changes one without a word.

Every value column is read as float64 (`number_reading.NumberReader`). Two kinds of value change there:

- a nonzero value below float64's range (`1e-400`; the smallest float64 is about 4.9e-324) reads as 0.0.
  That is no rounding but another value (a ratio, a log, a sign test of it all change): it is REFUSED.
- an integer beyond 2^53 (9007199254740993) reads as the nearest float64 (9007199254740992), its last
  digits dropped. The relative change is below 2^-53, the rounding every decimal fraction (0.1) gets, and
  such columns are common and legitimate (Aave's indices are integers in units of 1e-27): it is NAMED, one
  warning per column (how many, the first one's row, value and reading), never refused.

The rule looks at what was written: text (or an exact number, an integer or a `Decimal`) that is nonzero
but reads as 0.0 is refused; a value float64 holds (1e-12, a subnormal 1e-310, 0, -0.0, 0e5) is kept as it
is. A CSV reader types a column of numbers as floats, its text gone: the columns holding a candidate (a
0.0, or a magnitude of 2^53 or more: `parsed_with_candidates`) are read again as text to tell
(`lost_in_text`). Features are scaled in float64 before they are stored as float32 (`build`), so a raw
value that float32 alone could not hold is no loss there.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

EXACT_INTEGERS: Final = 2**53
"""Every integer of magnitude up to this is a float64; beyond it, some are not (2^53 + 1)."""
_INTEGER_TEXT = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})*$|^[+-]?\d+$")
"""An integer written with all its digits (thousands separators allowed)."""
_NONZERO_MANTISSA = re.compile(r"^[^eE]*[1-9]")
"""Text whose digits before any exponent are not all 0: a nonzero number."""


@dataclass(frozen=True)
class Lost:
    """What a column's float64 reading changed: `refusal`, the one-line refusal of a nonzero value read as 0
    (None when there is none); `inexact`, how many integers lost digits, and `example`, the first one's
    `column, row N: value → reading` (for `inexact_warning`)."""

    refusal: str | None = None
    inexact: int = 0
    example: str = ""

    def __add__(self, other: Lost) -> Lost:
        return Lost(
            self.refusal or other.refusal, self.inexact + other.inexact, self.example or other.example
        )


def inexact_warning(lost: Lost) -> str | None:
    """The warning line naming `lost`'s integers read inexactly (count, the first one's column, row, value
    and reading), None when there are none."""
    if not lost.inexact:
        return None
    count = "an integer" if lost.inexact == 1 else f"{lost.inexact} integers"
    return (
        f"{lost.example}: {count} beyond 2^53 read as the nearest float64, which drops the last digits "
        "(a relative change below 1e-16); store the column in a larger unit if its values must be exact"
    )


def _row(label: Any, position: int) -> int:
    """A value's row number in the whole input (a chunk keeps the file's row numbers in its index)."""
    return int(label) + 1 if isinstance(label, int | np.integer) else position + 1


def _written(value: Any) -> tuple[bool, int | None, str] | None:
    """`value` as written: (nonzero?, its integer value if written as an integer, its text); None for a
    value that is not text, an integer or a finite `Decimal` (a float holds what it holds)."""
    if isinstance(value, str):
        text = value.strip()
        whole = int(text.replace(",", "")) if _INTEGER_TEXT.match(text) else None
        return bool(_NONZERO_MANTISSA.match(text)), whole, repr(text)
    if isinstance(value, decimal.Decimal) and value.is_finite():
        whole = int(value) if value == value.to_integral_value() else None
        return value != 0, whole, repr(str(value))
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return value != 0, int(value), str(int(value))
    return None


def _candidates(numbers: np.ndarray) -> np.ndarray:
    """Positions of `numbers` (float64) that may have lost a value as written: a 0.0, or a magnitude of 2^53
    or more."""
    with np.errstate(invalid="ignore"):
        return np.flatnonzero((numbers == 0.0) | (np.abs(numbers) >= EXACT_INTEGERS))


def lost_values(column: str, original: pd.Series, read: pd.Series) -> Lost:
    """What reading `original` (values as written, any dtype, same index as `read`) as the float64 `read`
    changed (module docstring): the refusal of the first nonzero value read as 0 (one line: column, row,
    value, fix), and the integers that lost digits. Only candidates are looked at (a 0.0, or a magnitude of
    2^53 or more), so a column is cheap."""
    if ptypes.is_float_dtype(original.dtype) or ptypes.is_bool_dtype(original.dtype):
        return Lost()  # already floats: their text, if any, is gone (`parsed_with_candidates`)
    numbers = read.to_numpy(np.float64)
    candidates = _candidates(numbers)
    if ptypes.is_integer_dtype(original.dtype):  # no integer underflows: its zeros are zeros
        candidates = candidates[numbers[candidates] != 0.0]
    inexact, example = 0, ""
    for position in candidates:
        written = _written(original.iloc[position])
        if written is None:
            continue
        nonzero, whole, text = written
        where = f"column {column!r}, row {_row(original.index[position], int(position))}"
        value = float(numbers[position])
        if value == 0.0 and nonzero:
            return Lost(
                f"{where}: {text} is nonzero but below the smallest float64 (about 4.9e-324), so it would "
                "read as 0; write 0 if it is zero, or store the column in a larger unit",
                inexact,
                example,
            )
        if whole is not None and value != 0.0 and int(value) != whole:  # 2^60 is a float64: nothing lost
            inexact += 1
            example = example or f"{where}: {whole} → {value!r}"
    return Lost(None, inexact, example)


def parsed_with_candidates(frame: pd.DataFrame) -> set[str]:
    """The float columns of `frame` (as a CSV reader typed them, the text gone) holding a value that may
    have lost what was written (`_candidates`): their text must be read again to tell (`lost_in_text`)."""
    return {
        str(name)
        for name in frame.columns
        if ptypes.is_float_dtype(frame[name].dtype) and len(_candidates(frame[name].to_numpy(np.float64)))
    }


def lost_in_text(chunks: Iterable[pd.DataFrame], labels: Mapping[str, str]) -> dict[str, Lost]:
    """`lost_values` of CSV columns read again as text (`chunks`, read with `dtype=str`, each keeping the
    file's row numbers in its index), against the float64 each value reads as, per column; it stops at the
    first refusal. `labels`: each column of the chunks → its name in messages."""
    found = {column: Lost() for column in labels}
    for chunk in chunks:
        for column, label in labels.items():
            text = chunk[column]
            read = pd.to_numeric(text.str.strip(), errors="coerce").astype(np.float64)
            found[column] += lost_values(label, text, read)
            if found[column].refusal is not None:
                return found
    return found
