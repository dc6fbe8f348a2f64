"""The sweep's own clock, shared by the Tune callbacks that need elapsed sweep time.

Sweep time leaves out the time a sweep was stopped: each callback saves the seconds run so far with
Tune's experiment state (`get_state`) and, on resume, counts on from there (`set_state`). A
`time.monotonic()` reading means nothing in another process, so the clock restarts when the callback is
unpickled and when Tune calls `setup` at the start of a run or a resume.
"""

from __future__ import annotations

import math
import time
from typing import Any

from ray.tune import Callback


class SweepClock(Callback):
    """A Tune callback that knows the sweep's elapsed seconds over all its runs and resumes."""

    def __init__(self) -> None:
        self.elapsed_before = 0.0
        """Seconds the sweep ran before this process took it over (restored on resume)."""
        self.started = time.monotonic()

    @property
    def elapsed_s(self) -> float:
        """Seconds of sweep time so far, over all runs and resumes."""
        return self.elapsed_before + (time.monotonic() - self.started)

    def setup(
        self,
        stop: Any = None,
        num_samples: int | None = None,
        total_num_samples: int | None = None,
        **info: Any,
    ) -> None:
        """Tune calls this when the experiment (or its resume) starts: the clock starts now."""
        self.started = time.monotonic()

    def restore_elapsed(self, state: dict[str, Any]) -> None:
        """Take `state["elapsed_s"]` (as `get_state` saved it) as the time already run, when it is a number."""
        elapsed = state.get("elapsed_s")
        if isinstance(elapsed, int | float) and math.isfinite(elapsed):
            self.elapsed_before = float(elapsed)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("elapsed_before", 0.0)
        self.started = time.monotonic()
