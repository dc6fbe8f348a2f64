"""The built dataset: one scaled feature matrix plus window indices, shared by every trial.

A window is never materialised in the store. Split `s` holds `ends[i]`, the row of the last observed
step of window `i`; its inputs are `features[ends[i] - L + 1 : ends[i] + 1]`. Its labels and moves are
derived from the targets' levels at rows ends[i] … ends[i] + H and the train thresholds
(`seqsweep.data.targets`), per batch in `batches`, so the object store holds about rows × features × 4
bytes, not rows × L × features × 4, nor (n, H, T) labels and moves per split. Batches are gathered on
demand.

`ray.put(bundle)` pickles the arrays out-of-band: `ray.get` in a trial returns read-only views of the
shared-memory object, with no copy (the small row and window index is decoded from runs per process).

With walk-forward folds (`dataset.split.folds: k > 1`) the feature matrix is still stored once, scaled
with the last fold's statistics (the plain split's); `FoldData` adds, per earlier fold, an affine map of
the raw columns, its label thresholds and which train windows it uses. `bundle.fold(f)` is a light view
(the same arrays, nothing copied into the store) whose batches carry fold f's scaling and labels.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from seqsweep.data.compact import decode_runs, encode_runs, encoded_nbytes
from seqsweep.data.spec import DatasetSpec

if TYPE_CHECKING:
    from seqsweep.data.targets import WindowTargets


@dataclass(frozen=True)
class DataShape:
    """What a model builder needs to know about the tensors."""

    lookback: int
    n_features: int
    horizon: int
    n_targets: int


class SplitWindows:
    """The windows of one split: each one's last observed row, and its labels and moves.

    Built from a dataset, only `ends` is stored; `labels` and `moves` are derived from the targets' levels
    (`WindowTargets`) when read, kept for this process (read-only) and never pickled, so the object store
    holds no per-window labels. Given `labels` and `moves` explicitly (a view that concatenates splits), those
    arrays are used as they are.
    """

    def __init__(
        self,
        ends: np.ndarray,
        labels: np.ndarray | None = None,
        moves: np.ndarray | None = None,
        *,
        targets: WindowTargets | None = None,
    ) -> None:
        if (labels is None) != (moves is None) or (labels is None) == (targets is None):
            raise TypeError("SplitWindows needs labels and moves, or targets to derive them from (not both)")
        self.ends: np.ndarray = ends
        """(n,) int32: row index of each window's last observed step."""
        self.targets = targets
        self._stored = None if labels is None or moves is None else (labels, moves)
        self._derived: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return int(self.ends.shape[0])

    def __repr__(self) -> str:
        how = "stored" if self._stored is not None else "derived"
        return f"SplitWindows({len(self)} windows, labels and moves {how})"

    @property
    def labels(self) -> np.ndarray:
        """(n, H, T) int8: class per horizon step and target; MASK_VALUE (-50) where the target is missing."""
        return self._all()[0]

    @property
    def moves(self) -> np.ndarray:
        """(n, H, T) float32: the scaled move from the last observed value; MASK_VALUE where missing."""
        return self._all()[1]

    def labels_and_moves(self, index: np.ndarray | slice) -> tuple[np.ndarray, np.ndarray]:
        """(labels, moves) of the windows at positions `index` only, derived for them alone when not stored."""
        if self._stored is not None or self._derived is not None:
            labels, moves = self._all()
            return labels[index], moves[index]
        assert self.targets is not None
        moves = self.targets.moves(self.ends[index])
        return self.targets.labels(moves), moves

    def _all(self) -> tuple[np.ndarray, np.ndarray]:
        if self._stored is not None:
            return self._stored
        if self._derived is None:
            assert self.targets is not None
            moves = self.targets.moves(self.ends)
            labels = self.targets.labels(moves)
            for array in (labels, moves):
                array.setflags(write=False)  # one copy per process, shared by every reader
            self._derived = (labels, moves)
        return self._derived

    @property
    def nbytes(self) -> int:
        """Bytes this split pickles: its ends (as runs, `compact.encode_runs`) and any stored labels and moves."""
        stored = 0 if self._stored is None else sum(a.nbytes for a in self._stored)
        return encoded_nbytes(encode_runs(self.ends, 1)) + stored

    def __getstate__(self) -> dict[str, Any]:
        # the derived labels and moves stay in this process; ends travel as runs
        return {"ends": encode_runs(self.ends, 1), "targets": self.targets, "stored": self._stored}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.ends = decode_runs(state["ends"])
        self.targets = state["targets"]
        self._stored = state["stored"]
        self._derived = None


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
    raw_magnitude: dict[str, np.ndarray] = field(default_factory=dict)
    """Per symbol: (len(raw_columns),) train median of |x| over observed nonzero grid values, in the
    column's own units before any transform (`windows.fit_magnitudes`), which `predict` compares a
    window's with to catch a unit change; empty in datasets and bundles made before it was recorded."""

    def to_arrays(self, symbols: tuple[str, ...]) -> dict[str, np.ndarray]:
        """The fitted arrays, per-symbol ones stacked in `symbols` order (for .npy / .npz files)."""
        # `raw_magnitude` only when recorded for every symbol: an older dataset has none
        magnitude = (
            {"raw_magnitude": np.stack([self.raw_magnitude[s] for s in symbols])}
            if symbols and all(s in self.raw_magnitude for s in symbols)
            else {}
        )
        return magnitude | {
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
            # absent from arrays written before it was recorded: predict then skips the unit check
            raw_magnitude=per_symbol("raw_magnitude") if "raw_magnitude" in arrays else {},
        )


@dataclass(frozen=True)
class FoldScaling:
    """Fold f's scaling as an affine map of the stored (last-fold-scaled) raw columns.

    x_f = x · scale + shift per (symbol, raw column), where scale = std_last / std_f and
    shift = (mean_last − mean_f) / std_f; masked values stay MASK_VALUE. Embedding and calendar
    columns (after the raw ones) are not scaled and stay as stored.
    """

    fold: int
    scale: np.ndarray
    """(S, R) float32."""
    shift: np.ndarray
    """(S, R) float32."""

    def apply(self, x: np.ndarray, symbols: np.ndarray) -> np.ndarray:
        """x (..., F) float32 rows of the given symbols (index array shaped like x[..., 0]) → fold-scaled copy."""
        from seqsweep.constants import MASK_VALUE

        r = self.scale.shape[1]
        out = np.array(x, dtype=np.float32, copy=True)
        raw = out[..., :r]
        scaled = raw * self.scale[symbols] + self.shift[symbols]
        out[..., :r] = np.where(raw == MASK_VALUE, raw, scaled)
        return out


@dataclass(frozen=True)
class FoldData:
    """The k − 1 walk-forward folds before the last one (the last fold is the bundle's own train/valid split).

    Built by `seqsweep.data.folds.build_folds`; every statistic of fold f is fitted on fold f's train
    rows only. Fold f's windows are all windows of the bundle's train split (their rows lie before the
    last validation block), so a fold stores positions into `splits["train"]`, not windows.
    """

    blocks: np.ndarray
    """(k − 1, 2) int64: [start, end) in ns of each earlier fold's validation block (fold f trains before start)."""
    scale: np.ndarray
    """(k − 1, S, R) float32: `FoldScaling.scale` of each earlier fold."""
    shift: np.ndarray
    """(k − 1, S, R) float32: `FoldScaling.shift` of each earlier fold."""
    target_scale: np.ndarray
    """(k − 1, S, T) float32: std_last / std_f of each target's levels; a fold's moves are the plain ones × this."""
    thresholds: np.ndarray
    """(k − 1, H, T, 2) float32: each fold's label thresholds, in its own scaled units."""
    train_ranges: np.ndarray
    """(k − 1, S, 2) int32: per symbol, [first, stop) positions in the bundle's train windows of the fold's
    train windows (a symbol's windows are consecutive there: the fold's are a run of them)."""
    valid_ranges: np.ndarray
    """(k − 1, S, 2) int32: the same for each fold's validation windows."""

    @property
    def n_folds(self) -> int:
        """k, the last fold included."""
        return int(self.scale.shape[0]) + 1

    def positions(self, split: str, fold: int) -> np.ndarray:
        """(n,) int64: fold `fold`'s windows of `split` (`train` or `valid`) as positions in the bundle's train
        windows, in the bundle's order (symbol, then time)."""
        ranges = (self.train_ranges if split == "train" else self.valid_ranges)[fold]
        return np.concatenate([np.arange(a, b, dtype=np.int64) for a, b in ranges])

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays under `fold_*` names (for the dataset cache's .npy files)."""
        return {f"fold_{f.name}": getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> FoldData | None:
        """The inverse of `to_arrays`; None when `arrays` holds no fold arrays (a one-fold dataset)."""
        if "fold_scale" not in arrays:
            return None
        return cls(**{f.name: arrays[f"fold_{f.name}"] for f in fields(cls)})

    @property
    def nbytes(self) -> int:
        return int(sum(getattr(self, f.name).nbytes for f in fields(self)))


_RUN_ENCODED = ("row_time", "row_symbol")
"""The bundle's fields pickled as runs and decoded lazily after unpickling."""
_ENCODED_INDEX = "_encoded_index"
"""Where an unpickled bundle keeps those runs until a field is first read."""


@dataclass(frozen=True)
class DatasetBundle:
    """Feature matrix + window index + target levels + metadata. Build it with `seqsweep.data.build_dataset`.

    Pickling (`ray.put`) stores the feature matrix, the targets' levels (`data.targets.TargetLevels`: int32
    residuals beside the feature columns that hold them) and the row and window index as runs
    (`data.compact`); labels and moves are derived when read, never stored. After unpickling, `row_time` and
    `row_symbol` are decoded on first read: a trial that only trains never decodes them.
    """

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
    """Timestamps (ns) where valid and test begin (in a fold view: where that fold's validation block begins and ends)."""
    folds: FoldData | None = None
    """The earlier walk-forward folds (`dataset.split.folds` > 1); None for one fold and in a fold view."""
    fold_scaling: FoldScaling | None = None
    """Set in a view of an earlier fold (`fold`): applied to every gathered window; None = features as stored."""

    @property
    def n_folds(self) -> int:
        """k: walk-forward folds of this dataset (1 without folds, and for a fold view)."""
        return 1 if self.folds is None else self.folds.n_folds

    def fold(self, index: int) -> DatasetBundle:
        """A view of fold `index` (0 … k − 1): same arrays, that fold's train/valid windows, scaling, thresholds.

        Fold k − 1 (the last) is the bundle itself. An earlier fold's view has `train` and `valid` splits
        only (the test block is evaluated with the last fold's model), its labels and moves in its own
        scaled units, and `windows`/`batches`/`scaled_rows` apply its `FoldScaling`. Nothing is added to
        the object store: the view's window labels live in the calling process. Raises IndexError for a
        fold the dataset does not have.
        """
        if not 0 <= index < self.n_folds:
            raise IndexError(f"fold {index}: the dataset has {self.n_folds} fold(s)")
        if index == self.n_folds - 1:
            return self
        from seqsweep.data.folds import fold_view

        return fold_view(self, index)

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

    def stored_nbytes(self) -> dict[str, int]:
        """Bytes of the arrays this bundle puts in the object store, by part.

        `features` the (rows, F) matrix; `targets` what the target levels add to it (`TargetLevels`: int32
        residuals, or float64 levels of a transformed target); `index` row times, row symbols and window
        ends as pickled (runs, `compact.encode_runs`), plus any labels and moves a view stores explicitly;
        `folds` the walk-forward fold arrays.
        """
        levels = {
            id(w.targets.levels): w.targets.levels for w in self.splits.values() if w.targets is not None
        }
        index = encoded_nbytes(encode_runs(self.row_time, self._time_step()))
        index += encoded_nbytes(encode_runs(self.row_symbol, 0))
        return {
            "features": int(self.features.nbytes),
            "targets": sum(t.nbytes for t in levels.values()),
            "index": index + sum(w.nbytes for w in self.splits.values()),
            "folds": 0 if self.folds is None else self.folds.nbytes,
        }

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays this bundle puts in the object store (the sum of `stored_nbytes`)."""
        return int(sum(self.stored_nbytes().values()))

    @property
    def minimal_nbytes(self) -> int:
        """rows × features × 4 bytes: the budget the store must stay near (goal ≤ 1.2×); labels are derived."""
        return int(self.features.shape[0] * self.features.shape[1] * 4)

    def _time_step(self) -> int:
        """The grid step in ns that row times advance by within a stretch (the most common spacing)."""
        step = self.preprocessing.extra.get("step_ns")
        if step:
            return int(step)
        spacing = np.diff(self.row_time)
        if not len(spacing):
            return 0
        values, counts = np.unique(spacing, return_counts=True)
        return int(values[np.argmax(counts)])

    def __getstate__(self) -> dict[str, Any]:
        # row times and symbols travel as runs (`compact.encode_runs`): exact, and a few bytes per gap
        # (an unpickled bundle passes on the runs it came with, decoded or not: the same values)
        state = dict(self.__dict__)
        encoded = state.pop(_ENCODED_INDEX, {})
        if not encoded:
            encoded = {"row_time": encode_runs(self.row_time, self._time_step())}
            encoded["row_symbol"] = encode_runs(self.row_symbol, 0)
        state.update(encoded)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # the row index stays encoded until first read (`__getattr__`): training reads only window ends
        state = dict(state)
        self.__dict__[_ENCODED_INDEX] = {name: state.pop(name) for name in _RUN_ENCODED}
        self.__dict__.update(state)

    if not TYPE_CHECKING:  # hidden from mypy, which would otherwise accept any attribute name

        def __getattr__(self, name: str) -> Any:
            """`row_time` / `row_symbol` of an unpickled bundle, decoded on first read (only missing names reach here)."""
            encoded = self.__dict__.get(_ENCODED_INDEX)
            if encoded is None or name not in encoded:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            value = decode_runs(encoded[name])
            self.__dict__[name] = value
            return value

    def windows(self, split: str, index: np.ndarray | slice | None = None) -> np.ndarray:
        """Gather (B, L, F) float32 inputs of the chosen windows of `split` (a copy of B·L rows)."""
        ends = self.splits[split].ends
        chosen = ends if index is None else ends[index]
        offsets = np.arange(-self.spec.lookback + 1, 1, dtype=np.int64)
        rows = chosen.astype(np.int64)[:, None] + offsets[None, :]  # (B, L)
        return self.scaled_rows(rows)  # (B, L, F)

    def scaled_rows(self, rows: np.ndarray) -> np.ndarray:
        """`features[rows]` (any integer index array → (*rows.shape, F)), in this fold's scaling when a fold view."""
        x = self.features[rows]
        if self.fold_scaling is None:
            return x
        return self.fold_scaling.apply(x, self.row_symbol[rows])

    def batches(
        self,
        split: str,
        batch_size: int,
        rng: np.random.Generator | None = None,
        shard: tuple[int, int] | None = None,
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Yield (x (B,L,F) float32, labels (B,H,T) int8, moves (B,H,T) float32); shuffled when `rng` is given.

        Labels and moves are derived per batch from the targets' levels (`SplitWindows.labels_and_moves`).

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
            labels, moves = windows.labels_and_moves(index)
            yield self.windows(split, index), labels, moves

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description: what `seqsweep data build` prints."""
        from seqsweep.data.summary import summarize

        return summarize(self)
