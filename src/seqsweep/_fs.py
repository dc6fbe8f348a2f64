"""Atomic writes: a temporary file (or folder) in the same folder, then `os.replace`.

A reader (a resumed driver, `results` on a live sweep, a trial restoring its checkpoint) sees the
old content or the new, never half of either; a writer that dies leaves at most a hidden
`.<name>.*.tmp` beside the target. Every file seqsweep rewrites in place goes through here.
A swap of several steps (a folder moved aside, then the new one moved in; a folder's tables swapped in
together) runs under `signals_held`, so that Ctrl-C or SIGTERM acts before it or after it, never inside.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, Final


def atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` (written as is, no newline translation) through a temporary file."""
    with atomic_path(path) as temp, open(temp, "x", newline="", encoding="utf-8") as out:
        out.write(text)


def atomic_write_json(
    path: Path,
    payload: Any,
    *,
    indent: int | None = None,
    sort_keys: bool = False,
    default: Callable[[Any], Any] | None = None,
    newline: bool = True,
) -> None:
    """Replace `path` with `payload` as JSON (`json.dumps` arguments; a final newline unless told not)."""
    text = json.dumps(payload, indent=indent, sort_keys=sort_keys, default=default)
    atomic_write_text(path, text + ("\n" if newline else ""))


@contextmanager
def naming_path(path: Path) -> Iterator[None]:
    """An OSError raised in the block without a file name (a full disk met by a `write` or a flush, numpy's
    "26400 requested and 16352 written") is raised again naming `path`, so its one line says where;
    one without an errno was a short write, which a full disk or quota causes (ENOSPC)."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None or isinstance(exc, FileNotFoundError | FileExistsError):
            raise
        raise OSError(exc.errno or errno.ENOSPC, exc.strerror or str(exc), str(path)) from exc


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A fresh temporary path beside `path` (not created) for the block to write; moved onto `path`
    if the block succeeds, removed if it raises. Files get the usual permissions (the umask's)."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield temp
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(target: Path, *, replace: bool = True) -> Iterator[Path]:
    """A temporary folder beside `target` for the block to fill, then moved onto `target`.

    `replace=True`: an existing `target` is moved aside first and removed after the move. `replace=False`:
    an existing `target` (written by another process meanwhile) is kept and the new folder dropped.
    The temporary folder never outlives the block.
    """
    target = Path(target)
    temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield temp
        if not replace:
            try:
                os.replace(temp, target)
            except OSError:
                if not target.exists():
                    raise
            return
        move_into_place(temp, target)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def move_into_place(folder: Path, target: Path) -> None:
    """`os.replace` the finished `folder` onto `target` (same file system); an existing `target` is
    moved aside first, then removed.

    The two moves run under `signals_held`: a Ctrl-C or SIGTERM between them left no `target` at all,
    only a hidden `.<name>.old.*` folder holding the earlier one. Where the second move fails, the
    earlier `target` is put back; the folder it was moved aside into never outlives the call."""
    if not target.exists():
        os.replace(folder, target)
        return
    with signals_held():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
        try:
            os.replace(target, old / target.name)
            try:
                os.replace(folder, target)
            except BaseException:
                os.replace(old / target.name, target)
                raise
        finally:
            shutil.rmtree(old, ignore_errors=True)


HELD_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)
"""The signals `signals_held` holds: those a user or a batch system stops a command with."""


@contextmanager
def signals_held() -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM are recorded, not acted on; when it ends the handlers in
    place before are restored and, if it ended normally, the first signal recorded is delivered again to
    them (KeyboardInterrupt, the CLI's `Terminated`, the default action), in plain code. A block that
    raises ends the command with its own error, which a held signal does not replace (callers clean up
    after the error they expect).

    For a block that must not stop half way (a swap of several steps) or where Python would drop the
    exception (a KeyboardInterrupt in a weakref callback or finaliser is printed as "Exception ignored").
    Blocks nest: an inner one delivers to the outer one's record. Outside the main thread (signal
    handlers can only be set there, and only it runs them) the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = {signum: signal.signal(signum, record) for signum in HELD_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            # None: a handler set outside Python, which cannot be set again from here
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
    if caught:
        signal.raise_signal(caught[0])


@contextmanager
def removed_if_left_empty(folder: Path) -> Iterator[None]:
    """Run the block; if it raises, remove the folders from `folder` up to the first one that existed
    before it (deepest first), each only while empty: a command that made its output folder and then
    failed (one line, exit 2) leaves nothing behind, and never anything the block did write."""
    target = Path(folder).expanduser().resolve()
    missing = [p for p in (target, *target.parents) if not p.exists()]
    try:
        yield
    except BaseException:
        for made in missing:
            try:
                made.rmdir()
            except OSError:  # not empty (or not made after all): kept, as are the folders above it
                break
        raise


def writable_folder(out: Path, flag: str) -> Path:
    """`out` (resolved) as a folder the command can write into, made now (parents included), before any
    long work. Raises ConfigError (one line naming `flag`) for a path that is a file or cannot be made
    (read-only, under /proc, no permission)."""
    from seqsweep.errors import ConfigError

    target = Path(out).expanduser().resolve()
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{flag} {target}: is a file; give a folder")
    try:
        target.mkdir(parents=True, exist_ok=True)
        probe = target / f".seqsweep-write-check.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"{flag} {target}: cannot write there ({exc.strerror or exc})") from None
    return target


def unmakeable_folder(folder: Path) -> str | None:
    """Why no folder can be made (and written) at `folder`, or None when one can: the nearest part of it
    that exists is a file, or refuses a new entry (read-only, no permission, under /proc, where even root
    may not write and `os.access` says yes). The check makes a hidden folder there and removes it, so
    nothing is left behind; the reason names that part."""
    existing = next((part for part in (folder, *folder.parents) if part.exists()), None)
    if existing is None:
        return None
    if not existing.is_dir():
        return f"{existing} is a file; give a folder"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".seqsweep-write-check.", dir=existing))
    except OSError as exc:
        return f"{existing} cannot be written ({exc.strerror or exc}); give a folder you can write"
    return None


def with_umask_mode(folder: Path) -> Path:
    """`folder` (made by `tempfile.mkdtemp`, mode 0700) given the mode a plain `mkdir` would give it,
    so that what is moved into place from it is as readable as any other output."""
    current = os.umask(0)
    os.umask(current)
    folder.chmod(0o777 & ~current)
    return folder
