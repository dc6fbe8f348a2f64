"""Sweeps submitted as Ray Jobs to a real two-node cluster on loopback; a node lost mid-sweep."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from seqsweep import cli
from seqsweep.cluster.jobs import job_logs, wait_for_job
from seqsweep.search_spaces.sweep import load_sweep

from local_cluster import LocalRayCluster, TwoNodes

pytestmark = pytest.mark.slow

LOST_NODE_EPOCHS = 12
"""Long enough that a trial is still training on the worker when the test looks for one to kill."""


def _trial_rows(experiment: Path) -> dict[str, list[dict]]:
    rows = {}
    for result in experiment.glob("*/result.json"):
        rows[result.parent.name] = [
            json.loads(line) for line in result.read_text().splitlines() if line.strip()
        ]
    return rows


def _live_trial_rows(cluster: LocalRayCluster, experiment: str) -> dict[str, list[dict]]:
    """Result rows as the sweep's driver (on the head) has them now; the storage copy lags by a sync."""
    rows = {}
    pattern = f"ray/session_*/artifacts/*/{experiment}/driver_artifacts/*/result.json"
    for result in cluster.temp_dir.glob(pattern):
        rows[result.parent.name] = [
            json.loads(line) for line in result.read_text().splitlines() if line.strip()
        ]
    return rows


def _submit(path: Path, cluster: LocalRayCluster, storage: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.main(["submit", str(path), "--address", cluster.jobs_address, "--storage", str(storage)]) == 0
    job_id = capsys.readouterr().out.strip().splitlines()[-1]
    assert job_id
    return job_id


def _sweep_on_two_nodes(write_sweep: Callable[..., Path], name: str, epochs: int) -> Path:
    return write_sweep(
        name=name,
        params={"cell_size": {"type": "choice", "values": [4, 8]}, "batch_size": 8, "epochs": epochs},
        search={"algorithm": "random", "num_samples": 4, "max_concurrent": 2},
        scheduler={"type": "none"},
        failure={"max_retries": 2},
    )


def test_submitted_sweep_runs_trials_on_both_nodes(
    two_nodes: TwoNodes,
    write_sweep: Callable[..., Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    head_node, worker_id = two_nodes.cluster, two_nodes.worker_id
    shared = tmp_path / "shared"  # one folder both nodes write to: stands in for NFS
    job_id = _submit(_sweep_on_two_nodes(write_sweep, "two_nodes", epochs=2), head_node, shared, capsys)
    status = wait_for_job(head_node.jobs_address, job_id, timeout_s=600)
    logs = "".join(job_logs(head_node.jobs_address, job_id))
    assert status == "SUCCEEDED", logs[-3000:]
    assert cli.main(["status", job_id, "--address", head_node.jobs_address]) == 0
    assert capsys.readouterr().out.strip() == "SUCCEEDED"

    rows = _trial_rows(shared / "two_nodes")
    assert len(rows) == 4
    assert all(trial[-1]["final_epoch"] for trial in rows.values())
    nodes = {row["node_id"] for trial in rows.values() for row in trial}
    assert len(nodes) == 2 and worker_id in nodes
    assert "4 trials, 0 errored" in logs


def test_lost_node_trials_are_retried_and_the_sweep_completes(
    two_nodes: TwoNodes,
    write_sweep: Callable[..., Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Runs last in this module: it kills the worker node."""
    head_node, worker, worker_id = two_nodes.cluster, two_nodes.worker, two_nodes.worker_id
    shared = tmp_path / "shared"
    job_id = _submit(
        _sweep_on_two_nodes(write_sweep, "lost_node", epochs=LOST_NODE_EPOCHS), head_node, shared, capsys
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            rows = _live_trial_rows(head_node, "lost_node")
            in_flight_on_worker = [
                t for t in rows.values() if t and t[-1]["node_id"] == worker_id and not t[-1]["final_epoch"]
            ]
            if in_flight_on_worker:
                break
            time.sleep(0.5)
        else:
            seen = {r.get("node_id") for t in _trial_rows(shared / "lost_node").values() for r in t}
            logs = "".join(job_logs(head_node.jobs_address, job_id))
            pytest.fail(
                f"no trial reached worker {worker_id} within 300 s; nodes seen {seen}\n{logs[-3000:]}"
            )
    finally:
        head_node.kill(worker)  # SIGKILL to its process group: raylet and its workers die at once

    status = wait_for_job(head_node.jobs_address, job_id, timeout_s=900)
    logs = "".join(job_logs(head_node.jobs_address, job_id))
    assert status == "SUCCEEDED", logs[-3000:]
    rows = _trial_rows(shared / "lost_node")
    assert len(rows) == 4
    for name, trial in rows.items():
        assert trial[-1]["final_epoch"] and trial[-1]["epoch"] == LOST_NODE_EPOCHS, name
    assert "4 trials, 0 errored" in logs
    spec = load_sweep(shared / "lost_node" / "sweep.yaml")
    assert spec.num_samples == 4
