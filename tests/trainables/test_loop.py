"""The shared loop's own rules: seeds, plateau stop, NaN, config merging (on the fast torch family)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from seqsweep.constants import EARLY_STOPPED, EPOCH, FINAL_EPOCH, VAL_MSE
from seqsweep.data.bundle import DatasetBundle
from seqsweep.errors import ConfigError, TrialError
from seqsweep.trainables import DeviceSettings, InMemoryReporter, TrialSettings, read_state, train
from seqsweep.trainables.checkpoint import LoopState
from seqsweep.trainables.seeding import derive_seed, trial_seed

GRU = {"hidden_size": 8, "batch_size": 64}


def run(
    bundle: DatasetBundle, root: Path, config: dict, restore: Path | None = None, **settings
) -> InMemoryReporter:
    reporter = InMemoryReporter(trial_id="t1", root=root, restore_from=restore)
    train(config, bundle, TrialSettings(model="gru", **settings), reporter, DeviceSettings())
    return reporter


def test_trial_seeds_are_stable_and_distinct() -> None:
    assert trial_seed(0, "abc") == 1_837_182_213  # sha256-based: the same in every process and machine
    assert trial_seed(0, "abc") != trial_seed(0, "abd")
    assert trial_seed(0, "abc") != trial_seed(1, "abc")
    assert 0 <= derive_seed("x", 1) < 2**31


def test_plateau_rule() -> None:
    state = LoopState(trial_seed=0)
    assert not state.update(1.0, patience=2)
    assert not state.update(1.0, patience=2)
    assert state.update(1.1, patience=2)
    assert not LoopState(trial_seed=0).update(5.0, patience=None)


def test_plateau_stops_early_and_says_so(synthetic_bundle: DatasetBundle, tmp_path: Path) -> None:
    # a zero learning rate never lowers the validation loss: epoch 1 sets the best, 2 and 3 do not beat it
    reporter = run(synthetic_bundle, tmp_path, {**GRU, "learning_rate": 0.0, "patience": 2, "epochs": 10})
    assert [r[EPOCH] for r in reporter.reports] == [1, 2, 3]
    assert [r[EARLY_STOPPED] for r in reporter.reports] == [False, False, True]
    assert [r[FINAL_EPOCH] for r in reporter.reports] == [False, False, True]
    assert read_state(reporter.last_checkpoint).early_stopped

    # resuming a trial that already stopped trains nothing more
    again = run(synthetic_bundle, tmp_path, {**GRU, "epochs": 10}, restore=reporter.last_checkpoint)
    assert again.reports == []


def test_nan_loss_fails_the_trial_with_a_clear_message(
    synthetic_bundle: DatasetBundle, tmp_path: Path
) -> None:
    features = synthetic_bundle.features.copy()
    features[:, 0] = np.nan
    broken = replace(synthetic_bundle, features=features)
    with pytest.raises(TrialError, match=r"trial t1, epoch 1: training loss is nan at batch 1"):
        run(broken, tmp_path, {**GRU, "epochs": 2})


def test_fixed_settings_merge_under_the_searched_config(
    synthetic_bundle: DatasetBundle, tmp_path: Path
) -> None:
    reporter = run(
        synthetic_bundle, tmp_path, {"objective": "regression"}, fixed={**GRU, "epochs": 1, "objective": "x"}
    )
    assert VAL_MSE in reporter.reports[0] and reporter.reports[0][VAL_MSE] >= 0
    assert read_state(reporter.last_checkpoint).epoch == 1


def test_a_bad_config_fails_before_training(synthetic_bundle: DatasetBundle, tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"params\.hiden_size: unknown key \(valid keys: .*\) \(family gru\)"
    ):
        run(synthetic_bundle, tmp_path, {"hiden_size": 8})
