"""Honest test scores: the winners only, from their best checkpoints, beside two baselines.

The winners were chosen on validation scores before anything here runs; this module reads the test
split and nothing it computes flows back into the choice. Every score comes from `seqsweep.metrics`,
the functions the trials used for their validation scores, so the two mean the same thing.

Baselines, on exactly the same test windows:
- majority: per target and horizon step, the most frequent class among the train split's labels;
- persistence: the last observed one-step move m of the target repeats, so the move h steps ahead is
  h·m, classified with the train-fitted label thresholds of step h (flat when m is not observed).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqsweep import metrics
from seqsweep.constants import CLASS_NAMES, MASK_VALUE, N_CLASSES
from seqsweep.data.bundle import DatasetBundle
from seqsweep.errors import ConfigError
from seqsweep.results.experiment import Experiment, TrialSummary

logger = logging.getLogger(__name__)

TEST_SPLIT = "test"
FLAT = 1
TEST_NOTE = (
    "The test split is never used to choose: winners, their best epochs and every threshold come from the "
    "train and validation splits. Test scores are computed afterwards, for the winners only."
)
BASELINE_DESCRIPTIONS = {
    "majority": "the train split's most frequent class, per target and horizon step",
    "persistence": (
        "the last observed one-step move m repeats: the move h steps ahead is h·m, classified with the "
        "train-fitted thresholds of step h (flat when m is unobserved)"
    ),
}
WINDOW_CHUNK = 2048
"""Test windows gathered per forward pass: bounds the (B, L, F) copy on large test splits."""


@dataclass(frozen=True)
class ScoreSet:
    """Scores of one predictor (a winner or a baseline) on the test windows."""

    name: str
    kind: str
    """`winner` or `baseline`."""
    description: str
    scores: dict[str, float]
    """macro_f1, accuracy, precision_macro, recall_macro over every unmasked (window, step, target)."""
    f1_per_class: list[float]
    by_step: list[dict[str, Any]]
    """One row per (target, horizon step): the same scores and per-class F1."""
    confusion: np.ndarray
    """(3, 3) counts, rows = true class, columns = predicted."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            **self.scores,
            "f1_per_class": dict(zip(CLASS_NAMES, self.f1_per_class, strict=True)),
            "by_step": [
                {**row, "f1_per_class": dict(zip(CLASS_NAMES, row["f1_per_class"], strict=True))}
                for row in self.by_step
            ],
            "confusion": self.confusion.tolist(),
        }


@dataclass(frozen=True)
class TestEvaluation:
    """The winners' and the baselines' test scores on one set of test windows."""

    n_windows: int
    n_positions: int
    """Unmasked (window, step, target) labels scored."""
    target_names: tuple[str, ...]
    horizon: int
    period: tuple[str, str]
    """First and last timestamp a test window ends at (UTC)."""
    dataset_key: str
    winners: tuple[ScoreSet, ...]
    baselines: tuple[ScoreSet, ...]
    note: str = TEST_NOTE

    def winner(self, trial_id: str) -> ScoreSet:
        for score in self.winners:
            if score.name == trial_id:
                return score
        raise KeyError(trial_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": TEST_SPLIT,
            "note": self.note,
            "n_windows": self.n_windows,
            "n_positions": self.n_positions,
            "target_names": list(self.target_names),
            "horizon": self.horizon,
            "period": list(self.period),
            "dataset_key": self.dataset_key,
            "winners": [s.to_dict() for s in self.winners],
            "baselines": [s.to_dict() for s in self.baselines],
        }


def load_dataset(experiment: Experiment, db_url: str | None = None) -> DatasetBundle:
    """The sweep's dataset, read from the build cache on the storage path (a rebuild only if it is gone)."""
    from seqsweep.data import build_dataset
    from seqsweep.tuning.runner import dataset_cache_dir

    if experiment.sweep is None:
        raise ConfigError(f"{experiment.path}: no sweep.yaml, so the dataset to test on is unknown")
    cache = dataset_cache_dir(str(experiment.storage_root))
    return build_dataset(experiment.sweep.file.dataset, db_url=db_url, cache_dir=cache)


def evaluate_winners(
    experiment: Experiment,
    winners: list[TrialSummary],
    bundle: DatasetBundle | None = None,
    *,
    db_url: str | None = None,
    cpus: int | None = None,
) -> TestEvaluation:
    """Score each winner's best checkpoint and both baselines on the test split."""
    bundle = bundle if bundle is not None else load_dataset(experiment, db_url)
    labels = bundle.splits[TEST_SPLIT].labels
    targets = tuple(bundle.target_names)
    scored = []
    for trial in winners:
        probs = winner_probabilities(trial, bundle, cpus=cpus)
        description = f"best epoch {trial.best_epoch} of trial {trial.trial_id} ({trial.family})"
        scored.append(
            score_set(
                trial.trial_id, "winner", description, labels, metrics.predicted_classes(probs), targets
            )
        )
    baselines = (
        score_set("majority", "baseline", BASELINE_DESCRIPTIONS["majority"], labels, majority_predictions(bundle), targets),
        score_set(
            "persistence", "baseline", BASELINE_DESCRIPTIONS["persistence"], labels, persistence_predictions(bundle), targets
        ),
    )  # fmt: skip
    return TestEvaluation(
        n_windows=len(bundle.splits[TEST_SPLIT]),
        n_positions=int((labels != MASK_VALUE).sum()),
        target_names=targets,
        horizon=bundle.spec.horizon,
        period=_period(bundle),
        dataset_key=bundle.cache_key,
        winners=tuple(scored),
        baselines=baselines,
    )


def winner_probabilities(
    trial: TrialSummary, bundle: DatasetBundle, *, cpus: int | None = None
) -> np.ndarray:
    """(n, H, T, 3) class probabilities of the trial's best checkpoint on the test windows."""
    from seqsweep.trainables import DeviceSettings, load_checkpoint

    if trial.checkpoint is None:
        raise ConfigError(
            f"trial {trial.trial_id}: the checkpoint of its best epoch ({trial.best_epoch}) was not kept; "
            f"raise checkpoints.keep in the sweep file"
        )
    model = load_checkpoint(Path(trial.checkpoint), DeviceSettings(cpus=cpus or os.cpu_count() or 1))
    return predict_split(model, bundle, TEST_SPLIT)


def predict_split(model: Any, bundle: DatasetBundle, split: str) -> np.ndarray:
    """`model.predict_proba` over every window of `split`, gathered in chunks."""
    n = len(bundle.splits[split])
    parts = [
        model.predict_proba(bundle.windows(split, slice(s, s + WINDOW_CHUNK)))
        for s in range(0, n, WINDOW_CHUNK)
    ]
    shape = (0, bundle.spec.horizon, len(bundle.target_names), N_CLASSES)
    return np.concatenate(parts, axis=0) if parts else np.empty(shape, dtype=np.float32)


def score_set(
    name: str,
    kind: str,
    description: str,
    labels: np.ndarray,
    predictions: np.ndarray,
    targets: tuple[str, ...],
) -> ScoreSet:
    return ScoreSet(
        name=name,
        kind=kind,
        description=description,
        scores=metrics.scores(labels, predictions),
        f1_per_class=metrics.per_class_f1(labels, predictions),
        by_step=metrics.scores_by_step(labels, predictions, targets),
        confusion=metrics.confusion(labels, predictions),
    )


def majority_predictions(bundle: DatasetBundle) -> np.ndarray:
    """(n_test, H, T) int8: the train split's most frequent class per step and target (ties: lower id)."""
    train = bundle.splits["train"].labels  # (n, H, T)
    counts = np.stack([(train == c).sum(axis=0) for c in range(N_CLASSES)], axis=-1)  # (H, T, 3)
    majority = counts.argmax(axis=-1).astype(np.int8)  # (H, T)
    n = len(bundle.splits[TEST_SPLIT])
    return np.broadcast_to(majority, (n, *majority.shape)).copy()


def persistence_predictions(bundle: DatasetBundle) -> np.ndarray:
    """(n_test, H, T) int8: the class of h·m, m the last observed one-step move of each target."""
    from seqsweep.data.windows import label_moves

    prep = bundle.preprocessing
    columns = [prep.raw_columns.index(t) for t in bundle.target_names]
    ends = bundle.splits[TEST_SPLIT].ends.astype(np.int64)
    previous = np.maximum(ends - 1, 0)
    last = bundle.features[ends][:, columns]  # (n, T), scaled like the labelled moves
    before = bundle.features[previous][:, columns]
    same_symbol = (ends > 0) & (bundle.row_symbol[previous] == bundle.row_symbol[ends])
    observed = (last != MASK_VALUE) & (before != MASK_VALUE) & same_symbol[:, None]  # (n, T)
    step = np.where(observed, last.astype(np.float64) - before, 0.0)
    steps_ahead = np.arange(1, bundle.spec.horizon + 1, dtype=np.float64)
    moves = (steps_ahead[None, :, None] * step[:, None, :]).astype(np.float32)  # (n, H, T)
    predictions = label_moves(moves, prep.thresholds)
    predictions[np.broadcast_to(~observed[:, None, :], predictions.shape)] = FLAT
    return predictions


def _period(bundle: DatasetBundle) -> tuple[str, str]:
    ends = bundle.splits[TEST_SPLIT].ends
    if not len(ends):
        return ("", "")
    times = bundle.row_time[ends]
    return (str(pd.Timestamp(int(times.min()))), str(pd.Timestamp(int(times.max()))))
