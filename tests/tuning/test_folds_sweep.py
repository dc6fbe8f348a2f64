"""A tiny 3-fold walk-forward sweep on a real local Ray: TPE + ASHA see one mean per epoch, results and
export work on it, and the exported model says it is the last fold's.

Resuming a killed k-fold sweep is covered by its two halves: the loop-level test
(`tests/trainables/test_folds_loop.py`: a 3-fold trial resumes from its checkpoint with the results of an
uninterrupted run) and the sweep's own resume machinery (`test_sweeps.py`, `test_interrupt_resume.py`),
which judges a checkpoint by its top folder, where a k-fold checkpoint keeps the last fold's model in
exactly the one-fold layout.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
import yaml
from ray import tune

from seqsweep import cli
from seqsweep.constants import VAL_MACRO_F1_FOLD_STD
from seqsweep.results.evaluate import load_dataset
from seqsweep.results.experiment import read_experiment
from seqsweep.results.export import export_bundle
from seqsweep.results.leaderboard import below_persistence
from seqsweep.search_spaces.sweep import load_sweep
from seqsweep.testing.sweeps import tiny_dataset
from seqsweep.trainables.checkpoint import checkpoint_folds
from seqsweep.tuning import run_sweep

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fold_sweep(ray_cluster: object, sample_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fold_sweep")
    sweep = {
        "name": "folds",
        "model": "gru",
        "dataset": tiny_dataset(
            sample_db_url, targets=["close", "lending_rate"], split={"folds": 3, "gap": 8}
        ),
        "params": {
            "hidden_size": {"type": "choice", "values": [4, 8]},
            "learning_rate": 0.01,
            "batch_size": 64,
            "epochs": 2,
        },
        "search": {"algorithm": "tpe", "num_samples": 2, "max_concurrent": 1, "seed": 5},
        "scheduler": {"type": "asha", "grace_period": 1, "reduction_factor": 2},
        "resources": {"cpu": 1},
        "failure": {"max_retries": 0},
        "checkpoints": {"keep": 2},
        "storage_path": str(root / "runs"),
    }
    path = root / "folds.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    outcome = run_sweep(load_sweep(path), stream=io.StringIO())
    assert outcome.num_errored == 0, outcome.describe()
    return outcome.experiment_dir


def test_every_epoch_reports_one_mean_and_the_fold_spread(fold_sweep: Path) -> None:
    analysis = tune.ExperimentAnalysis(str(fold_sweep))
    assert len(analysis.trials) == 2
    for frame in analysis.trial_dataframes.values():
        assert 1 <= len(frame) <= 2
        assert list(frame["epoch"]) == list(range(1, len(frame) + 1))
        assert (frame[VAL_MACRO_F1_FOLD_STD] >= 0).all() and frame["val_macro_f1"].notna().all()
    study = optuna.load_study(study_name="folds", storage=f"sqlite:///{fold_sweep}/optuna.db")
    for trial in study.get_trials():  # the searcher saw one value per epoch: the mean over folds
        assert set(trial.intermediate_values) <= {1, 2} and trial.intermediate_values
    for trial in read_experiment(fold_sweep).ranked():
        assert trial.checkpoint is not None and checkpoint_folds(trial.checkpoint) == 3
        assert (Path(trial.checkpoint) / "fold_0").is_dir() and (Path(trial.checkpoint) / "fold_1").is_dir()


def test_the_dataset_is_cached_once_with_its_folds(fold_sweep: Path) -> None:
    bundle = load_dataset(read_experiment(fold_sweep))
    assert bundle.n_folds == 3
    assert list((fold_sweep.parent / "datasets" / bundle.cache_key).glob("fold_scale.npy"))


def test_results_and_export_take_the_last_fold_model(fold_sweep: Path, tmp_path: Path) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["results", str(fold_sweep), "--top", "1"]) == 0
    winners = json.loads((fold_sweep / "report" / "winners.json").read_text())
    assert "mean over 3 walk-forward folds" in winners["valid"]["note"]
    assert "last of its 3 fold models" in winners["test"]["winners"][0]["description"]
    # below persistence is judged on each fold's own windows (the trial's val_skill), not against
    # persistence on the last fold's windows only
    assert "below persistence's on the same windows (each of the 3 walk-forward folds' own" in out.getvalue()
    experiment = read_experiment(fold_sweep)
    for trial in experiment.ranked():
        skill = trial.best_metrics["val_skill"]
        assert below_persistence(trial, persistence=-1.0) is (skill < 0)  # the skill decides, not -1.0

    outcome = export_bundle(fold_sweep, tmp_path / "bundle")
    card = (tmp_path / "bundle" / "README.md").read_text()
    assert "The exported model is the last fold's (fold 3 of 3)" in card
    manifest = json.loads((tmp_path / "bundle" / "bundle.json").read_text())
    assert manifest["folds"]["n_folds"] == 3 and manifest["folds"]["exported_fold"] == 2
    assert outcome.max_abs_diff <= 1e-5


def test_validate_dry_builds_a_fold_sweep(
    fold_sweep: Path, write_sweep: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_sweep(name="folds_validate", dataset={"split": {"folds": 3, "gap": 8}})
    assert cli.main(["validate", str(path)]) == 0
    assert "dataset dry build ok" in capsys.readouterr().out


def test_a_three_fold_sweep_resumes_after_a_kill(
    seqsweep_here: Callable[..., tuple[int, str]], write_sweep: Callable[..., Path], tmp_path: Path
) -> None:
    """SIGKILL the driver while the one trial's 3 fold-models are blocked in epoch 2; resume finishes it
    with one row per epoch, each the mean over folds with its std, and epoch 1 not trained again."""
    import signal
    import time

    import sweep_driver
    from barrier_family import reached_markers, release
    from sweep_driver import barrier_sweep

    from seqsweep.tuning.experiment_state import StateFile, state_files

    barrier = tmp_path / "barrier"
    sections = barrier_sweep(barrier, [4])
    path = write_sweep(
        name="folds_killed",
        dataset={"split": {"train": 0.7, "valid": 0.15, "folds": 3}},
        **sections,
    )
    experiment = (Path(load_sweep(path).file.storage_path) / "folds_killed").resolve()

    def running_in_state() -> bool:
        files = state_files(experiment)
        return bool(files) and [e.status for e in StateFile(files[-1]).entries] == ["RUNNING"]

    driver = sweep_driver.start("run", str(path))
    try:
        sweep_driver.wait_for("the trial reaching epoch 2", lambda: reached_markers(barrier)[:1], driver)
        sweep_driver.wait_for("an experiment state with the trial running", running_in_state, driver)
    finally:
        killed_at = time.time()
        sweep_driver.signal_group(driver, signal.SIGKILL)
        driver.wait()
    trial_dir = sweep_driver.trial_dirs(experiment)[0]
    assert sorted(p.name for p in trial_dir.glob("checkpoint_*")) == ["checkpoint_000000"]

    release(barrier)
    code, output = seqsweep_here("resume", str(experiment))  # not about the process
    assert code == 0, output
    rows = sweep_driver.result_rows(trial_dir)
    assert [r["epoch"] for r in rows] == [1, 2, 3]  # one row per epoch, none trained twice
    # epoch 1 is the one from before the kill: Ray's row, or (when Ray had not flushed it) the row the
    # resume rebuilt from that epoch's checkpoint, which carries no timestamp
    assert rows[0].get("timestamp", killed_at) <= killed_at
    assert all(r[VAL_MACRO_F1_FOLD_STD] >= 0 for r in rows) and rows[-1]["final_epoch"]
