"""A data-parallel trial's Ray Train run on a real local Ray: reports relayed, stop, resume.

`relay_reports` is what a multi-worker Tune trial iterates over; driving it directly shows what Tune
relies on: closing it (Tune stopped the trial) ends the run and frees its workers' CPUs, and a run
started from a checkpoint continues after that checkpoint's epoch.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import ray.train
from trainables_helpers import TINY_CONFIGS

from seqsweep.constants import EPOCH, WORKERS
from seqsweep.data.bundle import DatasetBundle
from seqsweep.trainables import DeviceSettings, TrialSettings, read_state
from seqsweep.trainables.base import DataParallelSettings
from seqsweep.trainables.train_workers import relay_reports

pytestmark = pytest.mark.slow

WORKERS_PER_TRIAL = 2
FREE_CPU_DEADLINE_S = 120


def _settings(scratch: Path) -> TrialSettings:
    parallel = DataParallelSettings(
        workers=WORKERS_PER_TRIAL, worker_device=DeviceSettings(cpus=1), scratch_path=str(scratch)
    )
    return TrialSettings(model="gru", seed=3, data_parallel=parallel)


def _wait_for_free_cpus(cluster: Any, cpus: float) -> float:
    deadline = time.monotonic() + FREE_CPU_DEADLINE_S
    while (free := cluster.available_resources().get("CPU", 0.0)) < cpus and time.monotonic() < deadline:
        time.sleep(1)
    return free


def test_stopped_run_frees_its_workers_and_a_resumed_run_continues(
    ray_cluster: Any, synthetic_bundle: DatasetBundle, tmp_path: Path
) -> None:
    config = {**TINY_CONFIGS["gru"], "epochs": 4, "batch_size": 64}
    bundle_ref = ray_cluster.put(synthetic_bundle)
    scratch = tmp_path / "scratch"

    reports = relay_reports(config, bundle_ref, _settings(scratch), trial_id="t1", resume_from=None)
    first = next(reports)
    assert first.metrics[EPOCH] == 1 and first.metrics[WORKERS] == WORKERS_PER_TRIAL
    assert first.checkpoint_path is not None
    kept = shutil.copytree(first.checkpoint_path, tmp_path / "epoch1")  # what Tune persists
    reports.close()  # what happens when Tune stops the trial
    assert _wait_for_free_cpus(ray_cluster, 2.0) >= 2.0, "the stopped run still holds its workers"
    assert not (scratch / "t1").exists()
    assert read_state(kept).epoch == 1

    resumed = relay_reports(
        config,
        bundle_ref,
        _settings(scratch),
        trial_id="t1",
        resume_from=ray.train.Checkpoint.from_directory(str(kept)),
    )
    epochs = [report.metrics[EPOCH] for report in resumed]
    assert epochs == [2, 3, 4]
