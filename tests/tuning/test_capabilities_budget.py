"""Budgets and more trials, end to end on a real local Ray (issue 16, items 3 and 4).

`search.time_budget_s` and `search.stop_at` end a sweep cleanly (exit 0, one line saying so), the
running trial finishes its epoch and is recorded, the rest never start; both survive `resume`.
`resume --num-samples N` raises a finished sweep's trial count: the study goes on, nothing is rerun.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest

from seqsweep import cli
from seqsweep.search_spaces.sweep import load_sweep
from seqsweep.trainables.seeding import trial_index
from seqsweep.tuning.study_owner import RAY_TRIAL_ID_ATTR

pytestmark = pytest.mark.slow

GRU_PARAMS = {"hidden_size": {"type": "choice", "values": [4, 8]}, "batch_size": 64, "epochs": 3}


def _rows(experiment: Path) -> dict[str, int]:
    """Trial id → result rows (one per reported epoch)."""
    rows: dict[str, int] = {}
    for result in experiment.glob("*/result.json"):
        lines = [json.loads(line) for line in result.read_text().splitlines() if line.strip()]
        if lines:
            rows[lines[0]["trial_id"]] = len(lines)
    return rows


def _study(experiment: Path, name: str) -> dict[str, optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{experiment}/optuna.db")
    return {t.user_attrs[RAY_TRIAL_ID_ATTR]: t for t in study.get_trials()}


def test_time_budget_ends_the_sweep_and_resume_adds_trials(
    ray_cluster: None, write_sweep: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_sweep(
        name="budget",
        model="gru",
        params=GRU_PARAMS,
        search={"algorithm": "tpe", "num_samples": 3, "max_concurrent": 1, "time_budget_s": 0.5},
    )
    experiment = Path(load_sweep(path).file.storage_path) / "budget"
    assert cli.main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    assert "time budget of 0.5 s spent; the sweep ended there" in out
    rows = _rows(experiment)
    # the one trial that started finished the epoch it was in, was recorded, and stopped there
    assert list(rows.values()) == [1], rows
    (first,) = rows
    assert _study(experiment, "budget")[first].state == optuna.trial.TrialState.PRUNED

    # The budget survives resume: nothing more runs.
    assert cli.main(["resume", str(experiment)]) == 0
    assert "time budget of 0.5 s spent" in capsys.readouterr().out
    assert _rows(experiment) == rows

    # More trials, with a larger budget: the study and TPE go on; the finished trial is not rerun.
    assert cli.main(["resume", str(experiment), "--num-samples", "3", "--time-budget-s", "3600"]) == 0
    out = capsys.readouterr().out
    assert "3 trials, 0 errored" in out and "spent" not in out
    after = _rows(experiment)
    assert len(after) == 3 and after[first] == 1, after
    # the resumed sweep's new trials go on numbering where it stopped: their seeds are new ones
    assert sorted(trial_index(t) for t in after) == [0, 1, 2], after
    study = _study(experiment, "budget")
    assert set(study) == set(after)
    assert all(study[t].state.is_finished() for t in after)
    stored = load_sweep(experiment / "sweep.yaml").file.search
    assert stored.num_samples == 3 and stored.time_budget_s == 3600


def test_stop_at_ends_the_sweep_when_a_trial_reaches_it(
    ray_cluster: None, write_sweep: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_sweep(
        name="target",
        model="gru",
        params=GRU_PARAMS,
        search={"algorithm": "random", "num_samples": 4, "max_concurrent": 1, "stop_at": {"val_loss": 1e6}},
    )
    experiment = Path(load_sweep(path).file.storage_path) / "target"
    assert cli.main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    assert "stop_at reached: val_loss" in out and "<= 1e+06" in out
    rows = _rows(experiment)
    assert list(rows.values()) == [1], rows

    # Still reached after a resume, even one asking for more trials.
    assert cli.main(["resume", str(experiment), "--num-samples", "5"]) == 0
    assert "stop_at reached" in capsys.readouterr().out
    assert _rows(experiment) == rows


def _one_trial_sweep(write_sweep: Callable[..., Path], name: str, algorithm: str) -> tuple[Path, Path]:
    """A GRU sweep file of one trial of one epoch, and where its experiment will be."""
    path = write_sweep(
        name=name,
        model="gru",
        params={**GRU_PARAMS, "epochs": 1},
        search={"algorithm": algorithm, "num_samples": 1, "max_concurrent": 1},
    )
    return path, Path(load_sweep(path).file.storage_path) / name


def test_resume_refuses_fewer_trials_and_an_edited_sweep_copy(
    ray_cluster: None, write_sweep: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """`resume --num-samples` never lowers the count; and the experiment's `sweep.yaml` edited by hand
    (resume drew the stored space while training with the edited `params`) is refused by `resume` and
    `results` in one line, until the file is put back."""
    path, experiment = _one_trial_sweep(write_sweep, "fewer", "random")
    assert cli.main(["run", str(path)]) == 0
    capsys.readouterr()
    assert cli.main(["resume", str(experiment), "--num-samples", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "only raises the count" in err[0]

    copy = experiment / "sweep.yaml"
    written = copy.read_text()
    edited = written.replace("epochs: 1\n", "epochs: 2\n", 1)
    assert edited != written
    copy.write_text(edited)
    for command in (["resume", str(experiment)], ["results", str(experiment), "--no-test"]):
        assert cli.main(command) == 2, command
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "its sweep.yaml was edited after the sweep started" in err[0], err
    copy.write_text(written)
    assert cli.main(["resume", str(experiment)]) == 0


def test_resume_with_only_a_larger_time_budget_runs_the_remaining_trials(
    ray_cluster: None, write_sweep: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A budget-ended sweep given only more time (`--time-budget-s`, no `--num-samples`) goes on to
    its `num_samples`: the "searcher finished" Tune saved when the budget ended does not outlive it.

    Deterministic stop point, whatever the machine's speed: one trial runs to its end, then a resume
    asks for 3 trials with a budget of 1 ms, which that trial's sweep time has already spent, so the
    searcher refuses the next trial at once (Tune saves its search generator as finished).
    """
    path, experiment = _one_trial_sweep(write_sweep, "more_time", "tpe")
    assert cli.main(["run", str(path)]) == 0
    (first,) = _rows(experiment)
    assert cli.main(["resume", str(experiment), "--num-samples", "3", "--time-budget-s", "0.001"]) == 0
    out = capsys.readouterr().out
    assert "time budget of 0.001 s spent; the sweep ended there" in out and "1 trial," in out, out
    assert list(_rows(experiment)) == [first]

    # Only a larger time budget: the remaining trials run, numbered on, all in the study.
    assert cli.main(["resume", str(experiment), "--time-budget-s", "3600"]) == 0
    out = capsys.readouterr().out
    assert "3 trials, 0 errored" in out and "spent" not in out and "searcher" not in out, out
    after = _rows(experiment)
    assert sorted(trial_index(t) for t in after) == [0, 1, 2] and after[first] == 1, after
    study = _study(experiment, "more_time")
    assert set(study) == set(after)
    assert all(study[t].state == optuna.trial.TrialState.COMPLETE for t in after)
    stored = load_sweep(experiment / "sweep.yaml").file.search
    assert stored.num_samples == 3 and stored.time_budget_s == 3600
