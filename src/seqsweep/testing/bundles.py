"""A synthetic `DatasetBundle` with an easy, learnable pattern, built straight from NumPy.

Tests of a model family (this package's contract, or a user's own) need a dataset that neither reads
a database nor runs the pipeline, and whose pattern a small network learns in a few epochs.
"""

from __future__ import annotations

import numpy as np

from seqsweep.constants import MASK_VALUE
from seqsweep.data.bundle import DatasetBundle, Preprocessing, SplitWindows
from seqsweep.data.spec import DatasetSpec

FLAT_BAND = 0.43
"""|N(0, 1)| <= 0.43 holds a third of the mass: three balanced classes."""
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
    """A bundle whose moves for target t (every horizon step) are feature t of the window's last step.

    So the class is a fixed function of the last input (easy to learn), about `label_mask_rate` of
    the labels are masked, and about `input_mask_rate` of the input rows are missing (all features
    MASK_VALUE). One symbol (`SYNUSDT`), hourly rows, split 70 / 15 / 15 with a lookback's gap.
    """
    rng = np.random.default_rng(seed)
    clean = rng.normal(size=(n_rows, n_features)).astype(np.float32)  # (N, F)
    missing_row = rng.random(n_rows) < input_mask_rate
    features = clean.copy()
    features[missing_row] = MASK_VALUE

    ends = np.arange(lookback - 1 + horizon, n_rows, dtype=np.int32)
    source_rows = np.repeat(ends[:, None], horizon, axis=1)  # (n, H): every step follows the last input
    moves = clean[source_rows][:, :, :n_targets].astype(np.float32)  # (n, H, T)
    labels = np.where(moves < -FLAT_BAND, 0, np.where(moves > FLAT_BAND, 2, 1)).astype(np.int8)
    masked = (rng.random(labels.shape) < label_mask_rate) | missing_row[source_rows][:, :, None]
    labels[masked] = int(MASK_VALUE)
    moves[masked] = MASK_VALUE

    cut_valid, cut_test = int(0.7 * n_rows), int(0.85 * n_rows)
    parts = {
        "train": ends < cut_valid,
        "valid": (ends >= cut_valid + lookback) & (ends < cut_test),
        "test": ends >= cut_test + lookback,
    }
    splits = {
        name: SplitWindows(ends=ends[keep], labels=labels[keep], moves=moves[keep])
        for name, keep in parts.items()
    }
    names = tuple(f"f{i}" for i in range(n_features))
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
        scale_mean={"SYNUSDT": np.zeros(n_features)},
        scale_std={"SYNUSDT": np.ones(n_features)},
        embeddings={"SYNUSDT": np.zeros(PCA_COMPONENTS)},
        pca_mean=np.zeros(embedding_dim),
        pca_components=np.zeros((PCA_COMPONENTS, embedding_dim)),
        thresholds=np.tile(np.array([-FLAT_BAND, FLAT_BAND], np.float32), (horizon, n_targets, 1)),
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


def hand_masked_cross_entropy(labels: np.ndarray, probs: np.ndarray) -> float:
    """Mean -log p(true class) over unmasked positions, in NumPy: what every family's loss must equal.

    `labels` (B, H, T) int with MASK_VALUE where masked; `probs` (B, H, T, 3).
    """
    valid = labels != MASK_VALUE
    index = np.where(valid, labels, 0).astype(np.int64)[..., None]  # (B, H, T, 1)
    picked = np.take_along_axis(probs, index, axis=-1)[..., 0]
    return float(-np.log(picked[valid]).mean())
