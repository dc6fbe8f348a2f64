"""`seqsweep` command line: one module per subcommand under `seqsweep.commands`.

Each command module exposes `register(subparsers)` which adds its parser and sets `func`. Errors a
user can fix (`SeqsweepError`) become one line on stderr and exit code 2, never a traceback.

Quiet by default: before Ray, TensorFlow or the Hugging Face stack is imported, `main` sets their log
levels through the environment (`QUIET_ENVIRONMENT`; Ray's workers inherit it) and TensorFlow's import
runs with native stderr silenced (`QuietNativeImports`), so a command prints seqsweep's own lines only. Ray Data keeps writing its log file in the Ray session folder but nothing
reaches the terminal, so an error raised inside a per-symbol task arrives as seqsweep's one line.
`seqsweep -v` leaves every library at its own defaults and logs seqsweep at DEBUG.
"""

from __future__ import annotations

import argparse
import codecs
import errno
import importlib
import importlib.abc
import io
import logging
import os
import select
import signal
import sys
import threading
import traceback
import types
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import FrameType
from typing import NoReturn

from seqsweep import __version__
from seqsweep.db_url import EMPTY_URL_FIX, scrub
from seqsweep.errors import ConfigError, SeqsweepError, exception_text, root_cause

COMMAND_MODULES: tuple[str, ...] = (
    "seqsweep.commands.data",
    "seqsweep.commands.run",
    "seqsweep.commands.results",
    "seqsweep.commands.cluster",
)
"""Modules that each register one or more subcommands (`register(subparsers)`)."""

EXIT_USER_ERROR = 2
EXIT_UNEXPECTED = 3
EXIT_INTERRUPTED = 130
"""Exit code of a command stopped by Ctrl-C (SIGINT), as a shell reports it."""
WRITE_ERRNOS: frozenset[int] = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENAMETOOLONG}
)
"""OS errors of a write the user can fix (a full disk or quota, a read-only or forbidden folder, a name too
long): one line naming the path, exit 2."""
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE
"""Exit code when stdout's reader went away (`seqsweep predict ... | head`): 141, as for `yes | head`."""

RAY_DATA_QUIET_LOGGING = Path(__file__).with_name("ray_data_logging.yaml")
"""Ray Data's logging config without its console handler: its log file only (`RAY_DATA_LOGGING_CONFIG`)."""

QUIET_ENVIRONMENT: dict[str, str] = {
    # Ray core: the `ray` logger's level in the driver and in every worker (token auth, "Started a local
    # Ray instance", Tune and Train warnings); read when Ray is imported.
    "RAY_LOGGER_LEVEL": "error",
    # Ray Data: its progress-bar notice and the streaming executor's error tracebacks stay in its log file.
    "RAY_DATA_LOGGING_CONFIG": str(RAY_DATA_QUIET_LOGGING),
    "RAY_DEDUP_LOGS": "0",
    # TensorFlow and XLA's C++ logging once absl is set up; the lines written while TensorFlow is imported
    # (absl's pre-init notice, oneDNN, CPU features, `E0000 ...` CUDA factories) need `QuietNativeImports`.
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "GRPC_VERBOSITY": "ERROR",
    "GLOG_minloglevel": "2",
    # Hugging Face / sentence-transformers: no progress bars, no fork warning from the tokenizers.
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
    # Python warnings (FutureWarning, UserWarning) in the driver and in Ray's workers.
    "PYTHONWARNINGS": "ignore",
}
"""Set (unless already set) for a command run without `-v`, before any of these libraries is imported."""

THIRD_PARTY_LOGGERS: tuple[str, ...] = (
    "ray",
    "absl",
    "tensorflow",
    "keras",
    "torch",
    "filelock",
    "urllib3",
    "httpx",
    "sentence_transformers",
    "transformers",
    "optuna",
    "matplotlib",
    "alembic",
)
"""Loggers held at ERROR without `-v` (Ray also gets `RAY_LOGGER_LEVEL`, as `ray.init` resets its level)."""
SILENT_LOGGERS: tuple[str, ...] = ("ray.tune",)
"""Loggers held at CRITICAL without `-v`: Ray Tune logs each errored trial's whole traceback at ERROR, where
`seqsweep run`/`resume` print one line per errored trial (`outcome.trial_error_line`) naming its `error.txt`."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, whose usage errors (`--top abc`) are one line naming the flag and the command's `--help`,
    exit 2, instead of the usage block and the message (the error contract of every other bad input)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"seqsweep: error: {message} (see `{self.prog} --help`)\n")

    def parse_known_args(  # type: ignore[override]  # typeshed overloads by namespace type
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """argparse's, recording the innermost (sub)command's `prog` on the namespace (`_COMMAND_PROG`),
        so an unrecognized flag names that command's `--help` (`parse_args`)."""
        parsed, extras = super().parse_known_args(args, namespace)
        if not hasattr(parsed, _COMMAND_PROG):  # a subcommand's parser finishes first and sets it
            setattr(parsed, _COMMAND_PROG, self.prog)
        return parsed, extras

    def parse_args(  # type: ignore[override]  # as parse_known_args
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        """argparse's; `results runs/x --jsn` points to `seqsweep results --help`, not `seqsweep --help`."""
        parsed, extras = self.parse_known_args(args, namespace)
        command = getattr(parsed, _COMMAND_PROG, self.prog)
        delattr(parsed, _COMMAND_PROG)
        if extras:
            message = f"unrecognized arguments: {' '.join(extras)} (see `{command} --help`)"
            self.exit(EXIT_USER_ERROR, f"seqsweep: error: {message}\n")
        return parsed


_COMMAND_PROG = "_seqsweep_command_prog"
"""Namespace attribute `OneLineParser.parse_known_args` sets, `parse_args` reads and removes."""


def build_parser() -> argparse.ArgumentParser:
    """The `seqsweep` parser with every command module's subcommands (imports no Ray, TF or torch)."""
    parser = OneLineParser(
        prog="seqsweep",
        description="Hyperparameter sweeps of sequence classifiers on market time series (Ray Tune + Optuna).",
    )
    parser.add_argument("--version", action="version", version=f"seqsweep {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def _configure_logging(verbose: bool) -> None:
    """`-v`: everything at DEBUG with timestamps; else seqsweep's INFO lines plainly, others' errors only."""
    if verbose:
        logging.basicConfig(
            level=logging.DEBUG,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_PlainFormatter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    logging.getLogger("seqsweep").setLevel(logging.INFO)
    for noisy in THIRD_PARTY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.ERROR)
    for silent in SILENT_LOGGERS:
        logging.getLogger(silent).setLevel(logging.CRITICAL)
    try:  # absl's Python logging prints "WARNING:absl:..." through its own handler once TensorFlow loads it
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # pragma: no cover - absl ships with TensorFlow
        pass


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the block: C++ code writing to stderr goes nowhere."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _QuietLoader(importlib.abc.Loader):
    """Runs another loader's `exec_module` with native stderr silenced."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        with native_stderr_silenced():
            self._loader.exec_module(module)


class QuietNativeImports(importlib.abc.MetaPathFinder):
    """Imports TensorFlow with native stderr silenced.

    TensorFlow's C++ start-up lines (absl's "All log messages before absl::InitializeLog()", the oneDNN
    notice, CPU-feature and CUDA-factory lines such as `E0000 ...`) are written while it is imported,
    before absl logging is set up, so `TF_CPP_MIN_LOG_LEVEL` does not reach them; only
    `TF_ENABLE_ONEDNN_OPTS=0` would, by turning oneDNN off, which changes speed and numbers. A Python
    error still propagates as usual.
    """

    MODULES = frozenset({"tensorflow"})

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in self.MODULES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _QuietLoader(spec.loader)
                return spec
        return None


class _PlainFormatter(logging.Formatter):
    """`seqsweep: message` for seqsweep's INFO lines, `seqsweep: warning: ...` above; others say who they are."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info and record.levelno >= logging.ERROR:
            message += "\n" + self.formatException(record.exc_info)
        if record.name.split(".")[0] != "seqsweep":
            return f"{record.levelname.lower()} ({record.name}): {message}"
        if record.levelno <= logging.INFO:
            return f"seqsweep: {message}"
        return f"seqsweep: {record.levelname.lower()}: {message}"


def _hide_warning(*args: object, **kwargs: object) -> None:
    """`warnings.showwarning` in quiet mode: a warning a library's own filter lets through is not shown."""


@contextmanager
def quiet_environment(verbose: bool) -> Iterator[None]:
    """Apply `QUIET_ENVIRONMENT` (keeping any variable the user set) for the block, unless `verbose`.

    The variables are removed again afterwards, so calling `main` inside another program (the tests do)
    leaves its environment as it was.
    """
    added = {} if verbose else {k: v for k, v in QUIET_ENVIRONMENT.items() if k not in os.environ}
    os.environ.update(added)
    finder = None if verbose or "tensorflow" in sys.modules else QuietNativeImports()
    if finder is not None:
        sys.meta_path.insert(0, finder)
    try:
        with warnings.catch_warnings():  # restores the filters and `showwarning` afterwards
            if not verbose:
                warnings.simplefilter("ignore")
                # a library may put its own filter first inside the block (importing Ray puts "module" for
                # its RayDeprecationWarning), which wins over "ignore": quiet shows no warning at all
                warnings.showwarning = _hide_warning
            yield
    finally:
        if finder is not None:
            sys.meta_path.remove(finder)
        for key in added:
            os.environ.pop(key, None)


ESCAPE_ERRORS = "seqsweep.escape"
"""Error handler of the standard streams (`escape_unencodable`), registered with `codecs`."""


def escape_unencodable(exc: UnicodeError) -> tuple[str | bytes, int]:
    """Codec error handler: a character the stream's encoding lacks is written as its backslash escape
    (`−` as `\\u2212` under `LC_ALL=C`), where `strict` raised; a lone surrogate that stands for an
    undecodable byte of a file name is written as that byte, as `surrogateescape` does."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    char = exc.object[exc.start]
    if 0xDC80 <= ord(char) <= 0xDCFF:
        return bytes([ord(char) - 0xDC00]), exc.start + 1
    return char.encode("ascii", "backslashreplace").decode("ascii"), exc.start + 1


codecs.register_error(ESCAPE_ERRORS, escape_unencodable)


def escape_unencodable_output() -> None:
    """Let stdout and stderr escape what their encoding cannot write (`escape_unencodable`) instead of
    raising `UnicodeEncodeError`: under a C or ASCII locale, or `PYTHONIOENCODING=ascii`, a line with
    `−`, `×` or `ü` ended the command with exit 3. The streams are changed in place, so a logging
    handler that already holds one writes through it too."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors in ("strict", "surrogateescape"):
            stream.reconfigure(errors=ESCAPE_ERRORS)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `seqsweep` command; returns its exit code (0 ok, 1 some trial errored, 2 bad input, 3 a bug)."""
    escape_unencodable_output()  # before the first line: `--help` and usage errors print too
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        parser = build_parser()  # imports pandas, optuna, pyarrow: a Ctrl-C often lands here
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        print("seqsweep: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    with quiet_environment(args.verbose), sigterm_unwinds():
        _configure_logging(args.verbose)
        code = _run(args)
    if sys.stdout is None:  # started with stdout closed (`>&-`): nothing was printed, nothing to flush
        return code
    try:
        sys.stdout.flush()  # what is still buffered fails here, not in the interpreter's exit
    except BrokenPipeError:
        return _stdout_gone()
    return code


def stdout_reader_gone() -> bool:
    """True when stdout is a pipe (or socket) whose reading end is closed: the kernel flags its write end
    with POLLERR (Linux `pipe(7)`); False for a terminal, a file or an open pipe."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poller.poll(0))


def _stdout_gone() -> int:
    """Stop quietly after stdout's reader left: point stdout at /dev/null so that the interpreter's final
    flush does not print `BrokenPipeError` again (Python's `signal` docs, "Note on SIGPIPE")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE


EXIT_TERMINATED = 128 + signal.SIGTERM
"""Exit code of a command stopped by SIGTERM (143), as a shell reports it."""


class Terminated(BaseException):
    """SIGTERM as an exception: `finally` blocks and `except BaseException` clean-ups run (an export's
    temporary bundle and refit folders), where Python's default action ends the process without them."""


@contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """While the block runs, SIGTERM raises `Terminated` in the main thread, unless a handler other than
    the default is set already (or a command sets its own, as `run` does while its trials run); the
    previous handler is restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise Terminated

    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _blank_flag_fixes(command: str | None) -> dict[str, str]:
    """Flags (by argparse `dest`) that a blank value must not reach, and what to write instead."""
    address = (
        "give auto, HOST:PORT or ray://HOST:10001, or leave it out for a private local Ray"
        if command in ("run", "resume")
        else "give the cluster's Jobs API (http://HEAD:8265), or leave it out to use $RAY_ADDRESS"
    )
    return {
        "db": EMPTY_URL_FIX,
        "storage": "give a folder or a storage URI (e.g. ./runs, s3://bucket/runs), or leave it out",
        "address": address,
        "cache_dir": "give a folder, or leave it out for the default cache",
        "out": "give a folder",
    }


def refuse_blank_flags(args: argparse.Namespace) -> None:
    """ConfigError (one line) for a path, URL or address flag given as blank text (`--db "$URL"` with URL
    unset): each command read it as not given and fell back to the file's value, the sample database or
    the current folder without a word, where `data build --db ''` refused it."""
    for dest, fix in _blank_flag_fixes(getattr(args, "command", None)).items():
        value = getattr(args, dest, None)
        if isinstance(value, str) and not value.strip():
            raise ConfigError(f"--{dest.replace('_', '-')} is empty: {fix}")


def _run(args: argparse.Namespace) -> int:
    try:
        refuse_blank_flags(args)
        return int(args.func(args) or 0)
    except Terminated:
        print("seqsweep: terminated (SIGTERM)", file=sys.stderr)
        return EXIT_TERMINATED
    except SeqsweepError as exc:  # messages name URLs masked already; scrub is the safety net
        # one line even when the message carries another library's lines (torch's state_dict errors)
        print(f"seqsweep: error: {scrub(' '.join(str(exc).split()))}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("seqsweep: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        if exc.errno not in WRITE_ERRNOS:
            return _unexpected(exc, args.verbose)
        print(f"seqsweep: error: {os_error_line(exc)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception as exc:  # a bug or an unforeseen failure: still one line, unless -v asks for more
        return _unexpected(exc, args.verbose)


OS_ERROR_FIXES: dict[int, str] = {
    errno.ENOSPC: "free space or choose another folder",
    errno.EDQUOT: "free space within your quota or choose another folder",
    errno.EROFS: "choose a folder on a writable file system",
    errno.EACCES: "give yourself access to it or choose another path",
    errno.EPERM: "choose a folder you may write",  # an immutable or special one refuses even root
    errno.ENAMETOOLONG: "choose a shorter path or name",
}
"""What to do about each of `WRITE_ERRNOS` (a denied read is fixed otherwise than a full disk)."""


def os_error_line(exc: OSError) -> str:
    """One line for an OS error the user can fix: the path, the system's words and what to do, e.g.
    "/data/x.db: Permission denied; give yourself access to it or choose another path"."""
    where = f"{exc.filename}: " if exc.filename else ""
    fix = OS_ERROR_FIXES.get(exc.errno or 0, "choose another path")
    return f"{where}{exc.strerror or exc}; {fix}"


def _unexpected(exc: Exception, verbose: bool) -> int:
    """One line (exit 3) for a failure nobody foresaw; `-v` adds the traceback."""
    if isinstance(exc, BrokenPipeError) and stdout_reader_gone():  # not a socket or another pipe
        return _stdout_gone()
    if verbose:
        traceback.print_exc()
    root = root_cause(exc)
    message = scrub(" ".join(_without_ray_data_advice(exception_text(str(root))).split()))[:500]
    print(
        f"seqsweep: unexpected error: {type(root).__name__}: {message} (run with -v for the traceback)",
        file=sys.stderr,
    )
    return EXIT_UNEXPECTED


RAY_DATA_ADVICE = "Failed to apply UDF transform"
"""How Ray Data starts the retry advice it appends to a task's error message (data/build.py keeps the
task's own first line for seqsweep's errors; this cuts it from unforeseen ones)."""


def _without_ray_data_advice(text: str) -> str:
    """`text` up to Ray Data's appended retry advice, if any."""
    head, _, _ = text.partition(RAY_DATA_ADVICE)
    return head.rstrip() or text


if __name__ == "__main__":
    sys.exit(main())
