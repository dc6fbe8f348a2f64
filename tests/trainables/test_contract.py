"""The trainable contract, run against every family (built-in and user) through the shared loop.

One module-scoped run per family (5 epochs on an easy generated pattern) feeds most checks, so each
network is trained once; the reload, resume and determinism checks start from its checkpoints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from trainables_helpers import FAMILIES, TINY_CONFIGS, make_bundle

from seqsweep.baselines import persistence_predictions
from seqsweep.constants import (
    EARLY_STOPPED,
    EPOCH,
    FINAL_EPOCH,
    REPORTED_METRICS,
    TRAIN_LOSS,
    VAL_LOSS,
    VAL_MACRO_F1,
    VAL_MSE,
    VAL_SKILL,
)
from seqsweep.data.bundle import DatasetBundle
from seqsweep.metrics import scores, validation_report
from seqsweep.trainables import (
    DeviceSettings,
    InMemoryReporter,
    TrialSettings,
    load_checkpoint,
    read_state,
    train,
)

EPOCHS = 5
BATCH = 16
SEED = 7
TRIAL = "contract"


@dataclass
class Run:
    family: str
    config: dict[str, Any]
    bundle: DatasetBundle
    reporter: InMemoryReporter

    @property
    def reports(self) -> list[dict[str, Any]]:
        return self.reporter.reports

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(len(self.bundle.splits["train"]) / BATCH)


@pytest.fixture(scope="module")
def learn_bundle() -> DatasetBundle:
    return make_bundle(n_rows=3000)


@pytest.fixture(scope="module", params=FAMILIES)
def run(
    request: pytest.FixtureRequest, learn_bundle: DatasetBundle, tmp_path_factory: pytest.TempPathFactory
) -> Run:
    family = request.param
    config = {**TINY_CONFIGS[family], "epochs": EPOCHS, "batch_size": BATCH}
    reporter = InMemoryReporter(trial_id=TRIAL, root=tmp_path_factory.mktemp("run"))
    train(config, learn_bundle, TrialSettings(model=family, seed=SEED), reporter, DeviceSettings())
    return Run(family, config, learn_bundle, reporter)


def rerun(run: Run, root: Path, restore_from: Path | None = None, **overrides: Any) -> InMemoryReporter:
    reporter = InMemoryReporter(trial_id=TRIAL, root=root, restore_from=restore_from)
    config = {**run.config, **overrides}
    train(config, run.bundle, TrialSettings(model=run.family, seed=SEED), reporter, DeviceSettings())
    return reporter


def test_every_epoch_reports_the_contract(run: Run) -> None:
    assert [r[EPOCH] for r in run.reports] == list(range(1, EPOCHS + 1))
    for report in run.reports:
        assert set(REPORTED_METRICS) | {EPOCH, FINAL_EPOCH, EARLY_STOPPED} <= set(report)
        assert VAL_MSE not in report  # classification objective
        for key in (TRAIN_LOSS, VAL_LOSS):
            assert math.isfinite(report[key]) and report[key] >= 0
        for key in set(REPORTED_METRICS) - {TRAIN_LOSS, VAL_LOSS, VAL_SKILL}:
            assert 0.0 <= report[key] <= 1.0
        assert -1.0 <= report[VAL_SKILL] <= 1.0
        assert report[EARLY_STOPPED] is False
    assert [r[FINAL_EPOCH] for r in run.reports] == [False] * (EPOCHS - 1) + [True]


def test_val_skill_is_the_score_over_persistence_on_the_same_windows(run: Run) -> None:
    valid = run.bundle.splits["valid"]
    persistence = scores(valid.labels, persistence_predictions(run.bundle, "valid"))["macro_f1"]
    for report in run.reports:
        assert report[VAL_SKILL] == pytest.approx(report[VAL_MACRO_F1] - persistence, abs=1e-12)


def test_checkpoints_hold_model_and_loop_state(run: Run) -> None:
    assert len(run.reporter.checkpoints) == EPOCHS
    state = read_state(run.reporter.checkpoints[1])
    assert state.epoch == 2
    assert state.metrics[VAL_MACRO_F1] == run.reports[1][VAL_MACRO_F1]
    assert state.best_val_loss == min(r[VAL_LOSS] for r in run.reports[:2])


def test_learns_an_easy_pattern_within_a_few_epochs(run: Run) -> None:
    scores = [r[VAL_MACRO_F1] for r in run.reports]
    assert max(scores) > 0.45, f"val_macro_f1 per epoch: {scores} (chance is 1/3)"
    assert scores[-1] > scores[0]


def test_checkpoint_reloads_with_identical_predictions(run: Run) -> None:
    checkpoint = run.reporter.checkpoints[1]
    model = load_checkpoint(checkpoint)
    evaluation = model.evaluate(run.bundle.batches("valid", BATCH))
    valid = run.bundle.splits["valid"]
    assert evaluation.loss == pytest.approx(run.reports[1][VAL_LOSS], rel=1e-5)
    for key, value in validation_report(valid.labels, evaluation.probs).items():
        assert value == pytest.approx(run.reports[1][key], abs=1e-12), key

    x = run.bundle.windows("valid", slice(0, 40))
    again = load_checkpoint(checkpoint).predict_proba(x)
    probs = model.predict_proba(x)
    np.testing.assert_array_equal(probs, again)
    assert probs.shape == (40, run.bundle.shape.horizon, run.bundle.shape.n_targets, 3)
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-5)  # softmax over the class axis only


def test_resume_continues_at_the_next_epoch_with_optimizer_state(run: Run, tmp_path: Path) -> None:
    checkpoint = run.reporter.checkpoints[1]
    assert load_checkpoint(checkpoint).optimizer_steps == 2 * run.batches_per_epoch  # type: ignore[attr-defined]

    resumed = rerun(run, tmp_path, restore_from=checkpoint, epochs=3)
    assert [r[EPOCH] for r in resumed.reports] == [3]
    assert resumed.reports[0][FINAL_EPOCH] is True
    after = load_checkpoint(resumed.checkpoints[0])
    assert after.optimizer_steps == 3 * run.batches_per_epoch  # type: ignore[attr-defined]
    if after.framework == "torch":  # type: ignore[attr-defined]
        # same shuffle, same dropout draws (reseeded per epoch), restored optimizer: the resumed epoch 3
        # is the uninterrupted one. (Keras dropout generators restart after a reload, so only close there.)
        assert resumed.reports[0][TRAIN_LOSS] == pytest.approx(run.reports[2][TRAIN_LOSS], rel=1e-5)


def test_same_config_and_seed_give_the_same_scores(run: Run, tmp_path: Path) -> None:
    again = rerun(run, tmp_path, epochs=1)
    assert again.reports[0][VAL_MACRO_F1] == run.reports[0][VAL_MACRO_F1]
    assert again.reports[0][TRAIN_LOSS] == run.reports[0][TRAIN_LOSS]
