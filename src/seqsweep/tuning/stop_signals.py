"""Stopping a running sweep on SIGINT or SIGTERM the way Tune stops on Ctrl-C: the first signal is recorded and
Tune saves the experiment and returns (so `resume` goes on from there); a signal before Tune runs, or a
second one, ends the command at once (`SweepInterrupted`, exit 128 + the signal's number).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from seqsweep.cluster.session import (
    local_ray_processes,
)
from seqsweep.tuning.progress import STOP_REQUESTED

EXPERIMENT_STATE_PERIOD_S = "5"
"""How often Tune saves the experiment state; a driver killed with SIGKILL loses at most this much."""


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


LOCAL_RAY_WATCH_S = 30.0
"""After a stop signal, how long the local Ray's own processes are watched for dying of it too (`StopSignals`)."""


class SweepInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived before Tune ran (nothing to resume) or a second time (stop now)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.experiment_dir: Path | None = None
        """Set once Tune has written the experiment (so `resume` can continue it)."""

    def describe(self) -> str:
        if self.experiment_dir is None:
            return "interrupted: before any trial ran; nothing to resume"
        return f"interrupted: continue with seqsweep resume {self.experiment_dir}"

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StopSignals:
    """Records SIGINT/SIGTERM while Tune runs and lets Tune end the run as it does on Ctrl-C.

    Tune's own SIGINT handler is turned off (`TUNE_DISABLE_SIGINT_HANDLER`): it would end the run
    without anyone knowing. The first signal is recorded and passed to Tune as SIGUSR1, on which Tune
    (2.60, `tune.tune._setup_signal_catching`) stops its loop, saves the experiment state and
    returns. Before Tune has set that up, or on a second signal, `SweepInterrupted` is raised.
    """

    def __init__(self, experiment_dir: Path) -> None:
        self.signum: int | None = None
        self.experiment_dir = experiment_dir
        self._previous: dict[int, Any] = {}
        self._env: str | None = None
        self._done = threading.Event()

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            raise SweepInterrupted(self.signum)
        self.signum = signum
        STOP_REQUESTED.set()
        tune_handler = signal.getsignal(signal.SIGUSR1)
        if not callable(tune_handler):
            raise SweepInterrupted(signum)
        self._watch_local_ray(signum)
        os.kill(os.getpid(), signal.SIGUSR1)

    def _watch_local_ray(self, signum: int) -> None:
        """Exit 128 + `signum` with the interrupted line if the local Ray's own processes got the signal too.

        A signal sent to the whole process group (`kill -TERM -PGID`; a batch system ending a job)
        reaches the local Ray's processes as well: SIGINT they block (`ray_session`), but on SIGTERM
        the dashboard and log monitor exit and the GCS stops answering while it shuts down. Tune could
        then neither stop its trials nor save, and Ray's core worker ended this process 60 s later with
        exit 1 and a line of its own. Any of those processes gone is the sign: the experiment as Tune
        last saved it (at most `EXPERIMENT_STATE_PERIOD_S` before) is what `resume` continues, as after
        SIGKILL.
        """
        processes = local_ray_processes()
        if not processes:
            return

        def watch() -> None:
            deadline = time.monotonic() + LOCAL_RAY_WATCH_S
            while not self._done.wait(0.1) and time.monotonic() < deadline:
                if any(process.poll() is not None for process in processes):
                    sys.stdout.flush()
                    print(
                        f"interrupted: the signal reached this command's local Ray too, so the trials were not "
                        f"stopped in order; the experiment as saved up to {EXPERIMENT_STATE_PERIOD_S} s before "
                        f"is kept: continue with seqsweep resume {self.experiment_dir}",
                        file=sys.stderr,
                        flush=True,
                    )
                    os._exit(128 + signum)

        threading.Thread(target=watch, name="seqsweep-local-ray-watch", daemon=True).start()

    def install(self) -> None:
        STOP_REQUESTED.clear()
        if threading.current_thread() is not threading.main_thread():
            return
        self._env = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
        os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
        self._previous[signal.SIGUSR1] = signal.getsignal(signal.SIGUSR1)
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self.handle)

    def restore(self) -> None:
        self._done.set()
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()
        if self._env is None:
            os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER", None)
        else:
            os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = self._env


@contextmanager
def stop_signals(experiment_dir: Path) -> Iterator[StopSignals]:
    """While the block runs (Tune's fit), SIGINT and SIGTERM stop the sweep gracefully, recorded."""
    stop = StopSignals(experiment_dir)
    stop.install()
    try:
        yield stop
    finally:
        stop.restore()
