"""`python -m benchmarks.run [--scale small|full|notebook] [--only NAME]`: measure, print one table, write results.md.

The ratios of issues 7, 12 and 13, each measured side by side in this one run (one local Ray, 2 CPUs):

    store       2a–2c  object-store bytes of the built dataset, folds 1 vs 3 (benchmarks/store_bytes.py)
    throughput  3a–3d  windows/s per trial vs the notebook's Keras     (benchmarks/throughput.py)
    overhead    5      scheduling overhead per trivial trial           (benchmarks/overhead.py)
    startup     6a–6c  `validate`, `results` (first, again) vs `--help` (benchmarks/startup.py)
    build_speed 7      Ray Data build vs one pandas process; tasks on two nodes (benchmarks/build_speed.py)
    built_once  8a/8b  a trial's data access vs rebuild; end-to-end at two scales (benchmarks/built_once.py;
                       8b's generated scale is the former row 1, `data_once`)
    search      4      LSTM-VAE grid vs TPE + ASHA on the real data    (benchmarks/search_efficiency.py)

`--scale full` is what the README's table reports (20–22 minutes on 2 quiet cores of the CI machine
type, 2026-11-30); `--scale small` checks the wiring in a few minutes and its numbers mean little. Benchmarks are not tests: nothing here
asserts a time, a row that misses its goal says `no`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import NUM_CPUS, SCALES, Context, Row, start_ray, stop_ray

MEASUREMENTS: dict[str, tuple[str, str]] = {
    "store": ("benchmarks.store_bytes", "2"),
    "throughput": ("benchmarks.throughput", "3"),
    "overhead": ("benchmarks.overhead", "5"),
    "startup": ("benchmarks.startup", "6"),
    "search": ("benchmarks.search_efficiency", "4"),
    "build_speed": ("benchmarks.build_speed", "7"),
    "built_once": ("benchmarks.built_once", "8"),
}
"""Name → (module with `measure(ctx)`, row number); run in this order (cheap ones first)."""
RESULTS = Path(__file__).with_name("results.md")


def machine() -> str:
    gpu = "none"
    smi = shutil.which("nvidia-smi")
    if smi is not None:
        import subprocess

        try:
            out = subprocess.run(
                [smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, timeout=10
            )
            gpu = ", ".join(out.stdout.split("\n")).strip(", ") or "none"
        except (OSError, subprocess.SubprocessError):
            pass
    memory = ""
    try:
        lines = Path("/proc/meminfo").read_text().splitlines()
        kb = int(next(line for line in lines if line.startswith("MemTotal")).split()[1])
        memory = f", {kb / 1024**2:.0f} GB memory"
    except (OSError, StopIteration, ValueError):
        pass
    cpu = platform.processor() or platform.machine()
    return f"{os.cpu_count()} cores ({cpu}){memory}, GPU: {gpu}; Ray started with num_cpus={NUM_CPUS}"


def versions() -> str:
    from importlib.metadata import version

    names = ("ray", "optuna", "keras", "tensorflow-cpu", "torch")
    found = []
    for name in names:
        try:
            found.append(f"{name} {version(name)}")
        except Exception:
            continue
    return f"Python {platform.python_version()}, " + ", ".join(found)


def table(rows: list[Row]) -> str:
    lines = [
        "| row | what was measured | value | goal | met | command |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [row.key, row.measured, row.value, row.goal, row.met_text, f"`{row.command}`"]
        lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines)


def failed_row(name: str, number: str, ctx: Context, exc: BaseException) -> Row:
    reason = " ".join(str(exc).split())[:300] or type(exc).__name__
    return Row(
        key=number,
        measured=f"{name}: the measurement failed ({type(exc).__name__}: {reason})",
        value="not measured",
        goal="—",
        met=None,
        command=ctx.command(name),
    )


def run(names: list[str], ctx: Context, log: Callable[[str], None]) -> tuple[list[Row], dict[str, float]]:
    rows: list[Row] = []
    timings: dict[str, float] = {}
    for name in names:
        module_name, number = MEASUREMENTS[name]
        log(f"[benchmarks] {name}: measuring ({ctx.scale.name} scale) ...")
        started = time.perf_counter()
        try:
            measure = importlib.import_module(module_name).measure
            new_rows = measure(ctx)
        except Exception as exc:  # one broken measurement must not hide the others
            traceback.print_exc()
            new_rows = [failed_row(name, number, ctx, exc)]
        timings[name] = time.perf_counter() - started
        log(f"[benchmarks] {name}: {timings[name]:.0f} s")
        rows += new_rows
    order = {key: i for i, key in enumerate(("1", "2", "2a", "2b", "3", "3a", "3b", "3c", "3d", "4", "5"))}
    rows.sort(key=lambda r: order.get(r.key, len(order)))
    return rows, timings


def report(rows: list[Row], timings: dict[str, float], ctx: Context, total_s: float) -> str:
    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    runtime = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())
    return "\n".join(
        [
            "# seqsweep benchmarks",
            "",
            f"- date: {today}",
            f"- machine: {machine()}",
            f"- software: {versions()}",
            f"- scale: `{ctx.scale.name}` (see `benchmarks/common.py::SCALES`); repeats behind each median: "
            f"{ctx.scale.repeats}",
            f"- runtime: {total_s / 60:.1f} min ({runtime})",
            "- command: `python -m benchmarks.run --scale " + ctx.scale.name + "`",
            "",
            table(rows),
            "",
        ]
    )


def quiet() -> None:
    """Keep the table readable: Ray, TensorFlow and friends log to stderr, not over the result."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    warnings.filterwarnings("ignore")
    for name in ("ray", "ray.tune", "ray.data", "seqsweep"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=tuple(SCALES), default="full")
    parser.add_argument(
        "--only", choices=tuple(MEASUREMENTS), action="append", help="run only this one (repeatable)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"where to write the table (default {RESULTS.name} beside this file for a run of every row; "
        "with --only nothing is written unless --out is given)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder (databases, experiments)"
    )
    args = parser.parse_args(argv)

    names = [n for n in MEASUREMENTS if args.only is None or n in args.only]
    out = args.out if args.out is not None else (RESULTS if args.only is None else None)
    quiet()
    workdir = Path(tempfile.mkdtemp(prefix="seqsweep-bench-"))
    ctx = Context(scale=SCALES[args.scale], workdir=workdir)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    start_ray()
    try:
        rows, timings = run(names, ctx, log)
    finally:
        stop_ray()
        if args.keep:
            log(f"[benchmarks] kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    text = report(rows, timings, ctx, time.perf_counter() - started)
    print(text)
    if out is not None:
        out.write_text(text)
        log(f"[benchmarks] wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
