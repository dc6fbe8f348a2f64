"""Ratio 1: a sweep whose dataset is built once (in the object store) vs one whose every trial rebuilds it.

Both are `seqsweep.tuning.runner.run_sweep` on the same sweep (the notebook's base LSTM on the
generated database of the notebook's 16 symbols, random search with a fixed seed so both train the
same 16 configurations, 2 epochs each, 2 trials at a time), timed end to end from the call to its return:

- built once (the product's path): the driver builds the dataset (Ray Data, one task per symbol),
  `tune.with_parameters` puts it in the object store once, every trial reads it;
- rebuilt per trial (the notebook's habit): the driver builds nothing and each trial calls
  `build_dataset(..., use_cache=False)` (SQL, embeddings + PCA, features, windows) before training,
  then runs the same `train_trial`.

Each trial asks for 0.5 CPU in both sweeps: two concurrent trials then leave a core free for the
rebuild's Ray Data tasks (with 1 CPU per trial the two trials hold both cores and a rebuild inside a
trial waits forever for a CPU). A trial still trains with 1 thread. The driver's embedding model is
dropped before every built-once sweep, and each sweep has its own storage path (so its own dataset
cache): it pays a whole build as a fresh `seqsweep run` would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.common import Context, Row, median, spread, stopwatch, swapped_trainable, sweep_spec

TRIAL_CPU = 0.5
GOAL = 3.0


def rebuild_trial(config: dict[str, Any], dataset: Any, settings: Any) -> None:
    """A trial that rebuilds the dataset itself (no cache), then trains exactly as `train_trial` does."""
    from seqsweep.data import build_dataset
    from seqsweep.trainables.tune_reporter import train_trial

    bundle = build_dataset(dataset, use_cache=False)
    train_trial(config, bundle=bundle, settings=settings)


def rebuilding_trainable(spec: Any, bundle: Any, experiment_dir: Path) -> Any:
    from ray import tune

    from seqsweep.trainables.base import TrialSettings

    settings = TrialSettings(model=spec.file.model, seed=spec.file.search.seed, fixed=spec.fixed)
    resources = {"cpu": spec.file.resources.cpu, "gpu": spec.file.resources.gpu}
    return tune.with_resources(
        tune.with_parameters(rebuild_trial, dataset=spec.file.dataset, settings=settings), resources
    )


def the_sweep(ctx: Context, name: str) -> Any:
    from seqsweep.constants import NOTEBOOK_SYMBOLS

    scale = ctx.scale
    return sweep_spec(
        "lstm_base",
        {
            "name": name,
            "dataset": {
                "db": ctx.sample_db_url(scale.once_hours),
                "symbols": list(NOTEBOOK_SYMBOLS),
                "targets": ["lending_rate", "borrowing_rate"],
                "lookback": 24,
                "horizon": 3,
            },
            "params": {
                "cell_size": {"type": "choice", "values": [8, 16]},
                "dropout_rate_1": {"type": "uniform", "low": 0.1, "high": 0.5},
                "dropout_rate_2": {"type": "uniform", "low": 0.0, "high": 0.3},
                "batch_size": 64,
                "epochs": scale.once_epochs,
            },
            "search": {
                "algorithm": "random",
                "num_samples": scale.once_trials,
                "max_concurrent": 2,
                "seed": 0,
            },
            "scheduler": {"type": "none"},
            "resources": {"cpu": TRIAL_CPU},
            "failure": {"max_retries": 0},
            # a storage path (and so a dataset cache) per sweep: no repeat reads an earlier build
            "storage_path": str(ctx.workdir / "data_once" / name),
        },
    )


def timed_sweep(ctx: Context, name: str, rebuild: bool) -> float:
    from seqsweep.data.features import load_embedding_model
    from seqsweep.tuning.runner import run_sweep

    spec = the_sweep(ctx, name)
    load_embedding_model.cache_clear()
    with stopwatch() as elapsed:
        if rebuild:
            with swapped_trainable(rebuilding_trainable, build_in_driver=False):
                outcome = run_sweep(spec)
        else:
            outcome = run_sweep(spec)
        seconds = elapsed()
    if outcome.num_errored or outcome.num_trials != ctx.scale.once_trials:
        raise RuntimeError(
            f"data_once: sweep {name} ran {outcome.num_trials} trials, {outcome.num_errored} errored "
            f"(see {outcome.experiment_dir})"
        )
    return seconds


def measure(ctx: Context) -> list[Row]:
    scale = ctx.scale
    ctx.sample_db_url(scale.once_hours)  # generated before any clock starts
    once: list[float] = []
    rebuilt: list[float] = []
    for repeat in range(scale.repeats):
        order = (False, True) if repeat % 2 == 0 else (True, False)  # alternate, so drift favours neither
        for rebuild in order:
            seconds = timed_sweep(ctx, f"{'rebuilt' if rebuild else 'once'}_{repeat}", rebuild)
            (rebuilt if rebuild else once).append(seconds)
    ratio = median(rebuilt) / median(once)
    return [
        Row(
            key="1",
            measured=(
                f"end-to-end wall time of a {scale.once_trials}-trial sweep ({scale.once_epochs} epochs each, "
                f"`lstm` cell 8/16, 2 trials at a time, {TRIAL_CPU} CPU each) on the generated database "
                f"(16 symbols × {scale.once_hours} h): every trial rebuilding the dataset vs built once in the "
                f"object store; median of {scale.repeats} (s: rebuilt {spread(rebuilt)}, once {spread(once)})"
            ),
            value=f"{ratio:.2f}× ({median(rebuilt):.0f} s vs {median(once):.0f} s)",
            goal=f"≥ {GOAL:.0f}×",
            met=ratio >= GOAL,
            command=ctx.command("data_once"),
        )
    ]
