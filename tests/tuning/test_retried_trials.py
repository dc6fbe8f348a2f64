"""A trial retried after an error (`failure.max_retries`) goes on from its newest checkpoint and reports
the epochs after it again. `results` ranks each epoch's latest report; `run`'s summary, the Optuna
study and Ray's readers (`ExperimentAnalysis.get_best_trial`, `ResultGrid.get_best_result`) counted the
lost attempt's score too, which no checkpoint holds, and named another winner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
import yaml
from ray import tune
from retried_function import RETRY, STEADY

from seqsweep import cli
from seqsweep.results.experiment import read_experiment
from seqsweep.testing.sweeps import tiny_dataset
from seqsweep.trainables.tune_reporter import train_trial
from seqsweep.tuning.reports import latest_per_epoch

pytestmark = pytest.mark.slow


def test_latest_per_epoch_keeps_each_epochs_last_row_in_order() -> None:
    rows = [{"epoch": 1, "v": 0.2}, {"epoch": 2, "v": 0.9}, {"epoch": 2, "v": 0.3}, {"epoch": 3, "v": 0.35}]
    assert latest_per_epoch(rows) == [rows[0], rows[2], rows[3]]
    assert latest_per_epoch([{"v": 1}, {"v": 2}]) == [{"v": 1}, {"v": 2}]  # no epochs: as they are


def test_run_optuna_ray_and_results_name_one_winner_after_a_retry(
    ray_cluster: object, sample_db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep = {
        "name": "retried",
        "trainable": "retried_function:train",
        "dataset": tiny_dataset(sample_db_url),
        "params": {"kind": {"type": "choice", "values": ["flaky", "steady"]}},
        "search": {"algorithm": "grid", "max_concurrent": 1, "seed": 1},
        "scheduler": {"type": "none"},
        "resources": {"cpu": 1},
        "failure": {"max_retries": 1},
        "checkpoints": {"keep": 2},
        "storage_path": str(tmp_path / "runs"),
    }
    path = tmp_path / "retried.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    assert cli.main(["run", str(path)]) == 0
    assert f"best val_macro_f1 {max(STEADY):.4f}" in capsys.readouterr().out
    experiment_dir = tmp_path / "runs" / "retried"

    analysis = tune.ExperimentAnalysis(str(experiment_dir))
    best = analysis.get_best_trial("val_macro_f1", "max", scope="all")
    assert best is not None and best.config["kind"] == "steady"
    grid = tune.Tuner.restore(str(experiment_dir), trainable=train_trial).get_results()
    assert grid.get_best_result("val_macro_f1", "max", scope="all").config["kind"] == "steady"

    study = optuna.load_study(study_name="retried", storage=f"sqlite:///{experiment_dir / 'optuna.db'}")
    values = {t.params["kind"]: t.value for t in study.trials}
    assert values == {"flaky": max(RETRY), "steady": max(STEADY)}

    winner = read_experiment(experiment_dir).top(1)[0]
    assert winner.config["kind"] == "steady"


@pytest.mark.slow
def test_a_trial_whose_worker_died_is_saved_as_errored_and_not_run_again(
    write_sweep: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A worker process that died (`os._exit`, the OOM killer) beside a running trial: the sweep's line
    said errored, but Tune's saved state said RUNNING, so `results` listed the trial as pending, Ray's
    readers as running, and `resume` ran it again."""
    from seqsweep.search_spaces.sweep import load_sweep
    from seqsweep.tuning.experiment_state import StateFile, state_files

    path = write_sweep(
        name="died",
        model="dying_family:build",
        params={"mode": {"type": "choice", "values": ["ok", "exit"]}, "batch_size": 64, "epochs": 2},
        search={"algorithm": "grid", "num_samples": None, "max_concurrent": 2, "seed": 1},
        scheduler={"type": "none"},
    )
    assert cli.main(["run", str(path)]) == 1
    experiment = Path(load_sweep(path).file.storage_path) / "died"
    statuses = {e.trial["config"]["mode"]: e.status for e in StateFile(state_files(experiment)[-1]).entries}
    assert statuses == {"ok": "TERMINATED", "exit": "ERROR"}
    died = next(t for t in read_experiment(experiment).trials if t.params.get("mode") == "exit")
    assert died.status == "errored" and died.error is not None and "ActorDiedError" in died.error
    assert died.path is not None
    error_txt = Path(died.path) / "error.txt"
    failures = error_txt.read_text().count("Failure #")
    capsys.readouterr()
    assert cli.main(["resume", str(experiment)]) == 1
    assert error_txt.read_text().count("Failure #") == failures  # not run again
