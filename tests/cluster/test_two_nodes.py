"""Sweeps submitted as Ray Jobs to a real two-node cluster on loopback; a node lost mid-sweep."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from barrier_family import node_of, reached_markers, release

from seqsweep import cli
from seqsweep.cluster.jobs import job_logs, wait_for_job
from seqsweep.search_spaces.sweep import load_sweep

from local_cluster import LocalRayCluster, TwoNodes

pytestmark = pytest.mark.slow

LOST_NODE_EPOCHS = 3
LOST_NODE_BARRIER_EPOCH = 2
"""The lost-node sweep's trials wait at the start of this epoch (`barrier_family`) until the worker is gone."""


def _trial_rows(experiment: Path) -> dict[str, list[dict]]:
    rows = {}
    for result in experiment.glob("*/result.json"):
        rows[result.parent.name] = [
            json.loads(line) for line in result.read_text().splitlines() if line.strip()
        ]
    return rows


def _has_a_full_row(experiment: Path, trial_id: str) -> bool:
    """Whether the trial's result.json holds a whole row (a line the driver is still writing is not one)."""
    return any(
        text.endswith("\n") and text.strip()
        for text in (p.read_text() for p in experiment.glob(f"*_{trial_id}_*/result.json"))
    )


def _submit(path: Path, cluster: LocalRayCluster, storage: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.main(["submit", str(path), "--address", cluster.jobs_address, "--storage", str(storage)]) == 0
    printed = capsys.readouterr()
    job_id = printed.out.strip().splitlines()[-1]
    assert job_id
    assert (
        "Uploading package" not in printed.err and "Creating a file package" not in printed.err
    )  # Ray's INFO
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
    for command in ("status", "logs"):  # an unknown id ended as an unexpected error (exit 3)
        assert cli.main([command, "raysubmit_nosuchjob", "--address", head_node.jobs_address]) == 2
        assert capsys.readouterr().err.splitlines() == [
            f"seqsweep: error: job 'raysubmit_nosuchjob': the cluster at {head_node.jobs_address} has no such "
            f"job (`seqsweep submit` prints the id of each job it submits)"
        ]

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
    """Runs last in this module: it kills the worker node. The kill point is deterministic: each trial
    waits at the start of epoch LOST_NODE_BARRIER_EPOCH (`barrier_family`); the worker dies once two
    trials wait there, one on each node (1 CPU a node, a trial takes 1, the job's driver none), and the
    barrier opens for it only once it, retried, waits there again on the head (every other trial is let
    through as it arrives, so none holds the head's one CPU)."""
    head_node, worker, worker_id = two_nodes.cluster, two_nodes.worker, two_nodes.worker_id
    shared, barrier = tmp_path / "shared", tmp_path / "barrier"
    barrier.mkdir()
    sweep = write_sweep(
        name="lost_node",
        model="barrier_family:build",
        params={
            "cell_size": {"type": "choice", "values": [4, 8]},
            "batch_size": 8,
            "epochs": LOST_NODE_EPOCHS,
            "barrier_dir": str(barrier),
            "barrier_epoch": LOST_NODE_BARRIER_EPOCH,
        },
        search={"algorithm": "random", "num_samples": 4, "max_concurrent": 2},
        scheduler={"type": "none"},
        failure={"max_retries": 2},
    )
    job_id = _submit(sweep, head_node, shared, capsys)

    def wait(condition: Callable[[], bool], what: str, each: Callable[[], None] = lambda: None) -> None:
        deadline = time.monotonic() + 300
        while not condition():
            each()
            if time.monotonic() > deadline:
                logs = "".join(job_logs(head_node.jobs_address, job_id))
                pytest.fail(f"{what} within 300 s\n{logs[-3000:]}")
            time.sleep(0.2)

    try:
        try:
            wait(lambda: len(reached_markers(barrier)) >= 2, "two trials did not reach the barrier")
            waiting = [marker.read_text() for marker in reached_markers(barrier)]
            on_worker = [t for t in waiting if node_of(barrier, t) == worker_id]
            assert len(on_worker) == 1, {t: node_of(barrier, t) for t in waiting}
            # The trial reported epoch 1 before it reached the barrier; the driver writes (and flushes)
            # that row once the result reaches it. Killed sooner, the row is lost in flight.
            wait(
                lambda: _has_a_full_row(shared / "lost_node", on_worker[0]),
                f"trial {on_worker[0]}'s epoch-1 row did not reach result.json",
            )
        finally:
            head_node.kill(worker)  # SIGKILL to its process group: raylet and its workers die at once

        def release_the_others() -> None:
            for marker in reached_markers(barrier):
                if marker.read_text() != on_worker[0]:
                    release(barrier, marker.read_text())

        wait(
            lambda: node_of(barrier, on_worker[0]) not in (None, worker_id),
            f"trial {on_worker[0]} was not retried on the head",
            release_the_others,
        )
    finally:
        release(barrier)

    status = wait_for_job(head_node.jobs_address, job_id, timeout_s=900)
    logs = "".join(job_logs(head_node.jobs_address, job_id))
    assert status == "SUCCEEDED", logs[-3000:]
    rows = _trial_rows(shared / "lost_node")
    assert len(rows) == 4
    for name, trial in rows.items():
        assert trial[-1]["final_epoch"] and trial[-1]["epoch"] == LOST_NODE_EPOCHS, name
    # the trial that waited on the worker reported its first epoch there, then finished on the head
    (lost,) = [t for name, t in rows.items() if on_worker[0] in name]
    assert [r["node_id"] == worker_id for r in lost] == [True, False, False], lost
    assert "4 trials, 0 errored" in logs
    spec = load_sweep(shared / "lost_node" / "sweep.yaml")
    assert spec.num_samples == 4
