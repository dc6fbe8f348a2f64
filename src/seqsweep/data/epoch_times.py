"""Epoch times: the units seqsweep reads them in, the window that decides a value's unit, and value
columns that are clocks.

An integer (or integral float) epoch time is read in the unit, s, ms, µs or ns, that puts it between
1971 and 2200 (`epoch_unit_of`); the four windows do not overlap, so a value fits one unit at most.
`date_reading.DateReader` reads date columns with it, `sql_dates` the dates a database stores as numbers.
`refuse_time_columns` refuses a value column that holds epoch times beside `date` (an exchange's
`close_time`), which as a feature would be a clock, not a value. Every refusal is a `DataError` whose
message is one line naming the column and a bad value.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from seqsweep.data.number_reading import shown_value
from seqsweep.errors import DataError

EPOCH_UNITS: Final[tuple[tuple[str, int], ...]] = (("s", 10**9), ("ms", 10**6), ("us", 10**3), ("ns", 1))
"""Epoch units and their length in nanoseconds, coarsest first."""


UNIT_NAMES: Final = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


EPOCH_EARLIEST: Final = pd.Timestamp("1971-01-01")


EPOCH_LATEST: Final = pd.Timestamp("2200-01-01")
"""An epoch value is read in the unit that puts it in [EPOCH_EARLIEST, EPOCH_LATEST). The windows of
the four units do not overlap (7.3e9 s < 3.2e10 ms), so a value fits at most one unit."""


def epoch_window(factor: int) -> tuple[int, int]:
    """[low, high): the epoch values, in a unit of `factor` nanoseconds (`EPOCH_UNITS`), that lie between
    `EPOCH_EARLIEST` and `EPOCH_LATEST`."""
    return EPOCH_EARLIEST.value // factor, EPOCH_LATEST.value // factor


def epoch_unit_of(value: float) -> str | None:
    """The unit ('s', 'ms', 'us', 'ns') that puts epoch `value` between 1971 and 2200, or None."""
    for unit, factor in EPOCH_UNITS:
        low, high = epoch_window(factor)
        if low <= value < high:
            return unit
    return None


TIME_COLUMN_LAG: Final = pd.Timedelta(days=7)
"""How far from its row's `date` most values of a value column lie, read as epoch times, when the
column is a time (`refuse_time_columns`): a bar's close time (date + 1 h − 1 ms), a snapshot time
minutes before the hour (a stale snapshot's days earlier is one of few), or a local epoch hours off UTC.
A price or volume in an epoch unit's range (a volume of 1.7e9) would have to follow the clock to the
week on most rows to fit."""


def _epoch_range(numbers: np.ndarray) -> np.ndarray:
    """Which of `numbers` (float64) read as an epoch time in some unit between 1971 and 2200
    (`epoch_unit_of` is not None); False for NaN."""
    inside = np.zeros(len(numbers), dtype=bool)
    for _, factor in EPOCH_UNITS:
        low, high = epoch_window(factor)
        inside |= (numbers >= low) & (numbers < high)
    return inside


def refuse_time_columns(dates: pd.Series, values: pd.DataFrame, labels: dict[str, str] | None = None) -> None:
    """DataError for a value column of `values` (float64, aligned with `dates`, naive UTC) whose values
    are epoch times (in the unit of their median, `epoch_unit_of`), at least half of them within
    `TIME_COLUMN_LAG` of their row's date, a stale row among them included (a 0 placeholder, no time in
    any unit, is not counted, however many rows hold it, so the latest rows and the whole read agree): an
    exchange's `close_time`, CryptoDataDownload's `unix`, GRU-ow's `utc_timestamp`, an Aave snapshot's
    `timestamp` read beside `date`.
    As a feature it is a clock (it grows without end, the splits after train lie outside every value
    the scaler saw), not a value. `labels` names columns in the message (`crypto_price.close_time`)."""
    labels = labels or {}
    stamps = dates.to_numpy("datetime64[ns]").astype(np.int64).astype(np.float64)
    for column in values.columns:
        numbers = values[column].to_numpy(np.float64)
        # a value in no unit's range (a 0 or -1 placeholder) neither makes nor hides a clock: a close time
        # left 0 in its older rows was a feature in the whole read, and refused in the latest rows only
        present = _epoch_range(numbers)
        if present.sum() < 2:
            continue
        unit = epoch_unit_of(float(np.median(numbers[present])))
        if unit is None:
            continue
        factor = dict(EPOCH_UNITS)[unit]
        near = np.abs(numbers * factor - stamps) <= TIME_COLUMN_LAG.value  # False where missing
        if 2 * np.count_nonzero(near) < np.count_nonzero(present):
            continue
        first = int(np.flatnonzero(near)[0])
        value = float(numbers[first])
        as_time = pd.Timestamp(
            int(value) * factor if value.is_integer() else pd.Timestamp(value, unit=unit).round("us")
        )
        raise DataError(
            f"column {labels.get(column, column)!r} holds epoch times in {UNIT_NAMES[unit]} that follow the "
            f"date ({shown_value(numbers[first])} = {as_time} on the row of {dates.iloc[first]}), a clock, not a "
            f"value to learn from; leave it out (dataset.exclude_columns: [{column}]) or drop the column"
        )
