"""Native (file descriptor 2) stderr, held back while a library's C++ code runs."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def native_stderr_captured() -> Iterator[list[str]]:
    """Point file descriptor 2 at a temporary file for the block; the list yielded receives what was
    written there (its text, once, as the block ends, also when it raises)."""
    captured: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        try:
            os.dup2(held.fileno(), 2)
            yield captured
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            captured.append(held.read().decode("utf-8", "replace"))
