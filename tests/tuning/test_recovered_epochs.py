"""A resume gives the Optuna study the epochs it recovered from checkpoints alone.

A driver killed after a trial wrote an epoch's checkpoint, but before Tune sent that epoch's result on,
left the study without the epoch; the resume adds the epoch's row to the trial's history and the
trial goes on after it, so the study's intermediate values (TPE's history, importances) lacked a step
the leaderboard shows.
"""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from seqsweep.tuning.experiment_state import ResumedTrial
from seqsweep.tuning.searchers import record_recovered_epochs
from seqsweep.tuning.study_owner import RAY_TRIAL_ID_ATTR


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


def test_tunes_metric_summary_is_replayed_from_the_reconciled_rows() -> None:
    """After a SIGKILL and a resume that recovered epochs 1-3 from checkpoints, Tune's `metric_analysis`
    held only the epochs it saw after the resume: `ExperimentAnalysis.get_best_trial(scope="all")` and
    `ResultGrid.get_best_result` named another winner than `seqsweep results`."""
    import json

    from ray.tune.trainable.metadata import _TrainingRunMetadata

    from seqsweep.tuning.experiment_state import replay_metric_analysis

    metadata = {
        "_n_steps": [5, 10],
        "metric_analysis": {"val_macro_f1": {"max": 0.26, "min": 0.26, "avg": 0.26, "last": 0.26}},
        "metric_n_steps": {},
    }
    scores = [0.20, 0.28, 0.25]
    rows = [
        {"training_iteration": i, "val_macro_f1": v, "config": {"cell_size": 8}, "trial_id": "t"}
        for i, v in enumerate(scores, start=1)
    ]
    replay_metric_analysis(metadata, rows)
    restored = _TrainingRunMetadata.from_json_state(json.dumps(metadata))  # as Tune reads the state file
    summary = restored.metric_analysis["val_macro_f1"]
    assert summary["max"] == 0.28 and summary["min"] == 0.20 and summary["last"] == 0.25
    assert summary["avg"] == pytest.approx(sum(scores) / 3)
    restored.update_metric("val_macro_f1", 0.31, step=4)  # Tune goes on from it after the resume
    assert restored.metric_analysis["val_macro_f1"]["max"] == 0.31
    assert restored.metric_analysis["val_macro_f1"]["last-5-avg"] == pytest.approx((sum(scores) + 0.31) / 4)
