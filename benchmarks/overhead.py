"""Ratio 5: scheduling overhead per trial: a sweep of trivial trials, wall time per trial minus their work.

The sweep is the product's `run_sweep` on the built-in `demo` sweep file (TPE + ASHA, 2 trials at a
time, 1 CPU each, checkpoints and progress callback as usual), with the trial function swapped for
one that reports once and returns, and no dataset. Its work (time inside the function before the
report) is reported with the result and subtracted: overhead per trial = (wall − Σ work / 2) / trials.
The local Ray is already running (its start is not counted); the sweep's own setup is.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Context, Row, median, spread, stopwatch, swapped_trainable, sweep_spec

CONCURRENCY = 2
GOAL_S = 2.0


def trivial_trial(config: dict[str, Any]) -> None:
    """Report once and return: the least a trial can do."""
    from ray import tune

    from seqsweep.constants import EPOCH, FINAL_EPOCH, VAL_MACRO_F1

    started = time.perf_counter()
    score = float(sum(hash(str(v)) % 1000 for v in config.values()) / 1000.0)
    work = time.perf_counter() - started
    tune.report({VAL_MACRO_F1: score, EPOCH: 1, FINAL_EPOCH: True, "work_s": work})


def trivial_trainable(spec: Any, bundle: Any, experiment_dir: Path) -> Any:
    from ray import tune

    return tune.with_resources(trivial_trial, {"cpu": spec.file.resources.cpu, "gpu": 0})


def total_work(experiment_dir: Path) -> float:
    work = 0.0
    for result_file in experiment_dir.glob("*/result.json"):
        for line in result_file.read_text().splitlines():
            if line.strip():
                work += float(json.loads(line).get("work_s", 0.0))
    return work


def measure(ctx: Context) -> list[Row]:
    from seqsweep.tuning.runner import run_sweep

    trials = ctx.scale.overhead_trials
    per_trial: list[float] = []
    for repeat in range(ctx.scale.repeats):
        spec = sweep_spec(
            "demo",
            {
                "name": f"trivial_{repeat}",
                "search": {"num_samples": trials, "max_concurrent": CONCURRENCY, "seed": repeat},
                "failure": {"max_retries": 0},
                "storage_path": str(ctx.workdir / "overhead"),
            },
        )
        with swapped_trainable(trivial_trainable, build_in_driver=False), stopwatch() as elapsed:
            outcome = run_sweep(spec)
            wall = elapsed()
        if outcome.num_errored or outcome.num_trials != trials:
            raise RuntimeError(
                f"overhead: {outcome.num_errored} of {outcome.num_trials} trivial trials errored"
            )
        per_trial.append((wall - total_work(outcome.experiment_dir) / CONCURRENCY) / trials)
    value = median(per_trial)
    return [
        Row(
            key="5",
            measured=(
                f"scheduling overhead: wall time per trial of a {trials}-trial sweep of trivial trials (report once, "
                f"return) through `run_sweep` (TPE + ASHA, {CONCURRENCY} at a time, checkpoint config and progress "
                f"callback as usual), minus their work; median of {ctx.scale.repeats} (s: {spread(per_trial, '{:.2f}')})"
            ),
            value=f"{value:.2f} s per trial",
            goal=f"< {GOAL_S:.0f} s",
            met=value < GOAL_S,
            command=ctx.command("overhead"),
        )
    ]
