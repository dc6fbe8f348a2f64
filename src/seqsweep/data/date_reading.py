"""Dates as the project reads them, on every path in (`ingest`'s one reading): `parse_dates`, `DateReader`.

Dates are read as naive UTC `datetime64[ns]`. Text stamps with an offset or `Z` are converted to UTC
(mixed offsets included), text without one is taken as UTC; a column holding both is refused. Integer
(or integral float) epoch times are read in their unit, s, ms, µs or ns, decided once per column from the magnitude
(the unit whose 1971–2200 window holds the first value, and then must hold every value) and
stated in the log. A value that fits no unit (e.g. 20240101) or a column mixing units is refused.
Text that is not ISO 8601 (31/01/2024 13:00, 01/31/2024 01:00 PM) is read with ONE format for the
whole column; a column that fits both a day-first and a month-first format (every day ≤ 12), or
that fits no single format (ISO mixed with dd/mm), is refused rather than guessed row by row.

The epoch units, and the window that decides a value's, are in `epoch_times`. Every refusal is a
`DataError` whose message is one line naming the column and a bad value.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import re
import warnings
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from pandas.tseries.api import guess_datetime_format

from seqsweep.data.epoch_times import (
    EPOCH_EARLIEST,
    EPOCH_LATEST,
    EPOCH_UNITS,
    UNIT_NAMES,
    epoch_unit_of,
    epoch_window,
)
from seqsweep.data.number_reading import shown_value
from seqsweep.errors import AmbiguousDateError, DataError

logger = logging.getLogger(__name__)


ISO: Final = "ISO8601"


_DAY_MONTH_ORDERS: Final = ("%d{0}%m{0}%Y", "%m{0}%d{0}%Y")


_TIMES: Final = ("", " %H:%M", " %H:%M:%S", " %H:%M:%S.%f", " %I:%M %p", " %I:%M:%S %p")


TEXT_DATE_FORMATS: Final[tuple[str, ...]] = tuple(
    date + time
    for date in [o.format(sep) for sep in "/.-" for o in _DAY_MONTH_ORDERS]
    + ["%Y/%m/%d", "%Y.%m.%d", "%Y-%m-%d"]
    for time in _TIMES
)
"""The non-ISO formats a text date column may be written in (with the formats `pandas` guesses from
its first value); the column is read with the one that fits every value."""


DATE_HINT: Final = "write ISO dates such as 2024-01-01 00:00:00 (an offset or Z is converted to UTC)"


_WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


_WEEKDAY = re.compile(rf"\b({'|'.join(_WEEKDAYS)})[a-z]*\b", re.IGNORECASE)
"""A weekday name in a text date (`Mon, 01 Jan 2024`, `Monday 2024-01-01`): its first three letters."""


_LEAP_SECOND = re.compile(r"\d:[0-5]\d:60(?!\d)")
"""A leap second (`23:59:60`), which pandas reads as the next minute's first second."""


_DIGITS = re.compile(r"^[+-]?\d+(\.\d*)?$")


def _epoch_number(value: Any) -> int | float | None:
    """An epoch candidate as a number (digit text included), None for anything else."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    if isinstance(value, decimal.Decimal):  # a DECIMAL/NUMERIC column on MariaDB and PostgreSQL
        return int(value) if value.is_finite() and value == value.to_integral_value() else float(value)
    if isinstance(value, str) and _DIGITS.match(value.strip()):
        text = value.strip()
        return int(text) if text.lstrip("+-").isdigit() else float(text)
    return None


COMPACT_DATE_FORMATS: Final = {
    10: ("%Y%m%d%H", "%y%m%d%H%M", "%d%m%Y%H", "%m%d%Y%H", "%d%m%y%H%M", "%m%d%y%H%M"),
    12: ("%Y%m%d%H%M", "%y%m%d%H%M%S", "%d%m%Y%H%M", "%m%d%Y%H%M", "%d%m%y%H%M%S", "%m%d%y%H%M%S"),
}
"""Digit counts at which a calendar date written without separators is also an epoch time between 1971
and 2200, with the layouts that give them, year first, day first or month first: 2024010113,
2401011300 (YYMMDDHHMM) and 1301202400 (DDMMYYYYHH) read as seconds (2034-02-20, 2046-01-31,
2011-03-27), 202401011300, 240101130000 (YYMMDDHHMMSS) and 041320240000 (MMDDYYYYHHMM) as
milliseconds (1976-05-31, 1977-08-10, 1971-04-24). Other counts never fall in that range in any unit
(8 digits, 20240113 or 13012024, lie before 1971 in seconds; 14, 31122024235959, before it in µs)."""


def _refuse_compact_calendar_dates(column: str, values: np.ndarray) -> None:
    """DataError if every value of `values` (whole numbers) reads as a compact calendar date of one of
    `COMPACT_DATE_FORMATS`: 2024010100 as an epoch would store 2024 data as 2034. Real epoch columns
    fail this at their first value or soon after (1704067200 has month 06, day 72)."""
    if not len(values) or not np.array_equal(values, np.round(values)):
        return
    digits = {len(str(int(v))) for v in values[: min(len(values), 10_000)]}
    # a day or month below 10 written first loses its leading zero as a number (0413202400 is 413202400)
    width = next((w for w in (max(digits), max(digits) + 1) if w in COMPACT_DATE_FORMATS), None)
    if width is None or not digits <= {width, width - 1}:
        return
    formats = COMPACT_DATE_FORMATS[width]
    text = pd.Series(values.astype(np.int64)).astype(str).str.zfill(width)
    for fmt in formats:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        # a calendar reading in years no market data has (1704067200 as day-first is the year 672) is none
        if not (parsed.notna().all() and parsed.dt.year.between(1900, 2200).all()):
            continue
        raise DataError(
            f"column {column!r}: {text.iloc[0]} reads as the date {parsed.iloc[0]} written without separators "
            f"({fmt}) as well as an epoch time; {DATE_HINT}"
        )


EXCEL_DAY_ZERO: Final = pd.Timestamp("1899-12-30")
"""Day 0 of a spreadsheet's serial dates (Excel, LibreOffice): 45292 is 2024-01-01."""


EXCEL_DAYS: Final = (25569, 73051)
"""Serial day numbers from 1970 to 2100, which a date column saved from a spreadsheet as numbers holds."""


JULIAN_DAY_OF_EPOCH: Final = 2440587.5
"""The Julian day number of 1970-01-01 00:00 UTC (Julian days start at noon; SQLite's `julianday()`)."""


JULIAN_DAYS: Final = (2440587.5, 2524593.5)
"""Julian day numbers from 1970 to 2200, which a date column written with SQLite's `julianday()` holds."""


def _day_number(value: float) -> str:
    """What a number that is no epoch time may be, for the refusal: ` (a spreadsheet's serial day number
    for 2024-01-01?)` for a number in `EXCEL_DAYS`, ` (a Julian day number for 2024-01-01?)` for one in
    `JULIAN_DAYS`, else ''. The two ranges do not overlap."""
    if EXCEL_DAYS[0] <= value < EXCEL_DAYS[1]:
        day = (EXCEL_DAY_ZERO + pd.Timedelta(days=float(value))).round("s")
        return f" (a spreadsheet's serial day number for {day}? save the column as dates, not numbers)"
    if JULIAN_DAYS[0] <= value < JULIAN_DAYS[1]:
        day = (pd.Timestamp(0) + pd.Timedelta(days=float(value) - JULIAN_DAY_OF_EPOCH)).round("s")
        return f" (a Julian day number for {day}, as SQLite's julianday() writes?)"
    return ""


@dataclass
class DateReader:
    """Reads one date column, possibly in chunks: the epoch unit and the kind (epoch numbers or
    date text) are decided on the first values seen and then hold for every later chunk."""

    column: str
    """How the column is named in messages (e.g. `date` or `crypto_price.csv: date`)."""
    epoch_unit: str | None = None
    kind: str | None = None
    """'epoch' or 'text' once decided."""
    source: str = ""
    """Where the column comes from (a file name), for the log line."""
    text_formats: tuple[str, ...] | None = None
    """The formats (ISO8601 or strptime) that fit every text date read so far; later chunks keep to them."""
    settle: bool = False
    """Read the whole column before deciding its day/month order: a chunk that both orders fit, reading
    it differently, is noted (`ambiguous`) rather than refused, later chunks narrow `text_formats`, and
    `settled` gives the order (or refuses). Its readings until then are not to be kept."""
    ambiguous: Any = None
    """With `settle`: the first value two fitting formats read differently."""
    told: bool = False
    """Whether the text format read has been logged (once per column; never for a `settle` read)."""
    with_offset: Any = None
    without_offset: Any = None
    """The first ISO text date read with a UTC offset (or `Z`) and the first without one: a column holding
    both is refused (`_note_offsets`), in one chunk or across chunks."""

    def __call__(self, values: pd.Series) -> pd.Series:
        """`values` (any dtype) → naive UTC datetime64[ns], same index. Raises DataError (one line),
        also for a date outside what datetime64[ns] holds (1677-09-21 to 2262-04-11)."""
        try:
            return self._read(values)
        except pd.errors.OutOfBoundsDatetime as exc:
            raise DataError(
                f"column {self.column!r}: {' '.join(str(exc).split())[:120]}: dates must lie between "
                f"{pd.Timestamp.min:%Y-%m-%d} and {pd.Timestamp.max:%Y-%m-%d} (a placeholder such as "
                "9999-12-31?); fix or drop the row"
            ) from None

    def _read(self, values: pd.Series) -> pd.Series:
        if ptypes.is_datetime64_any_dtype(values.dtype):
            out = values
            if isinstance(values.dtype, pd.DatetimeTZDtype):
                out = values.dt.tz_convert("UTC").dt.tz_localize(None)
            return self._no_missing(values, out.astype("datetime64[ns]"))
        if ptypes.is_bool_dtype(values.dtype):
            raise DataError(f"column {self.column!r}: holds true/false values, not dates; {DATE_HINT}")
        first = values.dropna().iloc[0] if values.notna().any() else None
        if ptypes.is_timedelta64_dtype(values.dtype) or isinstance(first, (dt.timedelta, dt.time)):
            # PostgreSQL INTERVAL / TIME, MariaDB TIME: an hour of a day, or a length of time, is no date
            raise DataError(
                f"column {self.column!r}: holds durations or times of day (e.g. {shown_value(first)}), not dates; "
                f"{DATE_HINT}"
            )
        if ptypes.is_numeric_dtype(values.dtype):
            return self._epoch(values, values)
        if values.isna().any():
            return self._no_missing(values, values)
        text_dtype = ptypes.is_string_dtype(values.dtype) and not ptypes.is_object_dtype(values.dtype)
        # all text (pandas' str dtype): one vectorised look for digits-only values
        if text_dtype and not values.str.strip().str.fullmatch(_DIGITS.pattern).any():
            return self._text(values)
        numbers = values.map(_epoch_number)
        is_number = numbers.notna()
        if len(values) and is_number.all():
            return self._epoch(values, pd.to_numeric(numbers))
        if is_number.any():
            example, other = values[is_number].iloc[0], values[~is_number].iloc[0]
            raise DataError(
                f"column {self.column!r}: mixes epoch numbers and dates ({shown_value(example)} and {shown_value(other)}); "
                f"{DATE_HINT}"
            )
        return self._text(values)

    def _no_missing(self, original: pd.Series, parsed: pd.Series) -> pd.Series:
        """`parsed`, or DataError naming the first row without a date by its number in the whole input:
        a chunk of a file read in parts (`load-csv --chunk-rows`) keeps the file's row numbers in its
        index (the 16th row is not "row 4 of 4" of the fourth chunk)."""
        if parsed.isna().any():
            position = int(np.argmax(parsed.isna().to_numpy()))
            label = parsed.index[position]
            number = int(label) + 1 if isinstance(label, int | np.integer) else position + 1
            raise DataError(
                f"column {self.column!r}: a row has no date (row {number}, the header not counted); "
                "fill it or drop the row"
            )
        return parsed

    def _decide(self, kind: str, example: Any) -> None:
        if self.kind is not None and self.kind != kind:
            raise DataError(
                f"column {self.column!r}: mixes epoch numbers and date text across the file "
                f"(e.g. {shown_value(example)}); {DATE_HINT}"
            )
        self.kind = kind

    def _epoch(self, original: pd.Series, numbers: pd.Series) -> pd.Series:
        if numbers.isna().any():
            return self._no_missing(original, numbers)
        if not len(numbers):
            return pd.Series(pd.to_datetime(numbers.astype(np.int64)), index=numbers.index).astype(
                "datetime64[ns]"
            )
        array = numbers.to_numpy()
        as_float = array.astype(np.float64)
        if not np.isfinite(as_float).all():
            bad = array[~np.isfinite(as_float)][0]
            raise DataError(f"column {self.column!r}: {shown_value(bad)} is not a date; {DATE_HINT}")
        self._decide("epoch", array[0])
        first = self.epoch_unit is None
        if first:
            unit = epoch_unit_of(float(as_float[0]))
            if unit is None:
                raise DataError(
                    f"column {self.column!r}: {shown_value(array[0])} is not an epoch time in s, ms, µs or ns "
                    f"between {EPOCH_EARLIEST.year} and {EPOCH_LATEST.year}{_day_number(as_float[0])}; {DATE_HINT}"
                )
            _refuse_compact_calendar_dates(self.column, as_float)
            self.epoch_unit = unit
        unit = self.epoch_unit
        assert unit is not None
        factor = dict(EPOCH_UNITS)[unit]
        low, high = epoch_window(factor)
        outside = (as_float < low) | (as_float >= high)
        if outside.any():
            bad = array[outside][0]
            fits = epoch_unit_of(float(bad))
            decided = f"{shown_value(array[0]) if first else 'earlier rows'} in {UNIT_NAMES[unit]}"
            if fits is None:  # a placeholder (0, -1) or a NaN is no time in any unit, not another unit
                raise DataError(
                    f"column {self.column!r}: {shown_value(bad)} is not an epoch time in any unit between "
                    f"{EPOCH_EARLIEST.year} and {EPOCH_LATEST.year} (the column reads {decided}); {DATE_HINT}"
                )
            raise DataError(
                f"column {self.column!r}: mixes epoch units ({decided}, {shown_value(bad)} in {UNIT_NAMES[fits]}); "
                f"one column holds one unit, or {DATE_HINT}"
            )
        if ptypes.is_integer_dtype(array.dtype) or np.array_equal(as_float, np.round(as_float)):
            whole = (
                array.astype(np.int64) if ptypes.is_integer_dtype(array.dtype) else as_float.astype(np.int64)
            )
            stamps = pd.Series(whole * np.int64(factor), index=numbers.index).astype("datetime64[ns]")
        else:
            # A fraction goes through float64, which holds an epoch in s, ms or µs to about 0.25 µs:
            # 1704067200.123 s is 00:00:00.122999907. Rounded to the microsecond (what the databases keep)
            # it is the instant written, and joins the same time written as text.
            stamps = pd.Series(pd.to_datetime(as_float, unit=unit), index=numbers.index).astype(
                "datetime64[ns]"
            )
            if unit != "ns":
                stamps = stamps.dt.round("us")
        if first:
            logger.info(
                "%scolumn %s: epoch dates read in %s (decided from the magnitude: %s = %s)",
                f"{self.source}: " if self.source else "",
                self.column, UNIT_NAMES[unit], shown_value(array[0]), stamps.iloc[0],
            )  # fmt: skip
        return stamps

    def _text(self, values: pd.Series) -> pd.Series:
        present = values[values.notna()]
        if len(present):
            self._decide("text", present.iloc[0])
        if ptypes.is_object_dtype(values.dtype):
            strings = values.map(lambda v: v.strip() if isinstance(v, str) else v)
        else:
            strings = values.str.strip()
        if not len(strings):
            return (
                pd.Series(pd.to_datetime(strings, utc=True, format=ISO), index=values.index)
                .dt.tz_localize(None)
                .astype("datetime64[ns]")
            )
        parsed = self._one_format(strings, values)
        _refuse_misread_text(
            self.column, strings, values, parsed, zoned="%z" in (self.text_formats or ("",))[0]
        )
        out = pd.Series(parsed, index=values.index).dt.tz_localize(None).astype("datetime64[ns]")
        return self._no_missing(values, out)

    def _one_format(self, strings: pd.Series, values: pd.Series) -> pd.Series:
        """`strings` parsed with the one format that fits every value (ISO 8601 first), as UTC."""
        candidates = self.text_formats
        if candidates is None or ISO in candidates:
            parsed = self._iso(strings, values)
            if parsed is not None:
                self.text_formats = (ISO,)
                return parsed
        if candidates is None:
            candidates = _formats_for(strings.iloc[0])
            if not candidates:
                raise DataError(
                    f"column {self.column!r}: {shown_value(values.iloc[0])} is not a date; {DATE_HINT}"
                )
        fitting: dict[str, pd.Series] = {}
        for fmt in candidates:
            if fmt == ISO:
                continue
            try:
                fitting[fmt] = pd.to_datetime(strings, utc=True, format=fmt)
            except (ValueError, TypeError, OverflowError):
                continue
        if not fitting:
            raise DataError(self._mixed_formats(strings, values, candidates)) from None
        readings = list(fitting.values())
        differs = np.zeros(len(strings), dtype=bool)
        for other in readings[1:]:
            differs |= (other != readings[0]).to_numpy()
        if differs.any():
            if not self.settle:
                raise self._ambiguous(values[differs].iloc[0], tuple(fitting))
            if self.ambiguous is None:
                self.ambiguous = strings[differs].iloc[0]
        self.text_formats = tuple(fitting)
        if not self.settle and not self.told:
            self.told = True
            logger.info(
                "%scolumn %s: text dates read in format %s (%s = %s)",
                f"{self.source}: " if self.source else "",
                self.column, " or ".join(fitting), shown_value(values.iloc[0]), readings[0].iloc[0].tz_localize(None),
            )  # fmt: skip
        return readings[0]

    def _iso(self, strings: pd.Series, values: pd.Series) -> pd.Series | None:
        """`strings` read as ISO 8601, as UTC (an offset converted, text without one taken as UTC); None when
        one is not ISO. Raises DataError for a column some of whose dates carry an offset and some not
        (`_note_offsets`)."""
        try:
            # read as written first: one offset throughout (or none) gives one dtype, which says which it is
            parsed = pd.to_datetime(strings, format=ISO)
        except (ValueError, TypeError, OverflowError):
            try:  # several offsets, or offsets beside none: tell them apart value by value
                parsed = pd.to_datetime(strings, utc=True, format=ISO)
            except (ValueError, TypeError, OverflowError):
                return None
            self._note_offsets(values, _has_offset(strings))
            return parsed
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):
            self._note_offsets(values, np.ones(len(values), dtype=bool))
            return parsed.dt.tz_convert("UTC")
        self._note_offsets(values, np.zeros(len(values), dtype=bool))
        return parsed.dt.tz_localize("UTC")

    def _note_offsets(self, values: pd.Series, offset: np.ndarray) -> None:
        """Notes which of `values` carry a UTC offset (`offset`); DataError (one line, an example of each)
        once the column holds dates with an offset and dates without: those without were taken as UTC,
        which a writer that marks some times with their offset does not say they are (a local time, an
        hour or two off, read without a word)."""
        if self.with_offset is None and offset.any():
            self.with_offset = values[offset].iloc[0]
        if self.without_offset is None and not offset.all():
            self.without_offset = values[~offset].iloc[0]
        if self.with_offset is not None and self.without_offset is not None:
            raise DataError(
                f"column {self.column!r}: mixes dates with a UTC offset and dates without one "
                f"({shown_value(self.with_offset)} and {shown_value(self.without_offset)}), which would be taken as UTC "
                "whatever zone they were written in; write every date with its offset (or Z), or every one "
                "in UTC without one"
            )

    def settled(self) -> tuple[str, ...] | None:
        """After a `settle` read of every chunk: the formats that fit every text date of the column (None
        for epoch numbers). Raises AmbiguousDateError when two of them read a value differently."""
        formats = self.text_formats
        if formats is not None and len(formats) > 1 and self.ambiguous is not None:
            readings = {pd.to_datetime(self.ambiguous, utc=True, format=fmt) for fmt in formats}
            if len(readings) > 1:
                raise self._ambiguous(self.ambiguous, formats)
        return formats

    def _ambiguous(self, example: Any, formats: tuple[str, ...]) -> AmbiguousDateError:
        return AmbiguousDateError(
            f"column {self.column!r}: {shown_value(example)} is ambiguous, day-first and month-first formats "
            f"both fit every value ({' and '.join(formats[:2])}); {DATE_HINT}"
        )

    def _mixed_formats(self, strings: pd.Series, values: pd.Series, candidates: tuple[str, ...]) -> str:
        """The refusal for text that no single format fits: a value no format reads, or two formats."""
        best: pd.Series | None = None
        for fmt in candidates:
            attempt = pd.to_datetime(strings, utc=True, format=fmt, errors="coerce")
            if best is None or attempt.notna().sum() > best.notna().sum():
                best = attempt
        if best is None or not best.notna().any():
            if self.text_formats is not None and _formats_for(strings.iloc[0]):
                # earlier chunks decided the format: this one is a date written another way, not no date
                return (
                    f"column {self.column!r}: mixes date formats (earlier rows in {' or '.join(self.text_formats)}, "
                    f"{shown_value(values.iloc[0])} written another way); one column holds one format, or {DATE_HINT}"
                )
            return f"column {self.column!r}: {shown_value(values.iloc[0])} is not a date; {DATE_HINT}"
        ok, bad = values[best.notna().to_numpy()].iloc[0], values[best.isna().to_numpy()].iloc[0]
        bad_text = strings[best.isna().to_numpy()].iloc[0]
        if not _formats_for(bad_text):
            return f"column {self.column!r}: {shown_value(bad)} is not a date; {DATE_HINT}"
        return (
            f"column {self.column!r}: mixes date formats ({shown_value(ok)} and {shown_value(bad)}); one column holds "
            f"one format, or {DATE_HINT}"
        )


def _refuse_misread_text(
    column: str, strings: pd.Series, values: pd.Series, parsed: pd.Series, *, zoned: bool
) -> None:
    """DataError for text dates that their format reads as another instant than they write: a weekday
    name the date does not fall on (strptime ignores `%a`, and pandas' guess may keep `Tue` as a literal:
    `Tue, 01 Jan 2024` read as Monday 1 January), and a leap second (`23:59:60` read as 00:00:00 of the
    next day, on the next row's time). `zoned`: the format reads an offset (`%z`), so the weekday is the
    one of the local date, UTC plus the written offset."""
    text = strings.astype(str)
    # substring scans of the whole column first (a row-wise regex doubled a 360,000-row parse): most
    # columns hold neither a weekday name nor ":60"
    joined = "\n".join(text.tolist()).lower()
    if ":60" not in joined and not any(day in joined for day in _WEEKDAYS):
        return
    leap = text.str.contains(_LEAP_SECOND, na=False).to_numpy() & strings.notna().to_numpy()
    if leap.any():
        raise DataError(
            f"column {column!r}: {shown_value(values[leap].iloc[0])} is a leap second, which would be read as the "
            f"next second; write it as :59 or drop the row"
        )
    named = text.str.extract(_WEEKDAY, expand=False).str[:3].str.lower()
    has_name = named.notna().to_numpy() & parsed.notna().to_numpy()
    if not has_name.any():
        return
    local = pd.Series(parsed.dt.tz_localize(None).to_numpy()[has_name])
    if zoned:
        offset = text[has_name].str.extract(r"([+-])(\d{2}):?(\d{2})\s*$").to_numpy()
        sign = np.where(offset[:, 0] == "-", -1, 1)
        minutes = pd.to_numeric(pd.Series(offset[:, 1])).fillna(0) * 60 + pd.to_numeric(
            pd.Series(offset[:, 2])
        ).fillna(0)
        local = local + pd.to_timedelta(sign * minutes.to_numpy(), unit="min")
    falls_on = local.dt.strftime("%a").str.lower().to_numpy()
    wrong = named.to_numpy()[has_name] != falls_on
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        raise DataError(
            f"column {column!r}: {shown_value(values[has_name].iloc[i])} names a weekday the date does not fall on "
            f"({local.iloc[i].strftime('%A %Y-%m-%d')}); {DATE_HINT}"
        )


OFFSET_PATTERN: Final = r"(?i)(?:\d:\d\d|T\d\d)(?::\d\d)?(?:[.,]\d+)?\s*(?:Z|UTC|GMT|[+-]\d\d(?::?\d\d)?)$"
"""A time followed by a UTC offset or zone designator, ending the text: `00:00+02:00`, `00:00:00.5-0500`,
`T00Z`, `00:00:00 UTC`. A date alone (`2024-01-01`) ends in no offset."""


def _has_offset(strings: pd.Series) -> np.ndarray:
    """Which of `strings` end in a UTC offset (`OFFSET_PATTERN`), matched by Arrow's regular expressions
    over the whole column at once (Python's, value by value, took 2 s on 360,000 dates)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(strings.astype(str).to_numpy(dtype=object), type=pa.string())
    return np.asarray(
        pc.match_substring_regex(text, OFFSET_PATTERN).to_numpy(zero_copy_only=False), dtype=bool
    )


def _swap_day_month(fmt: str) -> str:
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def _formats_for(first: Any) -> tuple[str, ...]:
    """The formats that read `first`, the first value of a text date column: ISO 8601, the pandas
    guesses for it, and `TEXT_DATE_FORMATS`; every format with both a day and a month comes with its
    day/month swap, so that a column fitting both orders is seen to be ambiguous. Empty if none."""
    formats: list[str] = [ISO]
    if isinstance(first, str):
        for dayfirst in (False, True):
            with warnings.catch_warnings():  # "Parsing dates in %d.%m.%Y format when dayfirst=False"
                warnings.simplefilter("ignore", UserWarning)
                guess = guess_datetime_format(first, dayfirst=dayfirst)
            if guess:
                formats.append(guess)
    formats.extend(TEXT_DATE_FORMATS)
    out: list[str] = []
    for fmt in formats:
        both = [fmt, _swap_day_month(fmt)] if "%d" in fmt and "%m" in fmt else [fmt]
        for one in both:
            if one not in out and not re.search(r"%Y\W?%d", one):  # no year-day-month
                out.append(one)
    readable = []
    for fmt in out:
        try:
            pd.to_datetime(pd.Series([first]), utc=True, format=fmt)
        except (ValueError, TypeError, OverflowError):
            continue
        readable.append(fmt)
    return tuple(readable)


def parse_dates(values: pd.Series, column: str) -> pd.Series:
    """One date column (text, datetimes, or epoch numbers) → naive UTC datetime64[ns], same index.

    Raises DataError naming `column` and a bad value: text that is no date, an epoch number in no
    unit between 1971 and 2200, a column mixing units or mixing numbers and text, a missing date.
    For a column read in chunks, keep one `DateReader` so its unit is decided once.
    """
    return DateReader(column)(values)
