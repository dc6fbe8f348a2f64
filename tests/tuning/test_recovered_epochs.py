"""A resume gives the Optuna study the epochs it recovered from checkpoints alone.

A driver killed after a trial wrote an epoch's checkpoint, but before Tune sent that epoch's result on,
left the study without the epoch; the resume adds the epoch's row to the trial's history and the
trial goes on after it, so the study's intermediate values (TPE's history, importances) lacked a step
the leaderboard shows.
"""

from __future__ import annotations

from pathlib import Path

import optuna

from seqsweep.tuning.experiment_state import ResumedTrial
from seqsweep.tuning.searchers import RAY_TRIAL_ID_ATTR, record_recovered_epochs


def _resumed(trial_id: str, scores: dict[int, float]) -> ResumedTrial:
    rows = tuple({"training_iteration": step, "val_macro_f1": value} for step, value in scores.items())
    return ResumedTrial(
        trial_id=trial_id, resumes_after=max(scores), registered=(), rows_dropped=0, rows=rows
    )


def test_a_recovered_epoch_reaches_a_running_trial_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="s", storage=url, direction="maximize")
    running = study.ask()
    running.set_user_attr(RAY_TRIAL_ID_ATTR, "t_00000")
    running.report(0.30, 2)  # epoch 2 was reported; epoch 1 only checkpointed before the kill
    done = study.ask()
    done.set_user_attr(RAY_TRIAL_ID_ATTR, "t_00001")
    done.report(0.20, 1)
    study.tell(done, 0.20)

    resumed = [_resumed("t_00000", {1: 0.25, 2: 0.30}), _resumed("t_00001", {1: 0.20, 2: 0.22})]
    assert record_recovered_epochs(url, "s", resumed, "val_macro_f1") == 1
    trials = {
        t.user_attrs[RAY_TRIAL_ID_ATTR]: t for t in optuna.load_study(study_name="s", storage=url).trials
    }
    assert trials["t_00000"].intermediate_values == {1: 0.25, 2: 0.30}
    assert trials["t_00001"].intermediate_values == {1: 0.20}  # finished: left as it was
    assert record_recovered_epochs(url, "s", resumed, "val_macro_f1") == 0  # nothing twice
    assert record_recovered_epochs(url, "no_such_study", resumed, "val_macro_f1") == 0
