"""The benchmark harness still runs against the current code (its numbers live in benchmarks/results.md).

It swaps parts of the runner (`benchmarks/common.py::swapped_trainable`), so a change of the runner's
internals can break it silently; this runs its cheapest rows at the small scale in a subprocess.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_cheap_benchmark_rows_measure_a_value(shared_data: Path, tmp_path: Path) -> None:
    table = tmp_path / "results.md"
    command = [
        sys.executable,
        "-m",
        "benchmarks.run",
        "--scale",
        "small",
        "--only",
        "store",
        "--only",
        "overhead",
    ]
    done = subprocess.run(
        [*command, "--out", str(table)], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {
        line.split("|")[1].strip(): line for line in table.read_text().splitlines() if line.startswith("| ")
    }
    assert {"2a", "2b", "5"} <= set(rows), sorted(rows)
    for number in ("2a", "2b", "5"):
        assert "not measured" not in rows[number] and "failed" not in rows[number], rows[number]
