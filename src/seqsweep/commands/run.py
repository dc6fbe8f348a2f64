"""`seqsweep run`, `seqsweep validate`, `seqsweep resume`: the sweep's main job."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from seqsweep._fs import writable_folder
from seqsweep._text import counted
from seqsweep.data.spec import MAX_ROWS_PER_SYMBOL
from seqsweep.errors import DateCutError
from seqsweep.search_spaces.sweep import SweepSpec, load_sweep

if TYPE_CHECKING:
    from seqsweep.data.spec import DatasetSpec
    from seqsweep.tuning import SweepOutcome

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser(
        "run",
        help="run a sweep file (or a built-in sweep: demo, lstm_base, ...)",
        description="Run a sweep. Exit 0 when every trial finished, also when the sweep's "
        "search.time_budget_s was spent or a search.stop_at target was reached (a line says which: "
        "running trials finish their epoch, no new trial starts); 1 when a trial errored; 2 for bad "
        "input; 130/143 when interrupted (continue with `seqsweep resume DIR`). The file names a model "
        "family or builder (`model:`) or any training function (`trainable: package.module:train`, "
        "e.g. the built-in sweep sklearn_gbm).",
    )
    run.add_argument("sweep", help="sweep file path or built-in name")
    run.add_argument(
        "--address", help="Ray cluster: auto, HOST:PORT or ray://HOST:10001 (default: a private local Ray)"
    )
    run.add_argument("--storage", help="storage path for experiments (overrides the file's storage_path)")
    run.add_argument("--db", help="SQLAlchemy database URL (overrides the file's dataset.db)")
    add_override_argument(run)
    run.set_defaults(func=run_command)

    validate = subparsers.add_parser(
        "validate", help="check a sweep file, including a dry build on a bounded query"
    )
    validate.add_argument("sweep", help="sweep file path or built-in name")
    validate.add_argument("--db", help="SQLAlchemy database URL (overrides the file's dataset.db)")
    validate.add_argument("--no-data", action="store_true", help="skip the dry build of the dataset")
    validate.add_argument(
        "--cache-dir", help="where the dry build caches its dataset (default: <storage_path>/datasets)"
    )
    add_override_argument(validate)
    validate.set_defaults(func=validate_command)

    resume = subparsers.add_parser(
        "resume",
        help="continue a sweep whose driver stopped (Ctrl-C, SIGKILL, lost node), or run more trials",
    )
    resume.add_argument("experiment", help="experiment directory (<storage_path>/<name>)")
    resume.add_argument("--address", help="Ray cluster address (default: a private local Ray)")
    resume.add_argument(
        "--db", help="database URL, needed when the sweep's URL had a password (never stored)"
    )
    resume.add_argument(
        "--num-samples",
        type=int,
        metavar="N",
        help="raise the sweep's trial count to N (finished or interrupted sweep; the study and TPE's "
        "history go on, finished trials are not rerun; not for grid search)",
    )
    resume.add_argument(
        "--time-budget-s",
        type=float,
        metavar="S",
        help="a new search.time_budget_s: seconds for the whole sweep, counted from its start "
        "(the time it was stopped left out)",
    )
    resume.set_defaults(func=resume_command)


def add_override_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override one key of the sweep file, e.g. --set params.epochs=3 (repeatable)",
    )


def load_with_overrides(args: argparse.Namespace) -> SweepSpec:
    """The sweep file named on the command line, with `--set` and `--db` applied."""
    from seqsweep.search_spaces.credentials import replace_db

    spec = load_sweep(args.sweep, getattr(args, "overrides", ()))
    return replace_db(spec, args.db) if getattr(args, "db", None) else spec


def run_command(args: argparse.Namespace) -> int:
    """`seqsweep run`: 0 all trials finished (or the sweep's time budget or stop_at target ended it, which
    a line says), 1 some errored, 130/143 interrupted by SIGINT/SIGTERM."""
    from seqsweep.tuning import SweepInterrupted, run_sweep

    spec = load_with_overrides(args)
    try:
        outcome = run_sweep(spec, address=args.address, storage=args.storage)
    except SweepInterrupted as exc:
        print(exc.describe(), file=sys.stderr)
        return exc.exit_code
    return _report(outcome)


def resume_command(args: argparse.Namespace) -> int:
    """`seqsweep resume`: exit codes as for `run`."""
    from seqsweep.tuning import SweepInterrupted, resume_sweep

    try:
        outcome = resume_sweep(
            args.experiment,
            address=args.address,
            db=args.db,
            num_samples=getattr(args, "num_samples", None),
            time_budget_s=getattr(args, "time_budget_s", None),
        )
    except SweepInterrupted as exc:
        print(exc.describe(), file=sys.stderr)
        return exc.exit_code
    return _report(outcome)


def _report(outcome: SweepOutcome) -> int:
    """Print the summary (or, for an interrupted sweep, the one line that says how to go on)."""
    if outcome.interrupted_by is not None:
        print(outcome.describe(), file=sys.stderr, flush=True)
    else:
        print(outcome.describe(), flush=True)
    return outcome.exit_code


def validate_command(args: argparse.Namespace) -> int:
    spec = load_with_overrides(args)
    if spec.file.warm_start:
        from seqsweep.layout import earlier_experiment_dir

        earlier_experiment_dir(spec.file.warm_start)
    print(
        f"{spec.name}: sweep file valid ({counted(len(spec.searched), 'searched parameter')}, "
        f"{counted(spec.num_samples, 'trial')})"
    )
    from seqsweep.cluster.machine import machine_resource_warnings

    # warnings (`seqsweep: warning: ...`), not errors: the file may be meant for a cluster that has them
    for line in machine_resource_warnings(spec.file.resources):
        logger.warning("%s", line)
    if args.no_data:
        return 0
    from seqsweep.data import build_dataset

    if args.cache_dir:
        writable_folder(Path(args.cache_dir), "--cache-dir")  # refused now, not after the dry build
    elif "://" not in spec.file.storage_path:
        from seqsweep.tuning.runner import check_storage_root

        check_storage_root(Path(spec.file.storage_path).expanduser().resolve())  # as `run` refuses it
    cache_dir = args.cache_dir or dry_run_cache_dir(spec)
    # a bounded query: read in this process, without starting Ray
    try:
        bundle = build_dataset(
            dry_run_spec(spec), cache_dir=cache_dir, use_cache=cache_dir is not None, in_process=True
        )
    except DateCutError:
        ds = spec.file.dataset
        if ds.start is not None or ds.end is not None or ds.max_rows_per_symbol is not None:
            raise  # `run` cuts the rows by date too, and refuses alike
        # the cut is the dry run's own: `run` reads these text dates whole and parses them in Python
        print(f"{spec.name}: the dates are text SQL cannot cut by time, so the dry build reads every row")
        bundle = build_dataset(ds, cache_dir=cache_dir, use_cache=cache_dir is not None, in_process=True)
    counts = ", ".join(f"{name} {len(w)}" for name, w in bundle.splits.items())
    print(f"{spec.name}: dataset dry build ok ({counted(len(bundle.symbols), 'symbol')}, windows: {counts})")
    return 0


def dry_run_cache_dir(spec: SweepSpec) -> str | None:
    """`<storage_path>/datasets`, where `seqsweep run` caches the sweep's datasets; None (no cache)
    for a URI storage path, so the dry build writes nothing outside where the user pointed."""

    from seqsweep.layout import dataset_cache_dir

    root = spec.file.storage_path
    cache = dataset_cache_dir(root if "://" in root else Path(root).expanduser().resolve())
    return None if cache is None else str(cache)


def dry_run_spec(spec: SweepSpec) -> DatasetSpec:
    """The sweep's dataset on a bounded query: enough latest rows per symbol for a few windows per split."""
    ds = spec.file.dataset
    fractions = ds.split.fractions
    if fractions is None:  # a split by dates: the rows around the two dates
        return _dry_run_by_dates(ds)
    train, valid = fractions
    smallest = min(train, valid, 1 - train - valid)
    rows = math.ceil(4 * (ds.lookback + ds.horizon + ds.split.gap) / smallest)
    # a tiny split fraction asks for more rows than a database integer holds: the spec's own cap
    rows = min(rows, MAX_ROWS_PER_SYMBOL if ds.max_rows_per_symbol is None else ds.max_rows_per_symbol)
    return dataclasses.replace(ds, max_rows_per_symbol=rows)


def _dry_run_by_dates(ds: DatasetSpec) -> DatasetSpec:
    """A split by dates, bounded to a few windows' worth of grid steps before valid_start and after
    test_start (the whole validation period in between), so the dates are still checked against the rows."""
    import pandas as pd

    from seqsweep.data.features import grid_step
    from seqsweep.data.spec import naive_utc

    step, dates = grid_step(ds.frequency), ds.split.dates
    if step is None or dates is None:  # rows as they come: no step to count in, read them all
        return ds
    try:
        margin = 4 * (ds.lookback + ds.horizon + ds.split.gap) * step
        # walk-forward folds: the k − 1 earlier validation blocks, and fold 0's train (one block), come first
        folds_span = (dates[1] - dates[0]) * ds.split.folds if ds.split.folds > 1 else pd.Timedelta(0)
        start, end = dates[0] - margin - folds_span, dates[1] + margin
    except (OverflowError, pd.errors.OutOfBoundsDatetime, pd.errors.OutOfBoundsTimedelta):
        # a margin past the dates a timestamp holds bounds nothing: read every row, as without a step
        return ds
    if ds.start is not None:
        start = max(start, naive_utc(ds.start, "dataset.start"))
    if ds.end is not None:
        end = min(end, naive_utc(ds.end, "dataset.end", last_kept=True))
    return dataclasses.replace(ds, start=str(start), end=str(end))
