"""What every measurement shares: the scales, the table row, the data sources, Ray and subprocesses.

Each measurement module exposes `measure(ctx: Context) -> list[Row]`. The runner starts one local Ray
(`address="local"`, 2 CPUs, no dashboard) for the whole run, prepares the databases once, and calls
the modules in turn; nothing here asserts a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SEQSWEEP_SHARED_DATA", REPO.parent / "shared" / "data"))
"""The real public data (read in place, never copied into the project)."""
SEED_SCHEMA = SHARED_DATA / "seed_schema"
NUM_CPUS = 2
"""The Ray the benchmarks start: the 2 cores the issue's budget is stated for."""


@dataclass(frozen=True)
class Scale:
    """How big each measurement is. `small` checks the wiring in minutes; `full` is what the table reports."""

    name: str
    repeats: int
    """Repeats behind every median (the issue asks for at least 3 at full scale)."""
    # ratio 2: object-store bytes
    store_rows: int | None
    """Latest rows per symbol of the real joins whose stored bytes are measured (None = all: 24,001 a symbol)."""
    # ratio 1: data built once vs rebuilt per trial
    once_trials: int
    once_epochs: int
    once_hours: int
    """Hours of the generated 16-symbol database the ratio-1 sweeps train on."""
    # ratio 3: throughput
    throughput_rows: int | None
    """Latest rows of the real ETHUSDT join that the throughput runs train on (None = all 24,001)."""
    throughput_epochs: int
    """Epochs per throughput run; the first (graph tracing) is left out of the median."""
    # ratio 4 (search efficiency) keeps its scales in benchmarks/search_efficiency.py::SEARCH_SCALES
    # ratio 5: scheduling overhead
    overhead_trials: int


SCALES: dict[str, Scale] = {
    "small": Scale(
        name="small",
        repeats=1,
        store_rows=2000,
        once_trials=4,
        once_epochs=2,
        once_hours=400,
        throughput_rows=3000,
        throughput_epochs=3,
        overhead_trials=6,
    ),
    "full": Scale(
        name="full",
        repeats=3,
        store_rows=None,
        once_trials=16,
        once_epochs=2,
        once_hours=1200,
        throughput_rows=8000,
        throughput_epochs=4,
        overhead_trials=16,
    ),
}
SCALES["notebook"] = dataclasses.replace(SCALES["full"], name="notebook")
"""`full` for every row but row 4, which runs at the notebook's cell size and epochs (about an hour on 2 cores;
`benchmarks/search_efficiency.py::SEARCH_SCALES`)."""


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    key: str
    """Row id shown in the table (`1`, `3a`, ...)."""
    measured: str
    value: str
    goal: str
    met: bool | None
    """None: not measured (the `met` column then says so)."""
    command: str

    @property
    def met_text(self) -> str:
        return "n/a" if self.met is None else ("yes" if self.met else "no")


@dataclass
class Context:
    """What the runner hands to every measurement."""

    scale: Scale
    workdir: Path
    """A fresh temporary folder for this run (databases, caches, experiment directories)."""
    only: str | None = None
    _real_url: str | None = field(default=None, repr=False)
    _sample_urls: dict[int, str] = field(default_factory=dict, repr=False)

    def command(self, name: str) -> str:
        return f"python -m benchmarks.run --scale {self.scale.name} --only {name}"

    def real_db_url(self) -> str:
        """`shared/data/seed_schema/` loaded into a SQLite file (once per run) with seqsweep's `load_csv`."""
        if self._real_url is None:
            from seqsweep.data.load_csv import load_csv

            if not SEED_SCHEMA.is_dir():
                raise SystemExit(
                    f"benchmarks: the real data is missing: {SEED_SCHEMA} (set SEQSWEEP_SHARED_DATA)"
                )
            url = f"sqlite:///{self.workdir / 'seed_schema.db'}"
            load_csv(SEED_SCHEMA, url)
            self._real_url = url
        return self._real_url

    def sample_db_url(self, hours: int) -> str:
        """The generated database (the notebook's 16 symbols, `hours` hourly rows each), once per size."""
        if hours not in self._sample_urls:
            from seqsweep.data.sample import write_sample

            url = f"sqlite:///{self.workdir / f'sample_{hours}h.db'}"
            write_sample(url, seed=0, hours=hours)
            self._sample_urls[hours] = url
        return self._sample_urls[hours]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def spread(values: Sequence[float], fmt: str = "{:.1f}") -> str:
    """`a / b / c` of the repeats, to show the noise beside a median."""
    return " / ".join(fmt.format(v) for v in values)


@contextlib.contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """`with stopwatch() as elapsed: ...; elapsed()` → seconds since the block began."""
    start = time.perf_counter()
    yield lambda: time.perf_counter() - start


def worker_env() -> dict[str, str]:
    """Environment for Ray workers and subprocesses: the repo root importable (for `benchmarks.*`), quiet TF."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("TRANSFORMERS_VERBOSITY", "error")
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def run_python(module: str, args: list[str], out: Path, timeout_s: float = 1200) -> Any:
    """Run `python -m module args... --json out` in a fresh process; its JSON result (stderr shown on failure)."""
    cmd = [sys.executable, "-m", module, *args, "--json", str(out)]
    proc = subprocess.run(
        cmd, cwd=REPO, env=worker_env(), capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if proc.returncode != 0 or not out.exists():
        tail = "\n".join(proc.stderr.strip().splitlines()[-25:])
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {proc.returncode}:\n{tail}")
    return json.loads(out.read_text())


def start_ray() -> None:
    """The one local Ray of a run; trials' workers inherit `worker_env()` (so they import `benchmarks`)."""
    import ray

    os.environ.update(worker_env())
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    ray.init(address="local", num_cpus=NUM_CPUS, include_dashboard=False, log_to_driver=False)


def stop_ray() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


def sweep_spec(base: str, overrides: dict[str, Any]) -> Any:
    """A built-in sweep file (or a path) with sections overridden (one level deep), validated as usual."""
    from seqsweep.search_spaces.sweep import load_sweep, parse_sweep

    data = load_sweep(base).to_dict()
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict) and key != "params":
            data[key] = {**data[key], **value}
        elif key == "params":
            data["params"] = {**data["params"], **value}
        else:
            data[key] = value
    return parse_sweep(data, where=f"benchmark sweep from {base}")


@contextlib.contextmanager
def swapped_trainable(
    trainable_factory: Callable[[Any, Any, Any], Any], build_in_driver: bool
) -> Iterator[None]:
    """Run `seqsweep.tuning.runner.run_sweep` unchanged except for the trial function.

    `trainable_factory(spec, bundle, experiment_dir)` returns the Tune trainable; with `build_in_driver=False` the
    driver builds no dataset (bundle is None). Everything else (searcher, scheduler, run config,
    callbacks, checkpoints) stays the product's, so a comparison differs in the trial function only.
    """
    from seqsweep.tuning import runner

    for name in ("_trainable", "_build_dataset"):
        if not hasattr(runner, name):
            raise RuntimeError(f"seqsweep.tuning.runner.{name} is gone; update benchmarks/common.py")
    saved = runner._trainable, runner._build_dataset
    runner._trainable = trainable_factory  # type: ignore[assignment]  # the same call, looser types
    if not build_in_driver:
        runner._build_dataset = lambda spec, root: None
    try:
        yield
    finally:
        runner._trainable, runner._build_dataset = saved
