"""Ratio 6: start-up cost of the commands that need no cluster, as a ratio to `seqsweep --help`.

Each command runs as a user runs it, a fresh `seqsweep` process, side by side with `seqsweep --help`
(which imports the CLI and nothing heavy) in the same run, alternating so that a busy machine slows
both alike. Goals (issue 12): `validate demo` ≤ 3× and `results` on a finished demo ≤ 4× the help's
wall time. `validate` dry-builds the bounded query in its own process (no Ray); `results` reads the
experiment and the cached dataset (no Ray unless the cache is gone). `results` is timed twice: the first
call on the experiment (6b: its kept predictions removed before each repeat, so it loads the winner with
TensorFlow and predicts) and a call again (6c: it reads the predictions the first one kept,
`seqsweep.results.prediction_cache`), the same goal for both.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import Context, Row, median, spread, worker_env
from seqsweep.layout import PREDICTIONS_DIR

GOALS = {"validate": 3.0, "results": 4.0, "results_again": 4.0}
LABELS = {
    "validate": "`seqsweep validate demo`",
    "results": (
        "`seqsweep results DIR`, the first on a finished 2-trial demo (it loads the winner with TensorFlow, "
        "scores valid and test, draws 1000 bootstrap samples and writes the plots)"
    ),
    "results_again": (
        "`seqsweep results DIR` again on the same demo (the winner's predictions kept by the first call "
        "are read back: no TensorFlow; the same scores, bootstrap and plots)"
    ),
}


def _seqsweep() -> str:
    """The `seqsweep` command of this interpreter's environment (beside `sys.executable`), else PATH's."""
    beside = Path(sys.executable).with_name("seqsweep")
    found = str(beside) if beside.is_file() else shutil.which("seqsweep")
    if found is None:
        raise RuntimeError("benchmarks: the `seqsweep` command is not installed (run `make install`)")
    return found


KERAS_IMPORT = [sys.executable, "-c", "import keras"]
"""What loading a winner's Keras checkpoint cannot do without: Keras 3 and its TensorFlow backend imported
in a fresh process (row 6b's floor: no first `results` on a Keras experiment can start faster)."""


def _timed(args: list[str], cwd: Path, argv: list[str] | None = None) -> float:
    """Wall seconds of one `seqsweep ARGS` process (or of `argv` as given); raises with its stderr when it
    fails."""
    started = time.perf_counter()
    proc = subprocess.run(
        argv or [_seqsweep(), *args],
        cwd=cwd,
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(
            f"seqsweep {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}"
        )
    return elapsed


def measure(ctx: Context) -> list[Row]:
    folder = ctx.workdir / "startup"
    folder.mkdir(parents=True, exist_ok=True)
    db = ctx.sample_db_url(400)
    storage = folder / "runs"
    # a finished demo to read: 2 trials of 1 epoch (its cost is not measured)
    _timed(
        ["run", "demo", "--db", db, "--storage", str(storage),
         "--set", "params.epochs=1", "--set", "search.num_samples=2", "--set", "scheduler.type=none"],
        folder,
    )  # fmt: skip
    experiment = storage / "demo"
    commands = {
        "validate": ["validate", "demo", "--db", db, "--cache-dir", str(folder / "validate-cache")],
        "results": ["results", str(experiment), "--top", "1"],
        "results_again": ["results", str(experiment), "--top", "1"],
    }
    _timed(commands["validate"], folder)  # warm the OS file cache and the dry-build cache alike
    times: dict[str, list[float]] = {"help": [], **{name: [] for name in commands}, "keras": []}
    for _ in range(ctx.scale.repeats):
        shutil.rmtree(experiment / PREDICTIONS_DIR, ignore_errors=True)  # `results` is the first call
        for name, args in (("help", ["--help"]), *commands.items()):
            times[name].append(_timed(args, folder))
        times["keras"].append(_timed([], folder, argv=KERAS_IMPORT))
    help_s = median(times["help"])
    keras_s = median(times["keras"])
    floor = (
        f'; of that, importing Keras and TensorFlow alone in a fresh process (`python -c "import keras"`, '
        f"in the same run) takes {keras_s:.1f} s = {keras_s / help_s:.1f}× `--help` (s: "
        f"{spread(times['keras'], '{:.1f}')}): no first call on a Keras experiment can go below that"
    )
    rows = []
    for key, name in (("6a", "validate"), ("6b", "results"), ("6c", "results_again")):
        ratio = median(times[name]) / help_s
        rows.append(
            Row(
                key=key,
                measured=(
                    f"start-up: wall time of {LABELS[name]} over `seqsweep --help`, fresh "
                    f"processes alternating in one run, the generated database (16 symbols × 400 h); median of "
                    f"{ctx.scale.repeats} (s: {name.replace('_', ' ')} {spread(times[name], '{:.1f}')}; help {spread(times['help'], '{:.1f}')})"
                    f"{floor if name == 'results' else ''}"
                ),
                value=f"{ratio:.2f}× ({median(times[name]):.2f} s vs {help_s:.2f} s)",
                goal=f"≤ {GOALS[name]:.0f}×",
                met=ratio <= GOALS[name],
                command=ctx.command("startup"),
            )
        )
    return rows
