"""`seqsweep results`, `seqsweep export`, `seqsweep predict`: what an engineer runs after a sweep.

Heavy imports (Ray, TensorFlow, torch) happen inside the commands, so `seqsweep --help` stays fast and
`predict` never loads Ray.
"""

from __future__ import annotations

import argparse
import json
import sys

from seqsweep.errors import ConfigError, NoValidTrialsError


def register(subparsers: argparse._SubParsersAction) -> None:
    results = subparsers.add_parser(
        "results",
        help="leaderboard, winners' test scores beside baselines, plots and an HTML report of an experiment",
    )
    results.add_argument("experiment", help="experiment directory (<storage_path>/<name>)")
    results.add_argument("--top", type=int, default=3, help="winners to list and test (default: 3)")
    results.add_argument(
        "--json", action="store_true", help="print winners.json (baselines, test scores, intervals) instead"
    )
    results.add_argument(
        "--no-test",
        action="store_true",
        help="read only what Ray stored: no dataset, so no baselines, no test scores and no intervals",
    )
    results.add_argument(
        "--reseed",
        type=int,
        metavar="N",
        help="retrain each of the --top configurations with N >= 1 new seeds (reused on later calls) and "
        "rank them by mean ± sd of the best validation score (leave it out for no reruns)",
    )
    results.add_argument("--db", help="database URL for the dataset (default: the sweep's dataset.db)")
    results.add_argument("--out", help="report folder (default: EXPERIMENT/report)")
    results.set_defaults(func=results_command)

    export = subparsers.add_parser("export", help="write the winner (or --trial) as a self-contained bundle")
    export.add_argument("experiment", help="experiment directory (<storage_path>/<name>)")
    export.add_argument("--out", required=True, help="bundle folder to write")
    export.add_argument("--trial", help="trial id to export (default: the winner by validation score)")
    export.add_argument("--db", help="database URL for the dataset (default: the sweep's dataset.db)")
    export.add_argument("--force", action="store_true", help="replace an existing --out folder")
    export.add_argument(
        "--refit",
        action="store_true",
        help="export the trial's configuration retrained on train + validation for its best epoch count "
        "(its own seed, train-fitted scalers and thresholds), scored on test beside the best checkpoint; "
        "refused for training functions (trainable:) and walk-forward folds; data-parallel sweeps refit "
        "single-worker",
    )
    export.set_defaults(func=export_command)

    predict = subparsers.add_parser(
        "predict", help="class probabilities from a bundle, for the latest rows in a DB"
    )
    predict.add_argument("bundle", help="bundle folder written by `seqsweep export`")
    predict.add_argument(
        "--db",
        help="SQLAlchemy database URL (default: the bundle's dataset.db, $SEQSWEEP_DB_URL, the sample database)",
    )
    predict.add_argument(
        "--symbols",
        nargs="+",
        help="symbols to predict, spaces or commas between (default: the bundle's symbols)",
    )
    predict.add_argument("--at", help="predict from the rows up to this timestamp (default: the latest rows)")
    predict.add_argument("--json", action="store_true", help="print JSON")
    predict.set_defaults(func=predict_command)


RESULTS_COUNTS: dict[str, str] = {
    "top": "the winners to list and test",
    "reseed": "new seeds per configuration; leave it out for no reruns",
}
"""The integer flags of `results` (argparse `dest`) that count something, with what each counts: given,
each must be >= 1 (`--reseed 0` did nothing and said nothing)."""


def check_counts(args: argparse.Namespace, counts: dict[str, str]) -> None:
    """ConfigError (one line: the flag, what it accepts, the value given) for a flag of `counts` given
    below 1; a flag left out (None) passes."""
    for dest, meaning in counts.items():
        value = getattr(args, dest, None)
        if value is not None and value < 1:
            raise ConfigError(f"--{dest.replace('_', '-')}: must be >= 1 ({meaning}), got {value}")


def results_command(args: argparse.Namespace) -> int:
    from seqsweep.results.pipeline import write_results
    from seqsweep.results.reseed import ReseedInterrupted

    check_counts(args, RESULTS_COUNTS)
    try:
        outcome = write_results(
            args.experiment,
            args.top,
            evaluate=not args.no_test,
            reseed=args.reseed or 0,
            db_url=args.db,
            out_dir=args.out,
        )
    except ReseedInterrupted as exc:
        print(exc.describe(), file=sys.stderr)
        return exc.exit_code
    except NoValidTrialsError as exc:  # every trial errored (say): each one's error, then the one line
        if exc.unranked and not args.json:
            print("no trial can be ranked:", *exc.unranked, sep="\n")
        raise
    if args.json:
        from seqsweep.results.leaderboard import json_safe

        print(json.dumps(json_safe(outcome.to_dict()), indent=2))
    else:
        print(outcome.describe())
    return 0


def export_command(args: argparse.Namespace) -> int:
    from seqsweep.results.export import export_bundle

    if args.trial is not None and not args.trial.strip():  # `--trial "$ID"` with ID unset exported the winner
        raise ConfigError("--trial is empty: name a trial id (see `seqsweep results DIR`), or leave it out")
    outcome = export_bundle(
        args.experiment, args.out, args.trial, db_url=args.db, force=args.force, refit=args.refit
    )
    print(outcome.describe())
    return 0


def predict_command(args: argparse.Namespace) -> int:
    from seqsweep.results.model_bundle import load_bundle
    from seqsweep.results.predict import predict_from_db

    symbols = (
        [s.strip() for item in args.symbols for s in item.split(",") if s.strip()] if args.symbols else None
    )
    if args.symbols is not None and not symbols:  # `--symbols "$LIST"` with LIST unset would predict them all
        from seqsweep.errors import ConfigError

        raise ConfigError(
            "--symbols names no symbol: give one or more (e.g. --symbols ETHUSDT,BTCUSDT), or leave it out"
        )
    prediction = predict_from_db(load_bundle(args.bundle), args.db, symbols, args.at)
    print(prediction.to_json() if args.json else prediction.describe())
    return 0
