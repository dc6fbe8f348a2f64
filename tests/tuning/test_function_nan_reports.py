"""A training function (`trainable: package.module:function`) whose report carries a NaN or infinite
loss or search metric fails that trial as a built-in family's NaN loss does: a TrialError naming the
metric, the value and the epoch; `run` exits 1 with one line per errored trial, names no such trial as
its best, and Optuna records the trial FAIL (so TPE never learns from it)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import optuna
import pytest

from seqsweep import cli
from seqsweep.errors import TrialError
from seqsweep.search_spaces.sweep import load_sweep
from seqsweep.testing.sweeps import no_retry_sweep_file
from seqsweep.trainables import InMemoryReporter
from seqsweep.trainables.function import FunctionReporter

TRAINABLE = "nan_function:train"
"""tests/tuning/helpers/nan_function.py: finite val_macro_f1, NaN train_loss and val_loss."""


def _reporter(tmp_path: Path) -> tuple[FunctionReporter, InMemoryReporter]:
    inner = InMemoryReporter(root=tmp_path / "reports")
    return FunctionReporter(inner, TRAINABLE), inner


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ({"val_macro_f1": 0.4, "train_loss": float("nan")}, "train_loss is nan at epoch 1"),
        ({"val_macro_f1": 0.4, "val_loss": float("inf")}, "val_loss is inf at epoch 1"),
        ({"val_macro_f1": float("nan"), "val_loss": 0.9}, "val_macro_f1 is nan at epoch 1"),
        ({"val_skill": -float("inf")}, "val_skill is -inf at epoch 1"),
        ({"val_macro_f1": "0.4"}, "val_macro_f1 is '0.4' at epoch 1"),
        ({"val_macro_f1": None}, "val_macro_f1 is None at epoch 1"),
    ],
)
def test_a_non_finite_loss_or_search_metric_fails_the_trial(
    tmp_path: Path, metrics: dict[str, Any], message: str
) -> None:
    reporter, inner = _reporter(tmp_path)
    with pytest.raises(TrialError, match=f"trainable {TRAINABLE}: {message}"):
        reporter.report(metrics, tmp_path)
    assert inner.reports == []  # nothing reached Tune


def test_finite_reports_pass_and_the_failing_epoch_is_named(tmp_path: Path) -> None:
    import numpy as np

    reporter, inner = _reporter(tmp_path)
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    reporter.report({"val_macro_f1": np.float32(0.4), "train_loss": 1, "val_loss": 0.9}, checkpoint)
    reporter.report({"val_macro_f1": 0.5, "val_mse": 2.0, "my_own_metric": float("nan")}, checkpoint)
    assert [r["epoch"] for r in inner.reports] == [1, 2]
    with pytest.raises(TrialError, match="val_loss is nan at epoch 3"):
        reporter.report({"val_macro_f1": 0.5, "val_loss": np.float64("nan")}, checkpoint)


def test_the_sweeps_own_search_metric_must_be_finite_too(tmp_path: Path) -> None:
    """`search.metric: score` reported as NaN passed: `run` named the trial best on an earlier epoch while
    Ray's summary (its last `score`) and `ExperimentAnalysis.get_best_trial` named another."""
    inner = InMemoryReporter(root=tmp_path / "reports")
    reporter = FunctionReporter(inner, TRAINABLE, "score")
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    reporter.report({"score": 0.5}, checkpoint)
    with pytest.raises(TrialError, match=f"trainable {TRAINABLE}: score is nan at epoch 2"):
        reporter.report({"score": float("nan")}, checkpoint)
    assert [r["score"] for r in inner.reports] == [0.5]


@pytest.mark.slow
def test_a_function_reporting_nan_losses_errors_and_is_never_best(
    ray_cluster: object, sample_db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = no_retry_sweep_file(
        tmp_path,
        "function_nan",
        sample_db_url,
        {"trainable": TRAINABLE},
        {"lr": {"type": "uniform", "low": 0.0, "high": 1.0}, "epochs": 1},
        {"algorithm": "tpe", "num_samples": 2, "max_concurrent": 2, "seed": 7},
    )
    assert cli.main(["run", str(path)]) == 1
    out = capsys.readouterr().out
    assert "2 trials, 2 errored" in out
    assert "best val_macro_f1 none" in out  # no NaN trial is named best
    errored = [line for line in out.splitlines() if " errored: " in line]
    assert len(errored) == 2
    assert all("train_loss is nan at epoch 1" in line for line in errored)
    storage = f"sqlite:///{Path(load_sweep(path).file.storage_path) / 'function_nan' / 'optuna.db'}"
    study = optuna.load_study(study_name="function_nan", storage=storage)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL] * 2


@pytest.mark.parametrize(
    ("epochs", "bad"),
    [([1, 1], 1), ([1, 2, 2], 2), ([3, 2], 2), ([1, 2.5], 2.5), ([True], True), (["2"], "2")],
    ids=["repeated", "repeated later", "going back", "not whole", "a boolean", "text"],
)
def test_an_epoch_that_does_not_grow_fails_the_trial(tmp_path: Path, epochs: list[Any], bad: Any) -> None:
    """Reports of epoch 1, 1, 2, 2: Tune, Optuna and the pruning counted every report, `results` the last
    of each epoch, so `results` ranked another best than `run` and asked for a checkpoint pruning deleted."""
    import numpy as np

    reporter, inner = _reporter(tmp_path)
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    good = epochs[:-1]
    for epoch in good:
        reporter.report({"val_macro_f1": 0.4, "epoch": np.int64(epoch)}, checkpoint)
    with pytest.raises(
        TrialError, match=rf"report gave epoch {re.escape(repr(bad))} after epoch {good[-1] if good else 0}"
    ):
        reporter.report({"val_macro_f1": 0.4, "epoch": bad}, checkpoint)
    assert [r["epoch"] for r in inner.reports] == good


@pytest.mark.slow
def test_trials_tied_on_the_best_score_give_one_winner_everywhere(
    ray_cluster: object, sample_db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Trial a peaks at 0.7 after 4 epochs, trial b at 0.7 after 3: `run` named the first it met with
    the best value, `results` (and so `export`) the one with fewer epochs."""
    from seqsweep.results.experiment import read_experiment

    path = no_retry_sweep_file(
        tmp_path,
        "tied",
        sample_db_url,
        {"trainable": "scripted_function:train"},
        {"spec": {"type": "choice", "values": ["a:0.5,0.7,0.7,0.6", "b:0.3,0.7,0.2"]}},
        {"algorithm": "grid", "num_samples": 2, "max_concurrent": 2, "seed": 1},
    )
    assert cli.main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    named = re.search(r"best val_macro_f1 0\.7000 \(trial (\S+)\)", out)
    assert named, out
    experiment = read_experiment(Path(load_sweep(path).file.storage_path) / "tied")
    winner = experiment.ranked()[0]
    assert winner.epochs_run == 3
    assert named.group(1) == winner.trial_id

    # the winner's best checkpoint on disk and named by its report, but not in the state Tune saved (a
    # signal stopped the sweep between the two): `results` takes it (it said "not on disk" and exited 2)
    from seqsweep.tuning.experiment_state import forget_checkpoints

    assert winner.checkpoint is not None and winner.path is not None
    best, aside = Path(winner.checkpoint), tmp_path / "aside"
    rows = {name: (Path(winner.path) / name).read_bytes() for name in ("result.json", "progress.csv")}
    shutil.move(best, aside)
    forget_checkpoints(experiment.path)  # the state (and the rows) forget it while it is away
    shutil.move(aside, best)
    for name, content in rows.items():
        (Path(winner.path) / name).write_bytes(content)
    assert read_experiment(experiment.path).ranked()[0].checkpoint == str(best)
    assert cli.main(["results", str(experiment.path), "--top", "1", "--no-test"]) == 0
    capsys.readouterr()

    # the winner's best checkpoint deleted by hand: `results` and `export` name it and exit 2 (a training
    # function's sweep said "no kept checkpoint ... report a checkpoint_dir" and exited 0)
    assert winner.checkpoint is not None
    shutil.rmtree(winner.checkpoint)
    assert cli.main(["results", str(experiment.path), "--top", "1"]) == 2
    err = capsys.readouterr().err
    assert f"the checkpoint of its best epoch (2) {winner.checkpoint} is not on disk" in err
    assert cli.main(["export", str(experiment.path), "--out", str(tmp_path / "bundle")]) == 2
    assert f"({winner.checkpoint}) is not on disk" in capsys.readouterr().err


@pytest.mark.parametrize("status", [0, 3])
def test_a_function_calling_sys_exit_fails_its_trial_in_one_line(
    status: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tune took `sys.exit(0)` in a training function for its end and failed on its own assertion ("Should
    not have reached here. The TuneController should not have scheduled ..."), the trial's only line."""
    from seqsweep.testing import make_bundle
    from seqsweep.trainables.function import train_function

    name = f"exiting_function_{status}"
    (tmp_path / f"{name}.py").write_text(
        f"import sys\n\ndef train(config, data, reporter):\n    sys.exit({status})\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    inner = InMemoryReporter(root=tmp_path / "reports")
    with pytest.raises(TrialError, match=rf"{name}:train: the function called sys.exit\({status}\) after 0"):
        train_function(f"{name}:train", {}, make_bundle(n_rows=100), inner)


@pytest.mark.slow
def test_a_trial_whose_process_dies_is_one_line_without_rays_own(
    ray_cluster: object, sample_db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ray's driver printed "(raylet) A worker died or was killed while executing a task by an unexpected
    system error ..." (600 characters, colour codes) before the trial's own line."""
    path = no_retry_sweep_file(
        tmp_path,
        "dying",
        sample_db_url,
        {"trainable": "dying_function:train"},
        {"lr": {"type": "uniform", "low": 0.0, "high": 1.0}},
        {"algorithm": "random", "num_samples": 1, "max_concurrent": 1, "seed": 3},
    )
    assert cli.main(["run", str(path)]) == 1
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert "(raylet)" not in output and "A worker died" not in output, output[-2000:]
    assert next(line for line in captured.out.splitlines() if " errored: " in line).startswith("trial ")
