"""A walk-forward trial in the shared loop (no Ray): k models in lockstep, mean metrics, k-model checkpoints.

The dataset is a real 3-fold build of the generated sample database (2 symbols × 400 h, in this
process); the torch GRU is the fast family whose resume is exact, the Keras LSTM checks its layout.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from seqsweep.baselines import persistence_predictions
from seqsweep.constants import (
    EPOCH,
    FINAL_EPOCH,
    REPORTED_METRICS,
    VAL_LOSS,
    VAL_MACRO_F1,
    VAL_MACRO_F1_FOLD_STD,
    VAL_SKILL,
)
from seqsweep.data import DatasetBundle
from seqsweep.metrics import scores, validation_report
from seqsweep.trainables import (
    DeviceSettings,
    InMemoryReporter,
    TrialSettings,
    load_checkpoint,
    read_state,
    train,
)
from seqsweep.trainables.checkpoint import checkpoint_folds, fold_model_dir
from seqsweep.tuning.experiment_state import complete_checkpoint

GRU = {"hidden_size": 8, "learning_rate": 0.01, "batch_size": 32}
EPOCHS = 3
SEED = 11


def run(
    bundle: DatasetBundle, root: Path, config: dict[str, Any], restore: Path | None = None, model: str = "gru"
) -> InMemoryReporter:
    reporter = InMemoryReporter(trial_id="folds", root=root, restore_from=restore)
    train(config, bundle, TrialSettings(model=model, seed=SEED), reporter, DeviceSettings())
    return reporter


@pytest.fixture(scope="module")
def uninterrupted(fold_bundle: DatasetBundle, tmp_path_factory: pytest.TempPathFactory) -> InMemoryReporter:
    return run(fold_bundle, tmp_path_factory.mktemp("folds_run"), {**GRU, "epochs": EPOCHS})


def test_each_epoch_reports_the_mean_over_folds_and_their_spread(
    fold_bundle: DatasetBundle, uninterrupted: InMemoryReporter
) -> None:
    reports = uninterrupted.reports
    assert [r[EPOCH] for r in reports] == [1, 2, 3] and reports[-1][FINAL_EPOCH] is True
    for report in reports:
        assert set(REPORTED_METRICS) <= set(report) and report[VAL_MACRO_F1_FOLD_STD] >= 0

    # recompute every fold's scores from the checkpoint's k models on each fold's own windows
    last = uninterrupted.reports[-1]
    checkpoint = uninterrupted.last_checkpoint
    assert checkpoint is not None and checkpoint_folds(checkpoint) == 3
    family = load_checkpoint(checkpoint)
    per_fold = []
    for f in range(3):
        view = fold_bundle.fold(f)
        model = load_checkpoint(fold_model_dir(checkpoint, f, 3))
        evaluation = model.evaluate(view.batches("valid", GRU["batch_size"]))
        valid = view.splits["valid"].labels
        fold_scores = validation_report(valid, evaluation.probs)
        persistence = scores(valid, persistence_predictions(view, "valid"))["macro_f1"]
        per_fold.append(
            {
                VAL_LOSS: evaluation.loss,
                VAL_MACRO_F1: fold_scores[VAL_MACRO_F1],
                VAL_SKILL: fold_scores[VAL_MACRO_F1] - persistence,
            }
        )
        if f == 2:  # the checkpoint's own model (what evaluate/export load) is the last fold's
            expected = model.predict_proba(fold_bundle.windows("test", slice(0, 16)))
            got = family.predict_proba(fold_bundle.windows("test", slice(0, 16)))
            assert np.array_equal(expected, got)
    for key in (VAL_LOSS, VAL_MACRO_F1, VAL_SKILL):
        assert last[key] == pytest.approx(np.mean([m[key] for m in per_fold]), abs=1e-6)
    assert last[VAL_MACRO_F1_FOLD_STD] == pytest.approx(np.std([m[VAL_MACRO_F1] for m in per_fold]), abs=1e-6)


def test_the_checkpoint_holds_every_fold_model_in_a_resumable_layout(uninterrupted: InMemoryReporter) -> None:
    checkpoint = uninterrupted.last_checkpoint
    assert checkpoint is not None
    assert (checkpoint / "fold_0" / "model.pt").is_file() and (checkpoint / "fold_1" / "model.pt").is_file()
    assert not (checkpoint / "fold_2").exists() and (checkpoint / "model.pt").is_file()
    state = read_state(checkpoint)
    assert state.n_folds == 3 and state.epoch == EPOCHS
    assert complete_checkpoint(checkpoint) is not None  # the sweep's resume machinery accepts it


def test_a_resumed_trial_continues_every_fold_exactly(
    fold_bundle: DatasetBundle, uninterrupted: InMemoryReporter, tmp_path: Path
) -> None:
    resumed = run(fold_bundle, tmp_path, {**GRU, "epochs": EPOCHS}, restore=uninterrupted.checkpoints[0])
    assert [r[EPOCH] for r in resumed.reports] == [2, 3]
    for got, expected in zip(resumed.reports, uninterrupted.reports[1:], strict=True):
        assert got == pytest.approx(expected, rel=1e-6)
    # and the resumed fold models are the uninterrupted ones
    for f in range(3):
        a = load_checkpoint(fold_model_dir(resumed.checkpoints[-1], f, 3))
        b = load_checkpoint(fold_model_dir(uninterrupted.checkpoints[-1], f, 3))
        x = fold_bundle.fold(f).windows("valid", slice(0, 16))
        assert np.allclose(a.predict_proba(x), b.predict_proba(x), atol=1e-6)


def test_folds_train_distinct_models(fold_bundle: DatasetBundle, uninterrupted: InMemoryReporter) -> None:
    checkpoint = uninterrupted.last_checkpoint
    assert checkpoint is not None
    x = fold_bundle.windows("test", slice(0, 16))
    predictions = [load_checkpoint(fold_model_dir(checkpoint, f, 3)).predict_proba(x) for f in range(3)]
    assert not np.allclose(predictions[0], predictions[1]) and not np.allclose(predictions[1], predictions[2])


def test_a_checkpoint_of_another_fold_count_is_refused(
    fold_bundle: DatasetBundle, uninterrupted: InMemoryReporter, tmp_path: Path
) -> None:
    from seqsweep.errors import TrialError

    one_fold = dataclasses.replace(fold_bundle, folds=None)  # the last fold alone: the plain split
    with pytest.raises(TrialError, match="holds 3 fold model"):
        run(one_fold, tmp_path, {**GRU, "epochs": EPOCHS}, restore=uninterrupted.checkpoints[0])


def test_keras_folds_save_and_resume(fold_bundle: DatasetBundle, tmp_path: Path) -> None:
    config = {"cell_size": 4, "dropout_rate_1": 0.0, "dropout_rate_2": 0.0, "batch_size": 64, "epochs": 2}
    first = run(fold_bundle, tmp_path / "a", {**config, "epochs": 1}, model="lstm")
    checkpoint = first.last_checkpoint
    assert checkpoint is not None
    assert all((fold_model_dir(checkpoint, f, 3) / "model.keras").is_file() for f in range(3))
    assert VAL_MACRO_F1_FOLD_STD in first.reports[0]
    resumed = run(fold_bundle, tmp_path / "b", config, restore=checkpoint, model="lstm")
    assert [r[EPOCH] for r in resumed.reports] == [2] and resumed.reports[0][FINAL_EPOCH] is True
    assert read_state(resumed.checkpoints[0]).n_folds == 3


def test_one_fold_checkpoints_keep_todays_layout(tmp_path: Path) -> None:
    from trainables_helpers import make_bundle

    reporter = run(make_bundle(n_rows=400), tmp_path, {**GRU, "epochs": 1})
    checkpoint = reporter.last_checkpoint
    assert checkpoint is not None
    assert sorted(p.name for p in checkpoint.iterdir()) == ["model.json", "model.pt", "state.json"]
    assert "n_folds" not in (checkpoint / "state.json").read_text()
    assert VAL_MACRO_F1_FOLD_STD not in reporter.reports[0]
