"""`seqsweep data sample | load-csv | build`: make a database, fill one from CSV, build a dataset."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from seqsweep._fs import writable_folder
from seqsweep.constants import DB_URL_ENV, DEFAULT_SAMPLE_DB, SAMPLE_HOURS, SAMPLE_SEED
from seqsweep.errors import ConfigError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("data", help="generate, load and build datasets")
    actions = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    _sample_parser(actions)
    _load_csv_parser(actions)
    _build_parser(actions)


# --- data sample ---------------------------------------------------------------------------------


def _sample_parser(actions: Any) -> None:
    parser = actions.add_parser(
        "sample",
        help="write the generated sample database (the default source)",
        description="Generate four tables: the notebook's three (lending rates, prices, bond yield) for its 16 "
        "symbols and ETHUSDT, hourly, and the `ohlcv` table of ETHUSDT's 5-minute candles, with realistic "
        "dynamics (generated data, not market data). Deterministic for a seed.",
    )
    parser.add_argument(
        "--db",
        help="SQLAlchemy URL (default: the embedded default's own file, which is rewritten as asked)",
    )
    parser.add_argument("--seed", type=int, default=SAMPLE_SEED)
    parser.add_argument("--hours", type=int, default=SAMPLE_HOURS, help="hours per symbol (>= 48)")
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace tables of --db that already hold rows (refused without it: they may be your data)",
    )
    parser.set_defaults(func=_sample)


MAX_SAMPLE_HOURS = 1_000_000
"""The most hours `data sample` generates (114 years a symbol; about 2 GB a table)."""


def _sample(args: argparse.Namespace) -> int:
    from seqsweep.data.sample import write_sample
    from seqsweep.db_url import mask

    if not 48 <= args.hours <= MAX_SAMPLE_HOURS:  # beyond, the dates would pass 2262 (datetime64[ns])
        raise ConfigError(f"--hours: must be between 48 and {MAX_SAMPLE_HOURS:,}, got {args.hours}")
    if not 0 <= args.seed < 2**32:
        raise ConfigError(f"--seed: must be between 0 and 2**32 - 1, got {args.seed}")
    # the default file is the project's own cache (load-csv never writes there): always rewritten
    db = args.db if args.db is not None else f"sqlite:///{Path(DEFAULT_SAMPLE_DB).expanduser()}"
    rows = write_sample(db, seed=args.seed, hours=args.hours, replace=args.force or args.db is None)
    print(f"wrote the generated sample database to {mask(db)}: " + _rows(rows))
    return 0


def _rows(rows: dict[str, int]) -> str:
    return ", ".join(f"{table} {n} rows" for table, n in rows.items())


# --- data load-csv -------------------------------------------------------------------------------


def _load_csv_parser(actions: Any) -> None:
    parser = actions.add_parser(
        "load-csv",
        help="load <table>.csv[.gz|.bz2|.zip|.xz] files into a database",
        description="Load every <table>.csv[.gz|.bz2|.zip|.xz] in DIR (or one FILE as --table) into any SQLAlchemy "
        "database, in chunks, replacing tables of the same name. Dates become naive UTC (offsets converted, "
        "epoch numbers read in their unit), other columns numbers (thousands separators parsed), symbols "
        "stripped and upper-cased; a value that cannot be read is named and nothing is written.",
    )
    parser.add_argument("path", metavar="DIR_OR_FILE")
    parser.add_argument("--db", help=f"SQLAlchemy URL (default: ${DB_URL_ENV})")
    parser.add_argument("--table", help="load the one FILE under this table name (e.g. ohlcv)")
    parser.add_argument("--chunk-rows", type=int, default=50_000, help="rows read and written per chunk")
    parser.set_defaults(func=_load_csv)


def _load_csv(args: argparse.Namespace) -> int:
    from seqsweep.data.load_csv import load_csv
    from seqsweep.db_url import mask, resolve

    url = resolve(args.db, allow_sample=False, command="load-csv")
    if args.chunk_rows < 1:
        raise ConfigError(f"--chunk-rows: must be >= 1, got {args.chunk_rows}")
    rows = load_csv(args.path, url, table=args.table, chunk_rows=args.chunk_rows)
    print(f"loaded into {mask(url)}: " + _rows(rows))
    return 0


# --- data build ----------------------------------------------------------------------------------


def _build_parser(actions: Any) -> None:
    from seqsweep.data.joins import JOINS
    from seqsweep.data.profiles import PROFILES

    parser = actions.add_parser(
        "build",
        help="build (or read from the cache) a dataset and print its summary",
        description="SPEC is a YAML file holding a dataset section, a whole sweep file with a `dataset:` "
        "key, or a built-in sweep's name (demo, lstm_base, ...). Flags override it; without SPEC the flags (and the defaults) describe the dataset.",
    )
    parser.add_argument(
        "spec",
        nargs="?",
        metavar="SPEC_OR_SWEEP",
        help="a YAML file (a dataset section or a whole sweep file) or a built-in sweep name, e.g. demo",
    )
    parser.add_argument(
        "--db", help=f"SQLAlchemy URL (default: dataset.db, ${DB_URL_ENV}, the sample database)"
    )
    parser.add_argument(
        "--cache-dir",
        help="built-dataset cache (default: for a sweep file, its <storage_path>/datasets, where `run` "
        "caches; else ~/.cache/seqsweep/datasets)",
    )
    parser.add_argument("--no-cache", action="store_true", help="build even if cached, and do not cache")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--profile", choices=sorted(PROFILES), help="start from a named profile")
    parser.add_argument("--join", choices=list(JOINS))
    parser.add_argument("--symbols", help="comma-separated, e.g. ETHUSDT,LINKUSDT")
    parser.add_argument("--targets", help="comma-separated target columns")
    parser.add_argument("--lookback", type=int)
    parser.add_argument("--horizon", type=int)
    parser.add_argument("--frequency", help="grid step, e.g. 1h or 5min")
    parser.add_argument("--max-rows-per-symbol", type=int, help="keep only the latest N rows per symbol")
    parser.add_argument("--csv", help="join ohlcv: read this CSV(.gz) instead of a table")
    parser.add_argument("--ohlcv-symbol", help="join ohlcv: the one instrument's symbol (default ETHUSDT)")
    parser.add_argument(
        "--transform",
        metavar="COLUMN=NAME,...",
        help="input transforms, e.g. close=log_return,volume=log1p (level, diff, log_return, pct_change, log1p)",
    )
    parser.add_argument(
        "--exclude-columns", metavar="COLUMN,...", help="value columns to leave out, e.g. volume"
    )
    parser.add_argument("--valid-start", help="split by dates: first timestamp of the validation split")
    parser.add_argument("--test-start", help="split by dates: first timestamp of the test split")
    parser.set_defaults(func=_build)


def _read_spec_file(path: str) -> dict[str, Any]:
    import yaml

    from seqsweep._yaml import describe_error, load_strict, read_yaml_file

    try:
        data = load_strict(read_yaml_file(Path(path).expanduser(), "the dataset spec"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {describe_error(exc)}") from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise ConfigError(f"{path}: not valid YAML: nested too deeply") from None
    if data is None:  # an empty file built the defaults, where `validate` refuses it
        raise ConfigError(f"{path}: the file is empty; write a dataset section or a sweep file")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping (a dataset section or a sweep file), got {type(data).__name__}"
        )
    section = data.get("dataset", data)
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: dataset: expected a mapping, got {type(section).__name__}")
    return dict(section)


def _sweep_cache_dir(args: argparse.Namespace) -> str | None:
    """For a sweep file, `<storage_path>/datasets` (where `run` and `validate` cache its dataset, so that
    `run` reads what `data build` built); None (the default cache) for a dataset section or a URI path."""
    if not args.spec:
        return None
    import yaml

    from seqsweep._yaml import load_strict, read_yaml_file
    from seqsweep.layout import dataset_cache_dir
    from seqsweep.search_spaces.sweep import SweepFile, resolve_sweep_path

    path = resolve_sweep_path(args.spec)
    try:
        data = load_strict(read_yaml_file(Path(path).expanduser(), "the dataset spec"))
    except (yaml.YAMLError, RecursionError):  # `spec_mapping` has named the fault already
        return None
    if not isinstance(data, dict) or "dataset" not in data:
        return None
    root = data.get("storage_path", SweepFile.storage_path)
    if not isinstance(root, str) or "://" in root:
        return None
    cache = dataset_cache_dir(Path(root).expanduser().resolve())
    return None if cache is None else str(cache)


def spec_mapping(args: argparse.Namespace) -> dict[str, Any]:
    """Profile, then the file's dataset section, then flags: later ones win."""
    from seqsweep.data.profiles import PROFILES

    mapping: dict[str, Any] = dict(PROFILES[args.profile]) if args.profile else {}
    if args.spec:
        from seqsweep.search_spaces.sweep import resolve_sweep_path

        mapping |= _read_spec_file(str(resolve_sweep_path(args.spec)))
    for key in ("join", "lookback", "horizon", "frequency", "max_rows_per_symbol", "csv", "ohlcv_symbol"):
        value = getattr(args, key)
        if value is not None:
            mapping[key] = value
    for key in ("symbols", "targets", "exclude_columns"):
        value = getattr(args, key, None)
        if value is not None:
            mapping[key] = [item.strip() for item in value.split(",") if item.strip()]
    if getattr(args, "transform", None) is not None:
        mapping["transform"] = _transform_flag(args.transform)
    dates = {k: getattr(args, k, None) for k in ("valid_start", "test_start")}
    if any(v is not None for v in dates.values()):
        split = dict(mapping.get("split") or {})
        for fraction in ("train", "valid"):  # dates given on the command line replace the file's fractions
            split.pop(fraction, None)
        mapping["split"] = split | {k: v for k, v in dates.items() if v is not None}
    return mapping


def _transform_flag(value: str) -> dict[str, str]:
    """`close=log_return,volume=log1p` → {close: log_return, volume: log1p}; ConfigError on a malformed item."""
    transforms: dict[str, str] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        column, sep, name = item.partition("=")
        if not sep or not column.strip() or not name.strip():
            raise ConfigError(
                f"--transform: expected COLUMN=NAME items such as close=log_return, got {item!r}"
            )
        if column.strip() in transforms:  # `close=log_return,close=diff` kept the last without a word
            raise ConfigError(
                f"--transform: column {column.strip()!r} is given twice; give each column one transform"
            )
        transforms[column.strip()] = name.strip()
    return transforms


def _build(args: argparse.Namespace) -> int:
    from seqsweep.data.build import build_dataset
    from seqsweep.data.spec import DatasetSpec
    from seqsweep.data.summary import render_text

    spec = DatasetSpec.from_dict(spec_mapping(args))
    if args.cache_dir is not None and not args.no_cache:  # refused now, not after the whole build
        writable_folder(Path(args.cache_dir), "--cache-dir")
    cache_dir = args.cache_dir if args.cache_dir is not None else _sweep_cache_dir(args)
    bundle = build_dataset(spec, db_url=args.db, cache_dir=cache_dir, use_cache=not args.no_cache)
    summary = bundle.summary()
    print(json.dumps(summary, indent=2) if args.json else render_text(summary))
    return 0
