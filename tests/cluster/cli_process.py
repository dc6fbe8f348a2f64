"""`seqsweep ARGS` in a fresh process, for the address checks: Ray's C++ warnings go to that process's own
stderr (which `capsys` would not see), and a Ray already running in the test process (another test's)
would otherwise be used instead of the address."""

from __future__ import annotations

import subprocess
import sys

DEADLINE_S = 120
"""An address check takes at most `session.CONNECT_CHECK_S` (10 s) plus the HTTP check; the rest is the
interpreter's start on a busy machine."""


def seqsweep_process(args: list[str]) -> subprocess.CompletedProcess[str]:
    """`python -m seqsweep.cli ARGS`, its output captured; AssertionError with its stderr so far when it
    has not ended within `DEADLINE_S`."""
    try:
        return subprocess.run(
            [sys.executable, "-m", "seqsweep.cli", *args], capture_output=True, text=True, timeout=DEADLINE_S
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"`seqsweep {' '.join(args)}` did not end within {DEADLINE_S} s: {exc.stderr!r}"
        ) from None
