"""A sweep whose trials each train on two Ray Train workers (`resources.workers: 2`), end to end."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest

from seqsweep import cli
from seqsweep.constants import WORKERS
from seqsweep.results.experiment import read_experiment
from seqsweep.search_spaces.sweep import load_sweep
from seqsweep.trainables import DeviceSettings, load_checkpoint
from seqsweep.tuning.runner import TRAIN_SCRATCH

pytestmark = pytest.mark.slow

FREE_CPU_DEADLINE_S = 120
"""How long Ray may take to see a stopped run's worker actors gone."""


def test_two_worker_trials_report_checkpoint_and_rank_like_any_trial(
    ray_cluster: object, write_sweep: Callable[..., Path]
) -> None:
    path = write_sweep(
        name="data_parallel",
        model="gru",
        params={"hidden_size": {"type": "choice", "values": [8, 16]}, "batch_size": 32, "epochs": 2},
        search={"algorithm": "random", "num_samples": 2, "max_concurrent": 1},
        scheduler={"type": "none"},
        resources={"cpu": 1, "workers": 2},  # the trial holds no CPU; each worker holds one
    )
    assert cli.main(["run", str(path)]) == 0
    experiment_dir = Path(load_sweep(path).file.storage_path) / "data_parallel"

    rows = [
        json.loads(line)
        for result in experiment_dir.glob("*/result.json")
        for line in result.read_text().splitlines()
        if line.strip()
    ]
    assert len(rows) == 4  # 2 trials × 2 epochs, one report per epoch (rank 0's)
    assert {row[WORKERS] for row in rows} == {2}
    assert not (experiment_dir / TRAIN_SCRATCH).exists()

    experiment = read_experiment(experiment_dir)
    ranked = experiment.ranked()
    assert len(ranked) == 2
    model = load_checkpoint(Path(str(ranked[0].checkpoint)), DeviceSettings())
    assert model.info.family == "gru"

    study = optuna.load_study(study_name="data_parallel", storage=f"sqlite:///{experiment_dir}/optuna.db")
    assert [t.state for t in study.get_trials()] == [optuna.trial.TrialState.COMPLETE] * 2


def test_asha_stops_a_weak_two_worker_trial_and_its_workers_are_freed(
    ray_cluster: Any, write_sweep: Callable[..., Path]
) -> None:
    path = write_sweep(
        name="data_parallel_asha",
        model="frozen_family:build_torch",  # `output: frozen` cannot learn: ASHA's first rung cuts it
        params={
            "cell_size": 8,
            "output": {"type": "choice", "values": ["trained", "frozen"]},
            "batch_size": 32,
            "epochs": 3,
        },
        search={"algorithm": "grid", "num_samples": None, "metric": "val_loss", "mode": "min", "seed": 1},
        scheduler={"type": "asha", "grace_period": 1, "reduction_factor": 2},
        resources={"cpu": 1, "workers": 2},
    )
    assert cli.main(["run", str(path)]) == 0
    experiment_dir = Path(load_sweep(path).file.storage_path) / "data_parallel_asha"

    study = optuna.load_study(
        study_name="data_parallel_asha", storage=f"sqlite:///{experiment_dir}/optuna.db"
    )
    trained, frozen = sorted(study.get_trials(), key=lambda t: t.number)
    assert (trained.params["output"], frozen.params["output"]) == ("trained", "frozen"), "grid order changed"
    assert trained.state == optuna.trial.TrialState.COMPLETE
    assert frozen.state == optuna.trial.TrialState.PRUNED and sorted(frozen.intermediate_values) == [1]

    # Stopping the trial ended its Ray Train run: both workers' CPUs come back, the scratch is gone.
    deadline = time.monotonic() + FREE_CPU_DEADLINE_S
    while ray_cluster.available_resources().get("CPU", 0.0) < 2.0 and time.monotonic() < deadline:
        time.sleep(1)
    assert ray_cluster.available_resources().get("CPU", 0.0) >= 2.0, (
        "the stopped trial still holds its workers"
    )
    assert not (experiment_dir / TRAIN_SCRATCH).exists()
