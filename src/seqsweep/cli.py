"""`seqsweep` command line: one module per subcommand under `seqsweep.commands`.

Each command module exposes `register(subparsers)` which adds its parser and sets `func`. Errors a
user can fix (`SeqsweepError`) become one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import sys
import traceback
from collections.abc import Sequence

from seqsweep import __version__
from seqsweep.errors import SeqsweepError

COMMAND_MODULES: tuple[str, ...] = (
    "seqsweep.commands.data",
    "seqsweep.commands.run",
    "seqsweep.commands.results",
    "seqsweep.commands.cluster",
)
"""Modules that each register one or more subcommands; a module not written yet is skipped."""

EXIT_USER_ERROR = 2
EXIT_UNEXPECTED = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqsweep",
        description="Hyperparameter sweeps of sequence classifiers on market time series (Ray Tune + Optuna).",
    )
    parser.add_argument("--version", action="version", version=f"seqsweep {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(subparsers)
    return parser


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("ray", "filelock", "urllib3", "sentence_transformers", "optuna", "absl"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    _configure_logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except SeqsweepError as exc:
        print(f"seqsweep: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("seqsweep: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or an unforeseen failure: still one line, unless -v asks for more
        if args.verbose:
            traceback.print_exc()
        message = _hide_passwords(" ".join(str(exc).split()))[:500]
        print(
            f"seqsweep: unexpected error: {type(exc).__name__}: {message} (run with -v for the traceback)",
            file=sys.stderr,
        )
        return EXIT_UNEXPECTED


_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def _hide_passwords(text: str) -> str:
    """`scheme://user:secret@host` → `scheme://user:***@host` wherever a URL appears in a message."""
    return _URL_PASSWORD.sub(r"\1***@", text)


if __name__ == "__main__":
    sys.exit(main())
