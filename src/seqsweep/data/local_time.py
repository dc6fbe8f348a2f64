"""Naive dates written in local time, as summer-time clock changes betray them.

A date without an offset is taken as UTC (`ingest`), which no check can refute in general. Local time
shows at the clock changes, though: the hour clocks repeat when summer time ends (2024-10-27 02:00 in
Berlin) holds two rows of one symbol, and the hour they skip when it starts (2024-03-31 02:00) holds
none. `clock_change` names the zone whose clocks did so at a given time, for the messages that meet
such a repeat (refused as two rows at one time) or such a gap (a masked row).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Final

import pandas as pd

ZONES: Final = (
    "Europe/London", "Europe/Berlin", "Europe/Helsinki", "America/New_York", "America/Chicago",
    "America/Denver", "America/Los_Angeles", "America/Santiago", "Australia/Sydney", "Pacific/Auckland",
)  # fmt: skip
"""Zones whose summer-time changes a message names: one for each common rule (the European Union's zones
change at one instant, so Berlin stands for Paris or Amsterdam), markets' zones first."""
HOUR: Final = pd.Timedelta(hours=1)


def _offset(zone: zoneinfo.ZoneInfo, at: dt.datetime, fold: int) -> dt.timedelta:
    offset = at.replace(tzinfo=zone, fold=fold).utcoffset()
    assert offset is not None
    return offset


def clock_change(at: pd.Timestamp, *, repeated: bool) -> str | None:
    """Words naming a zone (`ZONES`) whose clocks repeated (`repeated`) or skipped naive local time `at`,
    with its offsets before and after the change; None when none did (or no time-zone data is at hand)."""
    moment = at.to_pydatetime().replace(tzinfo=None)
    for name in ZONES:
        try:
            zone = zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
        # fold 0 reads a local time with the offset before the change, fold 1 with the one after (PEP 495):
        # a repeated hour goes from the larger offset to the smaller, a skipped one the other way round
        first, second = _offset(zone, moment, 0), _offset(zone, moment, 1)
        if (first > second) if repeated else (first < second):
            what = "repeat when summer time ends" if repeated else "skip when summer time starts"
            return f"an hour clocks {what} in {name} (UTC{_hours(first)}, then UTC{_hours(second)})"
    return None


def skipped_hour(times: pd.Series, step: pd.Timedelta) -> str | None:
    """Words naming the first gap of sorted naive `times` (on a grid of `step`, an hour or finer) that is
    exactly the hour a zone's clocks skip when summer time starts (`clock_change`): rows up to 01:00 and
    again from 03:00 on 2024-03-31, as a Berlin clock writes hourly candles. None when there is none."""
    if step > HOUR or len(times) < 2:
        return None
    spans = times.diff()
    for after in times[(spans == step + HOUR).to_numpy()]:
        first_missing = after - HOUR
        change = clock_change(first_missing, repeated=False)
        if change is not None:
            missing = (
                f"row at {first_missing}" if step == HOUR else f"rows from {first_missing} to {after - step}"
            )
            return f"no {missing}, {change}"
    return None


def _hours(offset: dt.timedelta) -> str:
    """`+02:00` for two hours."""
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


LOCAL_TIME_FIX: Final = (
    "dates written in local time without their offset? write them in UTC, or with their offset "
    "(load-csv converts it)"
)
"""What to do about naive local dates, appended to a message naming a clock change."""
