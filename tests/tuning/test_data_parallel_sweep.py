"""A sweep whose trials each train on two Ray Train workers (`resources.workers: 2`), end to end:
reports, checkpoints, ranking, and ASHA stopping a trial, which must hand its workers back."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
from frozen_family import trained_then_frozen

from seqsweep import cli
from seqsweep.constants import WORKERS
from seqsweep.layout import TRAIN_SCRATCH
from seqsweep.results.experiment import read_experiment
from seqsweep.search_spaces.sweep import load_sweep
from seqsweep.trainables import DeviceSettings, load_checkpoint

pytestmark = pytest.mark.slow

FREE_CPU_DEADLINE_S = 120
"""How long Ray may take to see a stopped run's worker actors gone."""


def _wait_for_free_cpus(cluster: Any, cpus: float) -> float:
    deadline = time.monotonic() + FREE_CPU_DEADLINE_S
    while (free := cluster.available_resources().get("CPU", 0.0)) < cpus and time.monotonic() < deadline:
        time.sleep(1)
    return float(free)


def test_two_worker_trials_rank_like_any_trial_and_asha_stops_the_weak_one(
    ray_cluster: Any, write_sweep: Callable[..., Path]
) -> None:
    # `output: frozen` cannot learn: ASHA's first rung cuts it. The trial holds no CPU; each worker one.
    sections = trained_then_frozen("frozen_family:build_torch", batch_size=32)
    path = write_sweep(name="data_parallel", resources={"cpu": 1, "workers": 2}, **sections)
    assert cli.main(["run", str(path)]) == 0
    experiment_dir = Path(load_sweep(path).file.storage_path) / "data_parallel"

    study = optuna.load_study(study_name="data_parallel", storage=f"sqlite:///{experiment_dir}/optuna.db")
    trained, frozen = sorted(study.get_trials(), key=lambda t: t.number)
    assert (trained.params["output"], frozen.params["output"]) == ("trained", "frozen"), "grid order changed"
    assert trained.state == optuna.trial.TrialState.COMPLETE and len(trained.intermediate_values) >= 2
    assert frozen.state == optuna.trial.TrialState.PRUNED and sorted(frozen.intermediate_values) == [1]

    # One report per epoch (rank 0's), each saying how many workers trained it.
    rows = [
        json.loads(line)
        for result in experiment_dir.glob("*/result.json")
        for line in result.read_text().splitlines()
        if line.strip()
    ]
    assert len(rows) == len(trained.intermediate_values) + 1
    assert {row[WORKERS] for row in rows} == {2}

    # Stopping a trial ended its Ray Train run: both workers' CPUs come back, the scratch is gone.
    assert _wait_for_free_cpus(ray_cluster, 2.0) >= 2.0, "a stopped trial still holds its workers"
    assert not (experiment_dir / TRAIN_SCRATCH).exists()

    # Rank 0's checkpoints rank and reload like any one-worker trial's.
    ranked = read_experiment(experiment_dir).ranked()
    assert len(ranked) == 2
    model = load_checkpoint(Path(str(ranked[0].checkpoint)), DeviceSettings())
    assert model.info.family == "frozen_family:build_torch"
