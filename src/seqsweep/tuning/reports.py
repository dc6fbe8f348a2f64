"""A trial's reports counted once per epoch, the one rule `run`, `results`, the searcher and Ray's saved
summary share.

A trial that goes on from a checkpoint older than its last report (a retry after an error, a resume
after a kill) trains those epochs again; Ray keeps both reports in the trial's rows. The later one is
the trial's: it belongs to the run its checkpoints continue, the earlier one to an attempt that was lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from seqsweep.constants import EPOCH


def one_row_per_epoch(frame: pd.DataFrame) -> pd.DataFrame:
    """A trial's reports with each epoch once: the last report of a repeated epoch wins.

    A trial resumed from a checkpoint older than its last report trains those epochs again; Ray keeps
    both rows in the trial's results, and the leaderboard, plots and curves must count the epoch once.
    Frames without an `epoch` column (trainables that do not report it) are returned unchanged.
    """
    if frame.empty or EPOCH not in frame or frame[EPOCH].isna().any():
        return frame
    return (
        frame.drop_duplicates(subset=EPOCH, keep="last")
        .sort_values(EPOCH, kind="stable")
        .reset_index(drop=True)
    )


def latest_per_epoch(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """`one_row_per_epoch` for Ray's result rows as dicts (`result.json`): the last row of each epoch, in
    epoch order; rows without an `epoch` are kept as they are, in place."""
    rows = list(rows)
    if not rows or any(EPOCH not in row for row in rows):
        return rows
    last = {row[EPOCH]: row for row in rows}
    return [last[epoch] for epoch in sorted(last)]


def epochs_run(frame: pd.DataFrame) -> int:
    """The epochs a trial ran: its highest reported `epoch`, else its number of reports."""
    if frame.empty:
        return 0
    if EPOCH in frame and frame[EPOCH].notna().any():
        return int(pd.to_numeric(frame[EPOCH]).max())
    return len(frame)


def rank_key(value: float, mode: str, epochs: int, trial_id: str) -> tuple[float, int, str]:
    """Sort key of a trial, best first: the better value of the search metric (`mode` "max" or "min"),
    then fewer epochs, then the trial id. `run`'s summary line, `results` and `export` all break ties
    with it, so they name one winner."""
    return (-value if mode == "max" else value, epochs, trial_id)
