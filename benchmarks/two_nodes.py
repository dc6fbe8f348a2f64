"""Rows 7 and 8 on the loopback two-node cluster: where the build's tasks ran, and what a trial's data costs.

Run as `python -m benchmarks.two_nodes --db URL --json OUT` (a fresh process: the runner's own local
Ray stays untouched). It starts a head and one worker node with `ray start` on free ports
(`seqsweep.testing.local_cluster`, the cluster tests' helper: never port 6379, never `ray stop`; the
nodes are stopped by their process groups), 1 CPU each, connects, and on the 16-symbol `prices` join
of the real data measures:

- the Ray Data build (`build_dataset(..., use_cache=False)`): its wall time and how many of its
  per-symbol tasks ran on each node;
- a trial's data access: `ray.get` of the built dataset's ObjectRef (what `tune.with_parameters`
  hands a trial; numpy arrays come back as zero-copy views) inside a task pinned
  (NodeAffinitySchedulingStrategy) to the head, where the object lives, and to the worker node, which
  must fetch it; a fresh `ray.put` for every repeat, so each first fetch on the worker crosses nodes;
  then the node's other `TRIALS_PER_NODE - 1` trials of a 16-trial sweep read it again (Ray keeps the
  pulled copy in the worker node's store, so only a node's first trial pays the transfer);
- a trial's rebuild: `build_dataset(spec, use_cache=False)` inside a task pinned to the head, twice
  in one task (the second, with the embedding model already loaded, is what a reused trial process pays).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import Context, run_python
from seqsweep.data.build import load_and_featurize_symbol

_NODE = "__node"
_FACTS: dict[str, dict[str, Any]] = {}
REPEATS = {"small": 3, "full": 5}
"""Access repeats (a fresh object each) per `--scale`; the median is reported."""
TRIALS_PER_NODE = 8
"""Trials a node runs in a 16-trial sweep over the two nodes: the first on a node reads the fresh object
(the worker node pulls it over), the others read the copy already in that node's store."""


def facts(ctx: Context) -> dict[str, Any]:
    """The cluster measurements of this run (measured once, shared by rows 7 and 8)."""
    key = str(ctx.workdir)
    if key not in _FACTS:
        out = ctx.workdir / "two_nodes.json"
        repeats = str(REPEATS[ctx.scale.name])
        _FACTS[key] = run_python(
            "benchmarks.two_nodes", ["--db", ctx.real_db_url(), "--repeats", repeats], out, 900
        )
    return _FACTS[key]


def featurize_on_node(batch: dict[str, np.ndarray], **kwargs: Any) -> dict[str, np.ndarray]:
    """The product's task, plus the node it ran on (an extra column the build ignores)."""
    import ray

    out = load_and_featurize_symbol(batch, **kwargs)
    node = int(ray.get_runtime_context().get_node_id()[:15], 16)
    out[_NODE] = np.full(len(out["__symbol_index"]), node, dtype=np.int64)
    return out


def _timed_build(spec: Any, db: str) -> tuple[float, dict[int, int]]:
    """One Ray Data build; its wall seconds and the number of tasks per node (node id prefix → tasks)."""
    from seqsweep.data import build

    seen: dict[int, int] = {}
    product_task, product_batches = build.load_and_featurize_symbol, build._ray_batches

    def batches_seen(*args: Any) -> list[dict[str, np.ndarray]]:
        batches = product_batches(*args)
        for batch in batches:
            node = int(batch[_NODE][0])
            seen[node] = seen.get(node, 0) + 1
        return batches

    build.load_and_featurize_symbol, build._ray_batches = featurize_on_node, batches_seen  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        build.build_dataset(spec, db_url=db, use_cache=False)
        return time.perf_counter() - started, seen
    finally:
        build.load_and_featurize_symbol, build._ray_batches = product_task, product_batches


def _measure(db: str, repeats: int) -> dict[str, Any]:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from seqsweep.constants import NOTEBOOK_SYMBOLS
    from seqsweep.data import DatasetSpec, build_dataset

    spec = DatasetSpec(join="prices", symbols=tuple(NOTEBOOK_SYMBOLS))
    head = ray.get_runtime_context().get_node_id()
    worker = next(n["NodeID"] for n in ray.nodes() if n["Alive"] and n["NodeID"] != head)
    prefix = {int(n[:15], 16): name for n, name in ((head, "head"), (worker, "worker"))}

    build_s, spread = _timed_build(spec, db)
    bundle = build_dataset(spec, db_url=db, use_cache=False)

    @ray.remote(num_cpus=1)
    def fetch(refs: list[Any]) -> float:
        started = time.perf_counter()
        ray.get(refs[0])
        return time.perf_counter() - started

    @ray.remote(num_cpus=1)
    def rebuild(spec: Any) -> list[float]:
        seconds = []
        for _ in range(2):
            started = time.perf_counter()
            build_dataset(spec, db_url=db, use_cache=False)
            seconds.append(time.perf_counter() - started)
        return seconds

    def on(node: str) -> Any:
        return NodeAffinitySchedulingStrategy(node_id=node, soft=False)

    access: dict[str, list[float]] = {"head": [], "worker": []}
    later: dict[str, list[float]] = {"head": [], "worker": []}
    for node in (head, worker):  # a worker process on each node before timing
        ray.get(fetch.options(scheduling_strategy=on(node)).remote([ray.put(0)]))
    for _ in range(repeats):
        ref = ray.put(bundle)
        for name, node in (("head", head), ("worker", worker)):
            access[name].append(ray.get(fetch.options(scheduling_strategy=on(node)).remote([ref])))
        # the node's later trials: the object is in its store now (a copy, on the worker node)
        for name, node in (("head", head), ("worker", worker)):
            for _ in range(TRIALS_PER_NODE - 1):
                later[name].append(ray.get(fetch.options(scheduling_strategy=on(node)).remote([ref])))
        del ref
    rebuilt = ray.get(rebuild.options(scheduling_strategy=on(head)).remote(spec))
    return {
        "rows": int(bundle.features.shape[0]),
        "features": int(bundle.features.shape[1]),
        "nbytes": int(bundle.nbytes),
        "build_s": build_s,
        "tasks_per_node": {prefix.get(k, str(k)): v for k, v in spread.items()},
        "access_s": {name: statistics.median(v) for name, v in access.items()},
        "access_all_s": access,
        "later_access_s": {name: statistics.median(v) for name, v in later.items()},
        "trials_per_node": TRIALS_PER_NODE,
        "rebuild_s": rebuilt,
        "repeats": repeats,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.two_nodes")
    parser.add_argument("--db", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args(argv)

    import ray

    from seqsweep.testing.local_cluster import LocalRayCluster

    os.environ["RAY_AUTH_MODE"] = "disabled"  # the loopback cluster runs without token auth
    cluster = LocalRayCluster(Path(tempfile.mkdtemp(prefix="sqb", dir="/tmp")), cpus_per_node=1)
    try:
        cluster.start_head()
        cluster.add_worker()
        ray.init(address=cluster.address, log_to_driver=False)
        try:
            # measured from a task on the head, as a job's driver would: objects owned by this external
            # driver were refused to the worker node's tasks (OwnerDiedError) on the loopback cluster
            measure = ray.remote(num_cpus=0)(_measure)
            result = ray.get(measure.remote(args.db, args.repeats))
        finally:
            ray.shutdown()
    finally:
        cluster.stop()
    args.json.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
