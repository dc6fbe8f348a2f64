"""Row 7: `build_dataset` (Ray Data, one task per symbol) vs the same work in one pandas process.

Both build the 16-symbol `prices` join of the real data (360,651 rows × 29 features) from the same
SQLite file, in this process, in the one run, alternating: `build_dataset(spec, use_cache=False)` on
the runner's local Ray (2 CPUs) against `benchmarks.pandas_build.build_in_pandas` (one query, a pandas
groupby, the product's own featurisation, so only the orchestration differs; its features are checked
equal to the Ray build's). The embedding model is loaded before either clock starts (both use the same
cached model). The first Ray Data build of the process is reported apart: it pays Ray Data's one-off
start (the driver imports `ray.data`, the workers import its operators) that later builds do not.
The spread of the tasks over the loopback two-node cluster comes from `benchmarks.two_nodes`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks import two_nodes
from benchmarks.common import Context, Row, median, spread, stopwatch

GOAL = 1.5
REPEATS = {"small": 1, "full": 3}
"""Alternating pairs behind the median (per `--scale`)."""


def real_spec() -> Any:
    from seqsweep.constants import NOTEBOOK_SYMBOLS
    from seqsweep.data import DatasetSpec

    return DatasetSpec(join="prices", symbols=tuple(NOTEBOOK_SYMBOLS))


def measure(ctx: Context) -> list[Row]:
    from benchmarks.pandas_build import build_in_pandas
    from seqsweep.data import build_dataset
    from seqsweep.data.features import load_embedding_model

    url, spec = ctx.real_db_url(), real_spec()
    load_embedding_model(spec.embedding_model)
    with stopwatch() as elapsed:
        first = build_dataset(spec, db_url=url, use_cache=False)
        first_s = elapsed()
    reference = build_in_pandas(spec, url)
    if not np.array_equal(first.features, reference.features, equal_nan=True):
        raise RuntimeError("build_speed: the pandas reference built other features than build_dataset")
    ray_s: list[float] = []
    pandas_s: list[float] = []
    for repeat in range(REPEATS[ctx.scale.name]):
        for use_ray in (True, False) if repeat % 2 == 0 else (False, True):
            with stopwatch() as elapsed:
                build_dataset(spec, db_url=url, use_cache=False) if use_ray else build_in_pandas(spec, url)
                (ray_s if use_ray else pandas_s).append(elapsed())
    cluster = two_nodes.facts(ctx)
    tasks = ", ".join(f"{n} on the {node}" for node, n in sorted(cluster["tasks_per_node"].items()))
    ratio = median(ray_s) / median(pandas_s)
    rows, features = first.features.shape
    return [
        Row(
            key="7",
            measured=(
                f"dataset build, 16-symbol `prices` join of the real data ({rows:,} rows × {features} features): "
                f"`build_dataset` (Ray Data, one task per symbol, local Ray, 2 CPUs) vs the same work in one "
                f"pandas process (`benchmarks/pandas_build.py`: one query, the product's featurisation, "
                f"identical features); median of {len(ray_s)} alternating (s: Ray {spread(ray_s)}, pandas "
                f"{spread(pandas_s)}); the process's first Ray Data build took {first_s:.1f} s (Ray Data's "
                f"one-off start). Loopback two-node cluster (1 CPU each): the 16 tasks ran {tasks}, "
                f"build {cluster['build_s']:.1f} s"
            ),
            value=f"{ratio:.2f}× ({median(ray_s):.1f} s vs {median(pandas_s):.1f} s)",
            goal=f"≤ {GOAL}×, tasks on both nodes",
            met=ratio <= GOAL and len(cluster["tasks_per_node"]) == 2,
            command=ctx.command("build_speed"),
        )
    ]
