"""`seqsweep export --refit` on a real tiny sweep (torch `gru`, 2 trials × 2 epochs, sample database):
the refit trains on the train and valid windows for the winner's best epoch count with the trial's seed,
is scored on test beside the best checkpoint and the baselines, and is what the bundle predicts with;
training functions and walk-forward experiments are refused with one line, before anything trains."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from results_helpers import GRU_PARAMS, tiny_sweep

import seqsweep.results.export
import seqsweep.trainables.loop
from seqsweep import cli, metrics
from seqsweep.data.bundle import DatasetBundle
from seqsweep.layout import SWEEP_COPY
from seqsweep.results.evaluate import load_dataset
from seqsweep.results.experiment import read_experiment, read_sweep_copy
from seqsweep.results.model_bundle import load_bundle
from seqsweep.search_spaces.sweep import load_sweep
from seqsweep.trainables import load_checkpoint
from seqsweep.trainables.seeding import trial_seed
from seqsweep.tuning import run_sweep

pytestmark = pytest.mark.slow

SWEEP_SEED = 3
"""tiny_sweep's search seed: the refit must use it with the trial id."""


@pytest.fixture(scope="module")
def experiment_dir(ray_cluster: object, sample_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny real gru sweep: 2 trials of 2 epochs."""
    root = tmp_path_factory.mktemp("refit")
    sweep = tiny_sweep("tiny_refit", "gru", GRU_PARAMS, sample_db_url, root / "runs")
    sweep["search"] = {**sweep["search"], "num_samples": 2}
    assert sweep["search"]["seed"] == SWEEP_SEED
    path = root / "tiny_refit.yaml"
    path.write_text(yaml.safe_dump(sweep))
    outcome = run_sweep(load_sweep(path), stream=io.StringIO())
    assert outcome.num_errored == 0, outcome.describe()
    return Path(outcome.experiment_dir)


@pytest.fixture(scope="module")
def dataset(experiment_dir: Path) -> DatasetBundle:
    return load_dataset(read_experiment(experiment_dir))


@pytest.fixture(scope="module")
def refit_export(experiment_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`seqsweep export DIR --out B --refit` once, recording what the shared loop was given."""
    calls: list[dict[str, Any]] = []
    real_train = seqsweep.trainables.loop.train

    def spy(config: Any, bundle: Any, settings: Any, reporter: Any, device: Any, *args: Any) -> None:
        real_train(config, bundle, settings, reporter, device, *args)
        calls.append({"config": dict(config), "bundle": bundle, "settings": settings, "reporter": reporter})

    out_dir = tmp_path_factory.mktemp("refit_bundle") / "bundle"
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(stdout):
        patch.setattr(seqsweep.trainables.loop, "train", spy)
        code = cli.main(["export", str(experiment_dir), "--out", str(out_dir), "--refit"])
    assert code == 0
    return {"dir": out_dir, "calls": calls, "stdout": stdout.getvalue()}


def test_refit_trains_on_train_and_valid_for_the_best_epoch_with_the_trial_seed(
    experiment_dir: Path, dataset: DatasetBundle, refit_export: dict[str, Any]
) -> None:
    winner = read_experiment(experiment_dir).ranked()[0]
    assert winner.best_epoch is not None
    [call] = refit_export["calls"]
    n_train, n_valid = len(dataset.splits["train"]), len(dataset.splits["valid"])
    seen = call["bundle"].splits["train"]
    assert len(seen) == n_train + n_valid
    np.testing.assert_array_equal(
        seen.ends, np.concatenate([dataset.splits["train"].ends, dataset.splits["valid"].ends])
    )
    assert "test" not in call["bundle"].splits
    np.testing.assert_array_equal(call["bundle"].preprocessing.thresholds, dataset.preprocessing.thresholds)
    assert call["config"]["epochs"] == winner.best_epoch
    assert call["config"]["patience"] is None  # gru's own default (5) would judge the windows it trains on
    assert call["settings"].seed == SWEEP_SEED and call["reporter"].trial_id == winner.trial_id
    assert len(call["reporter"].reports) == winner.best_epoch  # every epoch, no plateau stop
    manifest = json.loads((refit_export["dir"] / "bundle.json").read_text())
    assert manifest["exported_model"] == "refit"
    refit = manifest["refit"]
    assert refit["epochs"] == winner.best_epoch and refit["trained_on"] == "train + valid"
    assert refit["n_train_windows"] == n_train + n_valid
    assert (refit["n_train_split_windows"], refit["n_valid_split_windows"]) == (n_train, n_valid)
    assert refit["seed"] == trial_seed(SWEEP_SEED, winner.trial_id)
    epochs = f"{winner.best_epoch} epoch{'s' if winner.best_epoch != 1 else ''}"
    assert f"refit on train + validation ({n_train + n_valid} windows) for {epochs}" in refit_export["stdout"]
    assert not list(refit_export["dir"].parent.glob(".bundle.*")), "a temporary folder was left behind"


def test_refit_bundle_predicts_and_is_scored_beside_the_checkpoint(
    experiment_dir: Path, dataset: DatasetBundle, refit_export: dict[str, Any]
) -> None:
    winner = read_experiment(experiment_dir).ranked()[0]
    windows = dataset.windows("test")
    labels = dataset.splits["test"].labels
    refit_probs = load_bundle(refit_export["dir"]).predict_proba(windows)
    checkpoint_probs = load_checkpoint(str(winner.checkpoint)).predict_proba(windows)
    assert refit_probs.shape == checkpoint_probs.shape == (len(windows), 2, 2, 3)
    np.testing.assert_allclose(refit_probs.sum(axis=-1), 1.0, atol=1e-5)
    assert not np.allclose(refit_probs, checkpoint_probs), "the bundle holds the checkpoint, not the refit"

    test = json.loads((refit_export["dir"] / "metrics.json").read_text())["test"]
    refit_f1 = metrics.scores(labels, metrics.predicted_classes(refit_probs))["macro_f1"]
    checkpoint_f1 = metrics.scores(labels, metrics.predicted_classes(checkpoint_probs))["macro_f1"]
    assert test["model"]["name"] == f"{winner.trial_id}-refit"
    assert test["model"]["macro_f1"] == pytest.approx(refit_f1, abs=1e-9)
    assert test["checkpoint_model"]["name"] == winner.trial_id
    assert test["checkpoint_model"]["macro_f1"] == pytest.approx(checkpoint_f1, abs=1e-9)
    assert [b["name"] for b in test["baselines"]] == ["majority", "persistence"]
    for model in (test["model"], test["checkpoint_model"]):
        assert set(model["vs_baselines"]) == {"majority", "persistence", "chance"}
        assert model["verdict"].startswith(  # a test split under MIN_BLOCKS blocks cannot tell
            (
                "beats persistence on test",
                "does not beat persistence on test",
                "is not shown to beat persistence",
            )
        )
        assert len(model["by_step"]) == 2 * 2  # per-cell macro-F1
    assert test["verdict"] == test["model"]["verdict"]

    card = (refit_export["dir"] / "README.md").read_text()
    epochs = f"{winner.best_epoch} epoch{'s' if winner.best_epoch != 1 else ''}"
    assert (
        f"refit on train + validation for {epochs}; its test macro-F1 (per cell) {refit_f1:.4f} vs the best "
        f"checkpoint's {checkpoint_f1:.4f}" in card
    )
    assert "train split's" in card  # the thresholds and scalers stay the train-fitted ones
    assert f"| {winner.trial_id}-refit (refit) |" in card
    assert f"| {winner.trial_id} (best checkpoint, not exported) |" in card


def _refused(
    experiment_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], **sweep_changes: Any
) -> str:
    """Run `export --refit` on the experiment with its sweep file changed; return the error line."""
    experiment = read_experiment(experiment_dir)
    raw = yaml.safe_load((experiment_dir / SWEEP_COPY).read_text())
    raw.update(sweep_changes)
    changed = tmp_path / "sweep.yaml"
    changed.write_text(yaml.safe_dump(raw))
    altered = dataclasses.replace(experiment, sweep=read_sweep_copy(changed))

    def no_dataset(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the dataset was read before the refusal")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(seqsweep.results.export, "read_experiment", lambda _: altered)
        patch.setattr(seqsweep.results.export, "load_dataset", no_dataset)
        code = cli.main(["export", str(experiment_dir), "--out", str(tmp_path / "b"), "--refit"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and not (tmp_path / "b").exists()
    return err


def test_refit_is_refused_for_a_training_function(
    experiment_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _refused(
        experiment_dir, tmp_path, capsys, model="", trainable="seqsweep.examples.sklearn_gbm:train"
    )
    assert "--refit" in err and "training function" in err and "no model family to rebuild" in err


def test_refit_is_refused_for_walk_forward_folds(
    experiment_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = yaml.safe_load((experiment_dir / SWEEP_COPY).read_text())
    dataset = raw["dataset"]
    dataset["split"] = {**(dataset.get("split") or {}), "folds": 3}
    err = _refused(experiment_dir, tmp_path, capsys, dataset=dataset)
    assert "--refit" in err and "walk-forward" in err and "3 folds" in err and "last fold's model" in err
