"""`seqsweep run`, `seqsweep validate`, `seqsweep resume`: the sweep's main job."""

from __future__ import annotations

import argparse
import dataclasses
import math

from seqsweep.search_spaces.sweep import SweepSpec, load_sweep


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser("run", help="run a sweep file (or a built-in sweep: demo, lstm_base, ...)")
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
    add_override_argument(validate)
    validate.set_defaults(func=validate_command)

    resume = subparsers.add_parser(
        "resume", help="continue a sweep whose driver stopped (Ctrl-C, SIGKILL, lost node)"
    )
    resume.add_argument("experiment", help="experiment directory (<storage_path>/<name>)")
    resume.add_argument("--address", help="Ray cluster address (default: a private local Ray)")
    resume.add_argument(
        "--db", help="database URL, needed when the sweep's URL had a password (never stored)"
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
    from seqsweep.tuning import run_sweep

    outcome = run_sweep(load_with_overrides(args), address=args.address, storage=args.storage)
    print(outcome.describe())
    return outcome.exit_code


def resume_command(args: argparse.Namespace) -> int:
    from seqsweep.tuning import resume_sweep

    outcome = resume_sweep(args.experiment, address=args.address, db=args.db)
    print(outcome.describe())
    return outcome.exit_code


def validate_command(args: argparse.Namespace) -> int:
    spec = load_with_overrides(args)
    print(
        f"{spec.name}: sweep file valid ({len(spec.searched)} searched parameters, {spec.num_samples} trials)"
    )
    if args.no_data:
        return 0
    from seqsweep.data import build_dataset

    bundle = build_dataset(dry_run_spec(spec), cache_dir=None)
    counts = ", ".join(f"{name} {len(w)}" for name, w in bundle.splits.items())
    print(f"{spec.name}: dataset dry build ok ({len(bundle.symbols)} symbols, windows: {counts})")
    return 0


def dry_run_spec(spec: SweepSpec):
    """The sweep's dataset on a bounded query: enough latest rows per symbol for a few windows per split."""
    ds = spec.file.dataset
    smallest = min(ds.split.train, ds.split.valid, 1 - ds.split.train - ds.split.valid)
    rows = math.ceil(4 * (ds.lookback + ds.horizon + ds.split.gap) / smallest)
    if ds.max_rows_per_symbol is not None:
        rows = min(rows, ds.max_rows_per_symbol)
    return dataclasses.replace(ds, max_rows_per_symbol=rows)
