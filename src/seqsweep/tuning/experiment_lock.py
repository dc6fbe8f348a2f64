"""One seqsweep process at a time per experiment directory: an exclusive advisory lock.

Two `seqsweep run` of one sweep started together both saw a new folder: the one refused later
overwrote the other's identity file (its study then refused every resume) or deleted the folder the
other was training in. `run` and `resume` hold the lock from the moment they write into the folder to
the end of the sweep; a second process is refused at once, touching nothing. `results` asks
(`held_by_a_sweep`) whether one still holds it, to tell a live sweep's running trials from the ones an
interrupted sweep left behind. `results --reseed` holds the same kind of lock on `DIR/reseed`
(`folder_lock`) while it reruns the winners, so two of them never train into one run folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from seqsweep.errors import ConfigError
from seqsweep.layout import LOCK_FILE


def new_folder(path: Path) -> bool:
    """Create `path` (parents too) if absent; True when this call created it (exclusive: of two processes
    racing, exactly one gets True)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir()
    except FileExistsError:
        return False
    return True


@contextlib.contextmanager
def experiment_lock(experiment_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on `experiment_dir/.seqsweep.lock` while the block runs.

    The lock is `flock(2)`'s (advisory, released by the kernel when the process ends, however it ends,
    so a killed run never leaves it held). The file keeps the holder's pid for the refusal's message.
    Raises ConfigError (one line) at once when another process holds it.
    """
    with folder_lock(
        Path(experiment_dir),
        lambda holder: (
            f"experiment {experiment_dir} is being run by another seqsweep process{holder}; wait for it to "
            f"end, or give this sweep another `name`"
        ),
    ):
        yield


@contextlib.contextmanager
def folder_lock(folder: Path, refusal: Callable[[str], str]) -> Iterator[None]:
    """Hold an exclusive `flock(2)` on `folder/.seqsweep.lock` (created, as `folder` must exist) while the
    block runs; ConfigError(`refusal(holder)`) at once when another process (or another holder in this
    one) has it, `holder` being " (pid N)" from the file, or "" when it names none."""
    path = Path(folder) / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            raise ConfigError(refusal(f" (pid {holder})" if holder.isdigit() else "")) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


def held_by_a_sweep(experiment_dir: Path) -> bool:
    """Whether a live `run` or `resume` (of any process) holds `experiment_dir`'s lock now.

    False when the lock file is absent (never locked) or free (the holder ended: the kernel released
    it). The test takes a shared lock, not an exclusive one, so two readers asking at once never see
    each other as a sweep; it is held for the test alone, on a read-only handle (no file is created).
    """
    path = Path(experiment_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    except OSError:
        return True  # unreadable: cannot tell, so keep the reading a live sweep gets
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases the shared lock, if taken
    return False
