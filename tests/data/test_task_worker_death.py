"""A per-symbol task whose worker process dies each time it runs (the OOM killer on a symbol's rows, a crash
in a database driver) ends the build with one line naming that, after `build.TASK_MAX_RETRIES` more runs.
Ray Data runs such a task again without end: `data build` and `run` waited forever, without a word.

The build runs in a fresh process with its own Ray, under a deadline: the worker deaths stay out of the
test session's Ray, and a build that still waited for ever fails the test instead of hanging it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

DEADLINE_S = 300
"""A fresh interpreter and Ray, then one task and its retries, on a busy 2-core machine."""

SCRIPT = """
import dataclasses, os, sys

import ray

from seqsweep.data import build
from seqsweep.data.sources import plan_source
from seqsweep.data.spec import DatasetSpec
from seqsweep.errors import DataError


class DiesInAWorker:
    # unpickled in a Ray worker, that process exits at once as one the OOM killer ends; in this driver,
    # a plain string
    def __reduce__(self):
        code = f"__import__('os')._exit(9) if __import__('os').getpid() != {os.getpid()} else 'driver'"
        return (eval, (code,))


build.TASK_MAX_RETRIES = int(sys.argv[2])
ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
spec = DatasetSpec(join="rates", symbols=("LINKUSDT",), lookback=2, horizon=1)
plan = plan_source(spec, sys.argv[1])
plan = dataclasses.replace(plan, labels={**plan.labels, "dies": DiesInAWorker()})
try:
    build._ray_batches(spec, plan)
except DataError as exc:
    print(exc)
    sys.exit(0)
print("the build returned")
sys.exit(1)
"""


def _build_in_fresh_process(db_url: str, retries: int, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run `SCRIPT` (its own Ray, in its own session); AssertionError when it has not ended by `DEADLINE_S`
    (its whole process group, Ray's processes included, is then killed)."""
    script = tmp_path / "dies.py"
    script.write_text(SCRIPT, encoding="utf-8")
    env = os.environ | {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    process = subprocess.Popen(
        [sys.executable, str(script), db_url, str(retries)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise AssertionError(
            f"the build did not end within {DEADLINE_S} s: its task was run again without end"
        ) from None
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_a_task_whose_worker_dies_each_time_ends_the_build_with_one_line(
    sample_db_url: str, tmp_path: Path
) -> None:
    result = _build_in_fresh_process(sample_db_url, 1, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = result.stdout.splitlines()
    assert line.startswith(
        "a per-symbol task of the dataset build lost its worker process on each of its 2 runs (WorkerCrashedError)"
    )
    assert "OOM killer" in line and "dataset.max_rows_per_symbol" in line
