"""One status line for a running sweep: trials running / done / errored, best score, elapsed time.

On a terminal the line is rewritten in place; in a log (not a TTY) it is printed as plain lines,
when a count changes and at most every `log_every_s` seconds otherwise. Counts are read from the
trial list each step, so a resumed sweep starts from what it had already done. The best score is the
best any trial reported that has not errored (an errored trial is never ranked: a sweep whose every trial
errored ends with none, as its summary line does). The trials' best scores and the elapsed time are part
of the state Tune saves with the experiment: after a resume the best never drops below a trial's that
still stands, and the elapsed time goes on from where it was saved, leaving out the time the sweep was
stopped.

After a stop signal (`STOP_REQUESTED`) the last line keeps the counts the sweep had reached: Tune then
stops the live trials and marks them TERMINATED, but `resume` continues them, so they are not done.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from typing import IO, Any

from seqsweep.tuning.clock import SweepClock

STOP_REQUESTED = threading.Event()
"""Set by the runner's stop-signal handler (`stop_signals.StopSignals`) on the first SIGINT/SIGTERM of a sweep,
cleared when it is installed for the next one."""


class SweepProgress(SweepClock):
    def __init__(
        self, metric: str, mode: str, total: int, stream: IO[str] | None = None, log_every_s: float = 30.0
    ) -> None:
        self.metric = metric
        self.mode = mode
        self.total = total
        self._stream = stream
        self.log_every_s = log_every_s
        self.counts = {"RUNNING": 0, "TERMINATED": 0, "ERROR": 0}
        self._bests: dict[str | None, float] = {}
        """Each trial's best score so far by trial id (None: a best restored from an older saved state)."""
        self._errored: set[str] = set()
        super().__init__()
        self._last_write = 0.0

    @property
    def stream(self) -> IO[str]:
        return self._stream or sys.stderr

    @property
    def _tty(self) -> bool:
        return bool(getattr(self.stream, "isatty", lambda: False)())

    def __getstate__(self) -> dict[str, Any]:
        """Tune pickles callbacks with the experiment state; an open stream cannot be pickled."""
        state = self.__dict__.copy()
        state["_stream"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A monotonic clock reading means nothing in another process: the clock restarts here. A callback
        pickled before the per-trial bests keeps its one best."""
        if "_bests" not in state:
            best = state.pop("best", None)
            state["_bests"] = {} if best is None else {None: best}
            state["_errored"] = set()
        super().__setstate__(state)
        self._last_write = 0.0

    @property
    def best(self) -> float | None:
        """The best score of the trials that have not errored, None before any."""
        standing = [value for trial, value in self._bests.items() if trial not in self._errored]
        if not standing:
            return None
        return max(standing) if self.mode == "max" else min(standing)

    def get_state(self) -> dict[str, Any] | None:
        """Saved by Tune with the experiment state (restored by `set_state` on resume)."""
        bests = {trial: value for trial, value in self._bests.items() if trial is not None}
        return {"best": self.best, "bests": bests, "elapsed_s": self.elapsed_s}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore the trials' best scores and the elapsed time a resumed sweep had reached when last
        saved (a state saved before the per-trial bests: its one best)."""
        bests = state.get("bests")
        if isinstance(bests, dict):
            for trial, value in bests.items():
                self._offer(value, str(trial))
        else:
            self._offer(state.get("best"))
        self.restore_elapsed(state)

    def line(self) -> str:
        best = "-" if self.best is None else f"{self.best:.4f}"
        elapsed = int(self.elapsed_s)
        finished = self.counts["TERMINATED"] + self.counts["ERROR"]
        return (
            f"trials {finished}/{self.total}: running {self.counts['RUNNING']}, "
            f"done {self.counts['TERMINATED']}, errored {self.counts['ERROR']} | best {self.metric} {best} | "
            f"elapsed {elapsed // 60:d}m{elapsed % 60:02d}s"
        )

    def _offer(self, value: Any, trial: str | None = None) -> None:
        """Take `value` as `trial`'s score if it is finite and better than the trial's best so far."""
        if not (isinstance(value, int | float) and math.isfinite(value)):
            return
        best = self._bests.get(trial)
        if best is None or (value > best if self.mode == "max" else value < best):
            self._bests[trial] = float(value)

    def _emit(self, changed: bool) -> None:
        now = time.monotonic()
        every = 1.0 if self._tty else self.log_every_s
        if not changed and now - self._last_write < every:
            return
        self.stream.write(("\r\x1b[2K" + self.line()) if self._tty else self.line() + "\n")
        self.stream.flush()
        self._last_write = now
        self._written = (dict(self.counts), self.best)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self._offer(result.get(self.metric), getattr(trial, "trial_id", None))

    def _count(self, trials: list) -> bool:
        """Recount the trials (and offer their last scores); True when a count changed."""
        counts = {status: 0 for status in self.counts}
        for trial in trials:
            if trial.status in counts:
                counts[trial.status] += 1
            trial_id = getattr(trial, "trial_id", None)
            self._offer((trial.last_result or {}).get(self.metric), trial_id)
            if trial.status == "ERROR" and trial_id is not None:
                self._errored.add(trial_id)
        changed = counts != self.counts
        self.counts = counts
        return changed

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        self._emit(self._count(trials))

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        if not STOP_REQUESTED.is_set():  # interrupted: the trials Tune stopped on the way out are not done
            self._count(trials)
        # the final line once: in a log, not again when the last step already wrote these counts
        if self._tty or getattr(self, "_written", None) != (self.counts, self.best):
            self._emit(changed=True)
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()
