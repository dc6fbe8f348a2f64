"""Row 8: what a dataset built once buys, at real scale.

8a — per trial, getting the data vs rebuilding it, on the 16-symbol `prices` join of the real data
(360,651 rows × 29 features), measured on the loopback two-node cluster by `benchmarks.two_nodes`:
`ray.get` of the dataset's ObjectRef in a task on the node holding it and on the other node (a node's
first trial, which on the other node pulls the object over, and its later trials, which read the copy
in that node's store; the verdict is on the mean per trial of a 16-trial sweep, 8 a node), against
`build_dataset(spec, use_cache=False)` in a task (SQL, embeddings, features, windows); the access is
also set against a trial's wall time from 8b's real-scale sweep.

8b — the end-to-end ratio at two scales side by side, each sweep `run_sweep` unchanged but for a
trial function that times itself (`timed_trial`: the rebuild, if any, then `train_trial`): the
generated database at the scale of the former row 1 (`data_once.py`, which this row replaces: the
same sweep, `Scale.once_*` in `common.py`) and 16 trials × 1 epoch on the latest 2,000 rows per
symbol of the real `prices` join (`dataset.max_rows_per_symbol`). Each with its training share: the
trials' summed training seconds over (concurrent trials × wall). One repeat per scale (runtime budget).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from benchmarks import two_nodes
from benchmarks.common import Context, Row, stopwatch, swapped_trainable, sweep_spec

ACCESS_GOAL = 100.0
SHARE_GOAL = 0.01
CONCURRENT = 2
TRIAL_CPU = 0.5
SCALES: dict[str, dict[str, int]] = {
    "small": {"real_rows": 300, "real_trials": 4},
    "full": {"real_rows": 2000, "real_trials": 16},
}
"""Per `--scale`: latest rows per symbol and trials (1 epoch each) of the real-join sweep. The generated
sweep takes `Scale.once_hours`, `once_trials`, `once_epochs`; the access repeats are `two_nodes.REPEATS`."""


def timed_trial(
    config: dict[str, Any], bundle: Any, dataset: Any, settings: Any, log_path: str, rebuild: bool
) -> None:
    """`train_trial`, after rebuilding the dataset when `rebuild`; appends {data_s, train_s} to `log_path`."""
    from seqsweep.data import build_dataset
    from seqsweep.trainables.tune_reporter import train_trial

    started = time.perf_counter()
    if rebuild:
        bundle = build_dataset(dataset, use_cache=False)
    built = time.perf_counter()
    train_trial(config, bundle=bundle, settings=settings)
    line = json.dumps({"data_s": built - started, "train_s": time.perf_counter() - built})
    with open(log_path, "a") as log:  # one short append per trial: atomic on a local file
        log.write(line + "\n")


def timed_trainable(log_path: Path, rebuild: bool) -> Any:
    def factory(spec: Any, bundle: Any, experiment_dir: Path) -> Any:
        from ray import tune

        from seqsweep.trainables.base import TrialSettings

        settings = TrialSettings(model=spec.model_name, seed=spec.file.search.seed, fixed=spec.fixed)
        trial = tune.with_parameters(
            timed_trial,
            bundle=None if rebuild else bundle,
            dataset=spec.file.dataset,
            settings=settings,
            log_path=str(log_path),
            rebuild=rebuild,
        )
        return tune.with_resources(trial, {"cpu": spec.file.resources.cpu, "gpu": spec.file.resources.gpu})

    return factory


def the_sweep(ctx: Context, name: str, dataset: dict[str, Any], trials: int, epochs: int) -> Any:
    return sweep_spec(
        "lstm_base",
        {
            "name": name,
            "dataset": dataset,
            "params": {
                "cell_size": {"type": "choice", "values": [8, 16]},
                "dropout_rate_1": {"type": "uniform", "low": 0.1, "high": 0.5},
                "dropout_rate_2": {"type": "uniform", "low": 0.0, "high": 0.3},
                "batch_size": 64,
                "epochs": epochs,
            },
            "search": {"algorithm": "random", "num_samples": trials, "max_concurrent": CONCURRENT, "seed": 0},
            "scheduler": {"type": "none"},
            "resources": {"cpu": TRIAL_CPU},
            "failure": {"max_retries": 0},
            "storage_path": str(ctx.workdir / "built_once" / name),
        },
    )


def timed_sweep(spec: Any, log_path: Path, rebuild: bool) -> dict[str, float]:
    """Wall seconds of `run_sweep(spec)` and the trials' summed data and training seconds."""
    from seqsweep.data.features import load_embedding_model
    from seqsweep.tuning.runner import run_sweep

    load_embedding_model.cache_clear()  # the driver pays its build as a fresh `seqsweep run` would
    with swapped_trainable(timed_trainable(log_path, rebuild), build_in_driver=not rebuild), stopwatch() as t:
        outcome = run_sweep(spec)
        wall = t()
    trials = [json.loads(line) for line in log_path.read_text().splitlines()]
    if outcome.num_errored or len(trials) != outcome.num_trials:
        raise RuntimeError(f"built_once: sweep {spec.file.name} failed (see {outcome.experiment_dir})")
    return {
        "wall_s": wall,
        "trials": len(trials),
        "data_s": sum(t["data_s"] for t in trials),
        "train_s": sum(t["train_s"] for t in trials),
    }


def side_by_side(
    ctx: Context, name: str, dataset: dict[str, Any], trials: int, epochs: int
) -> dict[str, Any]:
    runs = {}
    for rebuild in (False, True):
        label = f"{name}_{'rebuilt' if rebuild else 'once'}"
        runs[label.rsplit("_", 1)[1]] = timed_sweep(
            the_sweep(ctx, label, dataset, trials, epochs), ctx.workdir / f"{label}.jsonl", rebuild
        )
    return runs


def share(run: dict[str, float]) -> float:
    return run["train_s"] / (CONCURRENT * run["wall_s"])


def describe(runs: dict[str, Any]) -> str:
    once, rebuilt = runs["once"], runs["rebuilt"]
    return (
        f"{rebuilt['wall_s'] / once['wall_s']:.2f}× ({rebuilt['wall_s']:.0f} s vs {once['wall_s']:.0f} s; "
        f"training share {share(rebuilt):.0%} vs {share(once):.0%})"
    )


def per_trial_access(first_s: float, later_s: float, trials: int) -> float:
    """Mean data access of a node's `trials` trials: the first pays any transfer, the others read the node's copy."""
    return (first_s + (trials - 1) * later_s) / trials


def access_verdict(access_s: float, rebuild_s: float, trial_wall_s: float) -> tuple[str, bool]:
    """`"N× cheaper, P % of a trial (met)"` for one node's access time, and whether both goals are met."""
    ratio, fraction = rebuild_s / access_s, access_s / trial_wall_s
    met = ratio >= ACCESS_GOAL and fraction <= SHARE_GOAL
    return f"{ratio:,.0f}× cheaper, {fraction:.2%} of a trial ({'met' if met else 'not met'})", met


def measure(ctx: Context) -> list[Row]:
    from seqsweep.constants import NOTEBOOK_SYMBOLS

    scale, generated = SCALES[ctx.scale.name], ctx.scale
    cluster = two_nodes.facts(ctx)
    small = side_by_side(
        ctx,
        "generated",
        {
            "db": ctx.sample_db_url(generated.once_hours),
            "symbols": list(NOTEBOOK_SYMBOLS),
            "targets": ["lending_rate", "borrowing_rate"],
            "lookback": 24,
            "horizon": 3,
        },
        generated.once_trials,
        generated.once_epochs,
    )
    real = side_by_side(
        ctx,
        "real",
        {
            "db": ctx.real_db_url(),
            "join": "prices",
            "symbols": list(NOTEBOOK_SYMBOLS),
            "targets": ["close"],
            "lookback": 24,
            "horizon": 3,
            "max_rows_per_symbol": scale["real_rows"],
        },
        scale["real_trials"],
        1,
    )
    first, later, rebuild_s = cluster["access_s"], cluster["later_access_s"], cluster["rebuild_s"][-1]
    per_node = cluster["trials_per_node"]
    per_trial = {node: per_trial_access(first[node], later[node], per_node) for node in first}
    once = real["once"]
    trial_wall = (once["data_s"] + once["train_s"]) / once["trials"]
    verdicts = {node: access_verdict(seconds, rebuild_s, trial_wall) for node, seconds in per_trial.items()}
    transfer_ratio = rebuild_s / first["worker"]
    return [
        Row(
            key="8a",
            measured=(
                f"a trial's data, 16-symbol `prices` join of the real data ({cluster['rows']:,} rows × "
                f"{cluster['features']} features, {cluster['nbytes'] / 1e6:.0f} MB), loopback two-node cluster "
                f"(1 CPU a node), a 16-trial sweep over both nodes ({per_node} trials a node): `ray.get` of the "
                f"ObjectRef in a task. A node's first trial (median of {cluster['repeats']}, a fresh object "
                f"each): on the node holding it {first['head'] * 1e3:.1f} ms, on the other node "
                f"{first['worker'] * 1e3:.1f} ms (it pulls the {cluster['nbytes'] / 1e6:.0f} MB over: "
                f"{transfer_ratio:.0f}× cheaper than a rebuild by itself); the node's {per_node - 1} later trials "
                f"read the copy in its store: {later['head'] * 1e3:.1f} ms / {later['worker'] * 1e3:.1f} ms; per "
                f"trial (first + {per_node - 1} later) / {per_node}: {per_trial['head'] * 1e3:.1f} ms / "
                f"{per_trial['worker'] * 1e3:.1f} ms. Against `build_dataset(use_cache=False)` in a task "
                f"{rebuild_s:.1f} s (its first, loading the embedding model, {cluster['rebuild_s'][0]:.1f} s), "
                f"and as a share of a trial's wall time ({trial_wall:.1f} s: data + training per trial of 8b's "
                f"real-scale built-once sweep). The unpickled dataset decodes its row times and symbols only "
                f"when read (training never reads them)"
            ),
            value=f"same node: {verdicts['head'][0]}; second node: {verdicts['worker'][0]}",
            goal=f"≥ {ACCESS_GOAL:.0f}× cheaper and ≤ {SHARE_GOAL:.0%} of a trial, on both nodes (per trial of the sweep)",
            met=verdicts["head"][1] and verdicts["worker"][1],
            command=ctx.command("built_once"),
        ),
        Row(
            key="8b",
            measured=(
                f"end-to-end wall time of a sweep whose every trial rebuilds the dataset vs built once "
                f"(`run_sweep`, random search, 2 trials at a time, {TRIAL_CPU} CPU each, `lstm` cell 8/16), "
                f"training share = trials' training s / (2 × wall), 1 repeat each: generated 16 symbols × "
                f"{generated.once_hours} h, {generated.once_trials} trials × {generated.once_epochs} epochs "
                f"(the former row 1): {describe(small)}; real `prices` join, latest {scale['real_rows']:,} rows "
                f"per symbol, {scale['real_trials']} trials × 1 epoch: {describe(real)}"
            ),
            value=(
                f"{small['rebuilt']['wall_s'] / small['once']['wall_s']:.2f}× generated, "
                f"{real['rebuilt']['wall_s'] / real['once']['wall_s']:.2f}× real"
            ),
            goal="shown: the ratio follows the training share (row 1's former ≥ 3× goal is replaced by 8a's)",
            met=None,
            command=ctx.command("built_once"),
        ),
    ]
