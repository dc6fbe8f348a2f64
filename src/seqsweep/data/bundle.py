"""The built dataset: one scaled feature matrix plus window indices, shared by every trial.

A window is never materialised in the store. Split `s` holds `ends[i]`, the row of the last observed
step of window `i`; its inputs are `features[ends[i] - L + 1 : ends[i] + 1]`. So the object store holds
about rows × features × 4 bytes, not rows × L × features × 4. Batches are gathered on demand.

`ray.put(bundle)` pickles the arrays out-of-band: `ray.get` in a trial returns read-only views of the
shared-memory object, with no copy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seqsweep.data.spec import DatasetSpec


@dataclass(frozen=True)
class DataShape:
    """What a model builder needs to know about the tensors."""

    lookback: int
    n_features: int
    horizon: int
    n_targets: int


@dataclass(frozen=True)
class SplitWindows:
    """The windows of one split."""

    ends: np.ndarray
    """(n,) int32: row index of each window's last observed step."""
    labels: np.ndarray
    """(n, H, T) int8: class per horizon step and target; MASK_VALUE (-50) where the target is missing."""
    moves: np.ndarray
    """(n, H, T) float32: the scaled move from the last observed value; MASK_VALUE where missing."""

    def __len__(self) -> int:
        return int(self.ends.shape[0])


@dataclass(frozen=True)
class Preprocessing:
    """Everything fitted on the train split, kept so that an exported model can featurise new rows."""

    feature_names: tuple[str, ...]
    raw_columns: tuple[str, ...]
    """Numeric source columns that are scaled (a prefix of `feature_names`)."""
    scale_mean: dict[str, np.ndarray]
    """Per symbol: (len(raw_columns),) train mean."""
    scale_std: dict[str, np.ndarray]
    """Per symbol: (len(raw_columns),) train standard deviation (1.0 where it is 0)."""
    embeddings: dict[str, np.ndarray]
    """Per symbol: its PCA-reduced sentence embedding."""
    pca_mean: np.ndarray
    """(384,) PCA centre, to embed a symbol the build never saw."""
    pca_components: np.ndarray
    """(n_components, 384) PCA axes."""
    thresholds: np.ndarray
    """(H, T, 2) float32: a move < [..., 0] is down, > [..., 1] is up, flat between (bounds included)."""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_arrays(self, symbols: tuple[str, ...]) -> dict[str, np.ndarray]:
        """The fitted arrays, per-symbol ones stacked in `symbols` order (for .npy / .npz files)."""
        return {
            "scale_mean": np.stack([self.scale_mean[s] for s in symbols]),
            "scale_std": np.stack([self.scale_std[s] for s in symbols]),
            "embeddings": np.stack([self.embeddings[s] for s in symbols]),
            "pca_mean": np.asarray(self.pca_mean),
            "pca_components": np.asarray(self.pca_components),
            "thresholds": np.asarray(self.thresholds),
        }

    def to_metadata(self) -> dict[str, Any]:
        """What is not an array, JSON-ready."""
        return {
            "feature_names": list(self.feature_names),
            "raw_columns": list(self.raw_columns),
            "extra": self.extra,
        }

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], symbols: tuple[str, ...] | list[str], metadata: dict[str, Any]
    ) -> Preprocessing:
        """The inverse of `to_arrays` + `to_metadata`."""

        def per_symbol(name: str) -> dict[str, np.ndarray]:
            return dict(zip(symbols, arrays[name], strict=True))

        return cls(
            feature_names=tuple(metadata["feature_names"]),
            raw_columns=tuple(metadata["raw_columns"]),
            scale_mean=per_symbol("scale_mean"),
            scale_std=per_symbol("scale_std"),
            embeddings=per_symbol("embeddings"),
            pca_mean=arrays["pca_mean"],
            pca_components=arrays["pca_components"],
            thresholds=arrays["thresholds"],
            extra=dict(metadata.get("extra", {})),
        )


@dataclass(frozen=True)
class DatasetBundle:
    """Feature matrix + window index + labels + metadata. Build it with `seqsweep.data.build_dataset`."""

    spec: DatasetSpec
    features: np.ndarray
    """(rows, F) float32, scaled; MASK_VALUE where an input is missing. Rows sorted by symbol, then time."""
    row_symbol: np.ndarray
    """(rows,) int16: index into `symbols`."""
    row_time: np.ndarray
    """(rows,) int64: timestamp in nanoseconds since the epoch (UTC)."""
    symbols: tuple[str, ...]
    target_names: tuple[str, ...]
    splits: dict[str, SplitWindows]
    preprocessing: Preprocessing
    cache_key: str
    boundaries: tuple[int, int]
    """Timestamps (ns) where valid and test begin."""

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.preprocessing.feature_names

    @property
    def shape(self) -> DataShape:
        return DataShape(
            lookback=self.spec.lookback,
            n_features=int(self.features.shape[1]),
            horizon=self.spec.horizon,
            n_targets=len(self.target_names),
        )

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays this bundle puts in the object store."""
        total = self.features.nbytes + self.row_symbol.nbytes + self.row_time.nbytes
        for windows in self.splits.values():
            total += windows.ends.nbytes + windows.labels.nbytes + windows.moves.nbytes
        return int(total)

    @property
    def minimal_nbytes(self) -> int:
        """rows × features × 4 bytes plus labels: the budget the store must stay near (goal ≤ 1.2×)."""
        labels = sum(w.labels.nbytes + w.moves.nbytes for w in self.splits.values())
        return int(self.features.shape[0] * self.features.shape[1] * 4 + labels)

    def windows(self, split: str, index: np.ndarray | slice | None = None) -> np.ndarray:
        """Gather (B, L, F) float32 inputs of the chosen windows of `split` (a copy of B·L rows)."""
        ends = self.splits[split].ends
        chosen = ends if index is None else ends[index]
        offsets = np.arange(-self.spec.lookback + 1, 1, dtype=np.int64)
        rows = chosen.astype(np.int64)[:, None] + offsets[None, :]  # (B, L)
        return self.features[rows]  # (B, L, F)

    def batches(
        self,
        split: str,
        batch_size: int,
        rng: np.random.Generator | None = None,
        shard: tuple[int, int] | None = None,
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Yield (x (B,L,F) float32, labels (B,H,T) int8, moves (B,H,T) float32); shuffled when `rng` is given.

        Shuffling reorders whole windows of the train split only; windows never mix splits.
        `shard=(rank, world_size)` keeps every world_size-th window of each batch, starting at `rank`:
        workers that draw the same shuffle then split every batch between them. A last batch with
        fewer windows than workers is skipped, so every worker takes the same number of steps.
        """
        windows = self.splits[split]
        order = np.arange(len(windows)) if rng is None else rng.permutation(len(windows))
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            if shard is not None:
                rank, world_size = shard
                if len(index) < world_size:
                    continue
                index = index[rank::world_size]
            yield self.windows(split, index), windows.labels[index], windows.moves[index]

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description: what `seqsweep data build` prints."""
        from seqsweep.data.summary import summarize

        return summarize(self)
