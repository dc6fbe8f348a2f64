"""One status line for a running sweep: trials running / done / errored, best score, elapsed time.

On a terminal the line is rewritten in place; in a log (not a TTY) it is printed as plain lines,
when a count changes and at most every `log_every_s` seconds otherwise. Counts are read from the
trial list each step, so a resumed sweep starts from what it had already done.
"""

from __future__ import annotations

import math
import sys
import time
from typing import IO, Any

from ray.tune import Callback


class SweepProgress(Callback):
    def __init__(
        self, metric: str, mode: str, total: int, stream: IO[str] | None = None, log_every_s: float = 30.0
    ) -> None:
        self.metric = metric
        self.mode = mode
        self.total = total
        self._stream = stream
        self.log_every_s = log_every_s
        self.counts = {"RUNNING": 0, "TERMINATED": 0, "ERROR": 0}
        self.best: float | None = None
        self.started = time.monotonic()
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

    def line(self) -> str:
        best = "-" if self.best is None else f"{self.best:.4f}"
        elapsed = int(time.monotonic() - self.started)
        finished = self.counts["TERMINATED"] + self.counts["ERROR"]
        return (
            f"trials {finished}/{self.total}: running {self.counts['RUNNING']}, "
            f"done {self.counts['TERMINATED']}, errored {self.counts['ERROR']} | best {self.metric} {best} | "
            f"elapsed {elapsed // 60:d}m{elapsed % 60:02d}s"
        )

    def _offer(self, value: Any) -> None:
        if not (isinstance(value, int | float) and math.isfinite(value)):
            return
        if self.best is None or (value > self.best if self.mode == "max" else value < self.best):
            self.best = float(value)

    def _emit(self, changed: bool) -> None:
        now = time.monotonic()
        every = 1.0 if self._tty else self.log_every_s
        if not changed and now - self._last_write < every:
            return
        self.stream.write(("\r\x1b[2K" + self.line()) if self._tty else self.line() + "\n")
        self.stream.flush()
        self._last_write = now

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self._offer(result.get(self.metric))

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        counts = {status: 0 for status in self.counts}
        for trial in trials:
            if trial.status in counts:
                counts[trial.status] += 1
            self._offer((trial.last_result or {}).get(self.metric))
        changed = counts != self.counts
        self.counts = counts
        self._emit(changed)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self.on_step_end(0, trials)
        self._emit(changed=True)
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()
