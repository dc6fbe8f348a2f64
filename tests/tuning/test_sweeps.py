"""End-to-end sweeps on a real local Ray (2 CPUs): the CLI, the Optuna study, Ray's own readers,
failing trials, and resume after the driver is killed with SIGKILL."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
import sweep_driver
from barrier_family import reached_markers, release
from frozen_family import trained_then_frozen
from ray import tune
from sweep_driver import assert_ray_checkpoints_exist, barrier_sweep

from seqsweep import cli
from seqsweep.errors import ConfigError
from seqsweep.results.experiment import read_experiment
from seqsweep.search_spaces.sweep import load_sweep
from seqsweep.trainables.tune_reporter import train_trial
from seqsweep.tuning import run_sweep
from seqsweep.tuning.experiment_state import StateFile, state_files
from seqsweep.tuning.study_owner import RAY_TRIAL_ID_ATTR

pytestmark = pytest.mark.slow


def _result_lines(trial_dir: Path) -> list[dict]:
    path = trial_dir / "result.json"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _trial_dirs(experiment: Path) -> list[Path]:
    return sorted(p for p in experiment.iterdir() if p.is_dir() and (p / "params.json").exists())


def _markers(barrier: Path) -> list[str]:
    return [p.read_text() for p in reached_markers(barrier)]


def test_demo_style_sweep_end_to_end(
    ray_cluster: None, write_sweep: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_sweep(checkpoints={"keep": 1})
    assert cli.main(["run", str(path)]) == 0
    captured = capsys.readouterr()
    experiment = Path(load_sweep(path).file.storage_path) / "tiny"
    assert "trials 6/6" in captured.err
    assert f"experiment: {experiment}" in captured.out

    # Ray's own readers understand the directory.
    analysis = tune.ExperimentAnalysis(str(experiment))
    assert len(analysis.trials) == 6
    restored = tune.Tuner.restore(str(experiment), trainable=train_trial).get_results()
    assert len(restored) == 6 and restored.num_errors == 0

    # The study is in a real RDB; scheduler-stopped trials are PRUNED, full ones COMPLETE.
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{experiment}/optuna.db")
    states = {t.user_attrs[RAY_TRIAL_ID_ATTR]: t.state for t in study.get_trials()}
    assert len(states) == 6
    epochs_run = {t.trial_id: len(analysis.trial_dataframes[t.trial_id]) for t in analysis.trials}
    for trial_id, epochs in epochs_run.items():
        expected = optuna.trial.TrialState.COMPLETE if epochs == 3 else optuna.trial.TrialState.PRUNED
        assert states[trial_id] == expected, (trial_id, epochs)

    # TensorBoard event files per trial.
    for trial_dir in _trial_dirs(experiment):
        assert list(trial_dir.glob("events.out.tfevents*")), trial_dir

    # Retention ran once the fit returned: at most the best `keep` (1) plus the latest per trial, and
    # every ranked trial's best epoch still has its checkpoint. Ray's readers name only those.
    for trial_dir in _trial_dirs(experiment):
        assert 1 <= len(list(trial_dir.glob("checkpoint_*"))) <= 2, trial_dir
    assert_ray_checkpoints_exist(experiment)
    for trial in read_experiment(experiment).ranked():
        assert trial.checkpoint is not None and Path(trial.checkpoint).is_dir(), trial.trial_id


def test_asha_stops_a_weak_trial_and_the_study_records_it_pruned(
    ray_cluster: None, write_sweep: Callable[..., Path]
) -> None:
    # Which trained LSTM ASHA cuts is up to float noise (tied macro-F1s are never cut), so the weak
    # trial here is weak by construction: a frozen head whose loss on "flat"/"up" windows is ~20.
    path = write_sweep(name="weak", **trained_then_frozen("frozen_family:build", batch_size=64))
    assert cli.main(["run", str(path)]) == 0
    experiment = Path(load_sweep(path).file.storage_path) / "weak"
    study = optuna.load_study(study_name="weak", storage=f"sqlite:///{experiment}/optuna.db")
    trials = sorted(study.get_trials(), key=lambda t: t.number)
    # ASHA only compares a trial with those that reached the rung before it.
    assert [t.params["output"] for t in trials] == ["trained", "frozen"], "the grid order for seed 1 changed"
    trained, frozen = trials
    assert trained.state == optuna.trial.TrialState.COMPLETE and len(trained.intermediate_values) >= 2
    assert frozen.state == optuna.trial.TrialState.PRUNED and sorted(frozen.intermediate_values) == [1]
    assert frozen.intermediate_values[1] > trained.intermediate_values[1]


def test_trial_that_raises_is_errored_and_the_sweep_completes(
    ray_cluster: None, write_sweep: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_sweep(
        name="flaky",
        model="flaky_family:build",
        params={"cell_size": {"type": "choice", "values": [4, 13]}, "epochs": 1},
        search={"algorithm": "grid", "num_samples": None},
        scheduler={"type": "none"},
        failure={"max_retries": 1},
    )
    assert cli.main(["run", str(path)]) == 1
    captured = capsys.readouterr()
    out = captured.out
    assert "2 trials, 1 errored" in out
    experiment = Path(load_sweep(path).file.storage_path) / "flaky"
    # One line names the errored trial, its error and its traceback file; Tune's traceback logs stay off.
    [line] = [line for line in out.splitlines() if " errored: " in line]
    assert "cell_size 13 is refused" in line and line.endswith("error.txt)")
    assert Path(line.rsplit("(traceback: ", 1)[1][:-1]).is_file()
    assert "Traceback" not in captured.err and "Traceback" not in out
    grid = tune.Tuner.restore(str(experiment), trainable=train_trial).get_results()
    errored = [r for r in grid if r.error is not None]
    assert len(errored) == 1
    assert json.loads((Path(errored[0].path) / "params.json").read_text())["cell_size"] == 13
    assert "cell_size 13 is refused" in str(errored[0].error)


def test_gpu_request_on_a_cluster_without_gpu_is_refused(
    ray_cluster: None, write_sweep: Callable[..., Path]
) -> None:
    spec = load_sweep(write_sweep(resources={"cpu": 1, "gpu": 0.5}))
    with pytest.raises(ConfigError, match=r"resources.gpu: .* the cluster has no GPU"):
        run_sweep(spec)


def _state_shows(experiment: Path, finished: str, running: str) -> bool:
    """Whether Tune's saved experiment state has `finished` TERMINATED and `running` not yet ended."""
    files = state_files(experiment)
    if not files:
        return False
    status = {e.trial_id: e.status for e in StateFile(files[-1]).entries}
    return status.get(finished) == "TERMINATED" and status.get(running) in ("RUNNING", "PENDING")


def test_resume_after_sigkill_runs_no_trial_twice(write_sweep: Callable[..., Path], tmp_path: Path) -> None:
    barrier = tmp_path / "barrier"
    path = write_sweep(name="killed", **barrier_sweep(barrier, [4, 8]))
    experiment = (Path(load_sweep(path).file.storage_path) / "killed").resolve()
    driver = sweep_driver.start("run", str(path))
    try:
        # Deterministic kill point: the first trial finished, the second blocked in epoch 2, and the
        # state Tune saves every few seconds showing both (it keeps saving while the trial blocks).
        first = sweep_driver.wait_for(
            "the first trial reaching epoch 2", lambda: _markers(barrier)[:1], driver
        )[0]
        release(barrier, first)
        second = sweep_driver.wait_for(
            "the second trial reaching epoch 2",
            lambda: [t for t in _markers(barrier) if t != first][:1],
            driver,
        )[0]
        sweep_driver.wait_for(
            "an experiment state with the first trial finished and the second running",
            lambda: _state_shows(experiment, first, second),
            driver,
        )
    finally:
        sweep_driver.signal_group(driver, signal.SIGKILL)  # its local Ray goes too; a dead group is fine
        driver.wait()
    first_dir = sweep_driver.trial_dir_of(experiment, first)
    before = sweep_driver.result_rows(first_dir)

    release(barrier)
    resumed = sweep_driver.start("resume", str(experiment))
    output = sweep_driver.finish(resumed, timeout_s=400)
    assert resumed.returncode == 0, output

    after = {d.name: sweep_driver.result_rows(d) for d in sweep_driver.trial_dirs(experiment)}
    assert len(after) == 2, sorted(after)
    for name, rows in after.items():
        assert [r["epoch"] for r in rows] == [1, 2, 3], name  # one row per epoch, none trained twice
        assert rows[-1]["final_epoch"], name
    strip = "checkpoint_dir_name"  # blanked by pruning where the checkpoint was deleted
    assert [{k: v for k, v in r.items() if k != strip} for r in after[first_dir.name]] == [
        {k: v for k, v in r.items() if k != strip} for r in before
    ], f"finished trial {first} ran again"
    study = optuna.load_study(study_name="killed", storage=f"sqlite:///{experiment}/optuna.db")
    complete = [t for t in study.get_trials() if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 2
    assert not [t for t in study.get_trials() if t.state == optuna.trial.TrialState.RUNNING]
