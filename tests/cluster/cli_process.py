"""`seqsweep ARGS` in a fresh process, for the address checks: Ray's C++ warnings go to that process's own
stderr (which `capsys` would not see), and a Ray already running in the test process (another test's)
would otherwise be used instead of the address."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DEADLINE_S = 120
"""An address check takes at most `session.CONNECT_CHECK_S` (10 s) plus the HTTP check; the rest is the
interpreter's start on a busy machine."""


def seqsweep_process(args: list[str], home: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m seqsweep.cli ARGS`, its output captured; `home`: its `HOME` (so nothing another test
    left in ~/.cache is seen). AssertionError with its stderr so far when it has not ended within
    `DEADLINE_S`."""
    env = os.environ | ({"HOME": str(home)} if home is not None else {})
    try:
        return subprocess.run(
            [sys.executable, "-m", "seqsweep.cli", *args],
            capture_output=True,
            text=True,
            timeout=DEADLINE_S,
            env=env,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"`seqsweep {' '.join(args)}` did not end within {DEADLINE_S} s: {exc.stderr!r}"
        ) from None
