"""A synthetic `DatasetBundle` with an easy, learnable pattern, built straight from NumPy.

Tests of a model family (this package's contract, or a user's own) need a dataset that neither reads
a database nor runs the pipeline, and whose pattern a small network learns in a few epochs.
"""

from __future__ import annotations

import numpy as np

from seqsweep.constants import MASK_VALUE
from seqsweep.data.bundle import DatasetBundle, Preprocessing, SplitWindows
from seqsweep.data.spec import DatasetSpec
from seqsweep.data.targets import TargetLevels, WindowTargets

FLAT_BAND = 0.43
"""|N(0, 1)| <= 0.43 holds a third of the mass: three balanced classes of `make_bundle`'s moves."""
EMBEDDING_DIM = 384
"""Width of the symbol embeddings the real build uses (all-MiniLM-L6-v2); only the PCA shapes use it."""
HOUR_NS = 3_600_000_000_000
PCA_COMPONENTS = 1


def make_bundle(
    n_rows: int = 1200,
    lookback: int = 6,
    horizon: int = 2,
    n_targets: int = 2,
    n_features: int = 3,
    label_mask_rate: float = 0.1,
    input_mask_rate: float = 0.02,
    seed: int = 0,
    embedding_dim: int = EMBEDDING_DIM,
) -> DatasetBundle:
    """A bundle whose targets are features 0 … T − 1, with real future moves the last input announces.

    Each target's level is N(0, 1/2) noise, so a move level[e + h] − level[e] is N(0, 1) and ±`FLAT_BAND`
    makes three balanced classes. The next T · H columns are leads: at row i, level[i + h] − level[i] of
    target t (0 where it is unknown), so each class is a fixed function of one input
    of the window's last step (easy to learn); any further columns up to `n_features` are N(0, 1) noise
    (the bundle has max(n_features, T · (H + 1)) features). About `input_mask_rate` of the rows are missing
    (all features MASK_VALUE), and single target values are missing so that about `label_mask_rate` of
    the moves are masked (a move needs both of its levels). Labels and moves are derived from the levels
    like a built dataset's. One symbol (`SYNUSDT`), hourly rows, split 70 / 15 / 15 with a lookback's gap.
    """
    rng = np.random.default_rng(seed)
    width = max(n_features, n_targets * (horizon + 1))
    features = rng.normal(size=(n_rows, width)).astype(np.float32)  # (N, F)
    features[:, :n_targets] *= np.float32(np.sqrt(0.5))
    # a move is masked when either level is: P(level missing) = 1 − sqrt(1 − label_mask_rate)
    level_missing = 1.0 - np.sqrt(1.0 - label_mask_rate)
    value_missing = max(0.0, (level_missing - input_mask_rate) / (1.0 - input_mask_rate))
    features[rng.random(n_rows) < input_mask_rate] = MASK_VALUE
    targets = features[:, :n_targets]
    targets[rng.random(targets.shape) < value_missing] = MASK_VALUE
    features[:, n_targets : n_targets * (horizon + 1)] = _leads(
        targets, horizon
    )  # a missing row stays masked

    levels = np.where(targets == MASK_VALUE, np.nan, targets.astype(np.float64))  # (N, T)
    thresholds = np.tile(np.array([-FLAT_BAND, FLAT_BAND], np.float32), (horizon, n_targets, 1))
    derive = WindowTargets(
        levels=TargetLevels.encode(levels, features, range(n_targets)), horizon=horizon, thresholds=thresholds
    )
    ends = np.arange(lookback - 1, n_rows - horizon, dtype=np.int32)
    ends = ends[(derive.moves(ends) != MASK_VALUE).any(axis=(1, 2))]  # as a build: no all-masked window

    cut_valid, cut_test = int(0.7 * n_rows), int(0.85 * n_rows)
    last = ends + horizon  # each window's last labelled row
    parts = {
        "train": last < cut_valid,
        "valid": (ends >= cut_valid + lookback) & (last < cut_test),
        "test": ends >= cut_test + lookback,
    }
    splits = {name: SplitWindows(ends=ends[keep], targets=derive) for name, keep in parts.items()}
    names = tuple(f"f{i}" for i in range(width))
    spec = DatasetSpec(
        join="prices",
        symbols=("SYNUSDT",),
        targets=names[:n_targets],
        lookback=lookback,
        horizon=horizon,
        frequency=None,
        pca_components=PCA_COMPONENTS,
    )
    preprocessing = Preprocessing(
        feature_names=names,
        raw_columns=names,
        scale_mean={"SYNUSDT": np.zeros(width)},
        scale_std={"SYNUSDT": np.ones(width)},
        embeddings={"SYNUSDT": np.zeros(PCA_COMPONENTS)},
        pca_mean=np.zeros(embedding_dim),
        pca_components=np.zeros((PCA_COMPONENTS, embedding_dim)),
        thresholds=thresholds,
        extra={"step_ns": HOUR_NS},
    )
    return DatasetBundle(
        spec=spec,
        features=features,
        row_symbol=np.zeros(n_rows, np.int16),
        row_time=np.arange(n_rows, dtype=np.int64) * HOUR_NS,
        symbols=("SYNUSDT",),
        target_names=names[:n_targets],
        splits=splits,
        preprocessing=preprocessing,
        cache_key="synthetic",
        boundaries=(cut_valid * HOUR_NS, cut_test * HOUR_NS),
    )


def _leads(targets: np.ndarray, horizon: int) -> np.ndarray:
    """(N, T · H) float32: column t · H + h − 1 holds level[i + h] − level[i] of target t; MASK_VALUE on a
    missing row, 0 where only the later level is missing (that move is masked: no outlier input for it)."""
    n_rows, n_targets = targets.shape
    levels = np.where(targets == MASK_VALUE, np.nan, targets.astype(np.float64))
    padded = np.concatenate([levels, np.full((horizon, n_targets), np.nan)])
    leads = np.stack([padded[h : h + n_rows] - levels for h in range(1, horizon + 1)], axis=2)  # (N, T, H)
    leads = np.where(np.isnan(leads), 0.0, leads)
    leads[np.isnan(levels).all(axis=1)] = MASK_VALUE
    return leads.astype(np.float32).reshape(n_rows, -1)


def hand_masked_cross_entropy(labels: np.ndarray, probs: np.ndarray) -> float:
    """Mean -log p(true class) over unmasked positions, in NumPy: what every family's loss must equal.

    `labels` (B, H, T) int with MASK_VALUE where masked; `probs` (B, H, T, 3).
    """
    valid = labels != MASK_VALUE
    index = np.where(valid, labels, 0).astype(np.int64)[..., None]  # (B, H, T, 1)
    picked = np.take_along_axis(probs, index, axis=-1)[..., 0]
    return float(-np.log(picked[valid]).mean())
