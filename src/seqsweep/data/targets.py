"""Window labels and moves derived on demand from the targets' stored levels, never stored per window.

A window ending at row e has, per horizon step h = 1..H and target t, the move
`level[e + h, t] − level[e, t]` (the target's untransformed level, scaled with its own train statistics,
subtracted in float64 and rounded to float32) and the class of that move against the train thresholds.
Both are functions of the (rows, T) float64 levels, so the object store holds the levels once (about
rows × T × 4 bytes, below) instead of (n, H, T) labels and moves per split.

Storage of the levels, exact to the last bit: when a target's level enters the features unchanged (no
`dataset.transform`), its feature column already holds `float32(level)`; the level is that value plus a
residual `level − float32(level)`, which is an integer multiple of 2^(E − 54) (E the binary exponent of
the float32 value, `np.frexp`) of at most 2^29 in size, so an int32 holds it. A target without such a
column (a transformed input) keeps its float64 levels. `TargetLevels.encode` checks every row decodes
back bit for bit before it chooses the residual form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from seqsweep.constants import MASK_VALUE
from seqsweep.masking import mask_missing

_RESIDUAL_SHIFT = 54
"""A residual's unit is 2^(E − 54): it divides the float64 spacing of every level that rounds to the float32."""


def moves_from_levels(levels: np.ndarray) -> np.ndarray:
    """(n, H + 1, T) float64 levels at e, e + 1 … e + H (NaN = missing) → (n, H, T) float32 moves.

    move[:, h − 1] = level[:, h] − level[:, 0] in float64, rounded to float32; MASK_VALUE where either is NaN
    (and only there: `masking.mask_missing`).
    """
    return mask_missing(levels[:, 1:] - levels[:, :1])


def label_moves(moves: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """(n, H, T) int8: 0 below the band, 2 above it, 1 inside (bounds included); MASK_VALUE where masked.

    `thresholds` (H, T, 2) float32: the flat band's lower and upper bound per step and target.
    """
    low, high = thresholds[..., 0], thresholds[..., 1]
    labels = np.where(moves < low, 0, np.where(moves > high, 2, 1)).astype(np.int8)
    labels[moves == MASK_VALUE] = np.int8(MASK_VALUE)
    return labels


def rescale_moves(
    moves: np.ndarray, ends: np.ndarray, row_symbol: np.ndarray, target_scale: np.ndarray
) -> np.ndarray:
    """(n, H, T) moves in the stored scaling → a fold's scaling (× std_last / std_fold of each target); masks kept.

    `ends` (n,) the windows' last rows, `target_scale` the fold's (S, T) `FoldData.target_scale`. Moves are
    differences of levels, so the means cancel and only the scale changes.
    """
    ratio = target_scale[row_symbol[ends]]  # (n, T)
    return mask_missing(moves * ratio[:, None, :], missing=moves == MASK_VALUE)


@dataclass(frozen=True, eq=False)
class TargetLevels:
    """The targets' scaled levels (rows, T) float64, NaN where missing, stored exactly in few bytes.

    Target t is held one of two ways: `columns[t] >= 0` → `features[:, columns[t]]` (float32, MASK_VALUE
    where missing) plus `residual[:, r]` (int32, r = its rank among such targets); `columns[t] == -1` →
    `exact[:, x]` (float64, x its rank among the others). `features` is the bundle's own matrix (the same
    object: pickled once with the bundle).
    """

    features: np.ndarray | None
    """(rows, F) float32: the bundle's feature matrix; None when no target uses it."""
    columns: np.ndarray
    """(T,) int64: the feature column holding float32(level) of each target, or -1."""
    residual: np.ndarray
    """(rows, T_c) int32: level − float32(level) in units of 2^(E − 54), for the targets with a column."""
    exact: np.ndarray
    """(rows, T_x) float64: levels of the targets without a column."""

    @classmethod
    def encode(
        cls,
        levels: np.ndarray,
        features: np.ndarray | None = None,
        candidates: Sequence[int | None] | None = None,
    ) -> TargetLevels:
        """Store `levels` (rows, T) float64 (NaN = missing) against `features` (rows, F) float32.

        `candidates[t]`: the feature column that may hold float32(level t) (None: none). A candidate is
        used only when every row decodes back to the same float64 bits and its missing rows are exactly
        the column's MASK_VALUE rows; otherwise the target keeps its float64 levels.
        """
        levels = np.asarray(levels, dtype=np.float64)
        n_targets = levels.shape[1]
        picks = list(candidates) if candidates is not None else [None] * n_targets
        columns = np.full(n_targets, -1, dtype=np.int64)
        residuals: list[np.ndarray] = []
        for t in range(n_targets):
            column = picks[t]
            if features is None or column is None:
                continue
            residual = _residual(levels[:, t], features[:, column])
            if residual is not None:
                columns[t] = column
                residuals.append(residual)
        rows = levels.shape[0]
        return cls(
            features=features if residuals else None,
            columns=columns,
            residual=np.stack(residuals, axis=1) if residuals else np.zeros((rows, 0), np.int32),
            exact=np.ascontiguousarray(levels[:, columns < 0]),
        )

    @property
    def n_targets(self) -> int:
        return int(self.columns.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes this adds to the store beyond the feature matrix."""
        return int(self.columns.nbytes + self.residual.nbytes + self.exact.nbytes)

    def levels(self, rows: np.ndarray) -> np.ndarray:
        """(*rows.shape, T) float64 levels of the given rows (any integer index array); NaN where missing."""
        with_column = self.columns >= 0
        if with_column.all():  # the usual case (no transformed target): one gather, one decode
            assert self.features is not None  # encode keeps it whenever a column is used
            return _decode(self.features[rows[..., None], self.columns], self.residual[rows])
        out = np.empty((*rows.shape, self.n_targets), dtype=np.float64)
        if with_column.any():
            assert self.features is not None
            hi = self.features[rows[..., None], self.columns[with_column]]  # (*rows, T_c) float32
            out[..., with_column] = _decode(hi, self.residual[rows])
        out[..., ~with_column] = self.exact[rows]
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays under `target_*` names (the dataset cache's .npy files); the features are the bundle's."""
        return {"target_columns": self.columns, "target_residual": self.residual, "target_exact": self.exact}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], features: np.ndarray) -> TargetLevels:
        """The inverse of `to_arrays`, given the bundle's feature matrix."""
        columns = np.asarray(arrays["target_columns"], dtype=np.int64)
        return cls(
            features=features if (columns >= 0).any() else None,
            columns=columns,
            residual=arrays["target_residual"],
            exact=arrays["target_exact"],
        )


def _decode(hi: np.ndarray, residual: np.ndarray) -> np.ndarray:
    """float32 `hi` + int32 `residual` × 2^(E − 54) → float64 (exact); NaN where `hi` is MASK_VALUE."""
    _, exponent = np.frexp(hi)
    levels = hi + np.ldexp(residual, exponent - _RESIDUAL_SHIFT)  # float32 + float64: hi is widened exactly
    return np.where(hi == MASK_VALUE, np.nan, levels)


def _residual(levels: np.ndarray, column: np.ndarray) -> np.ndarray | None:
    """(rows,) int32 residuals of `levels` against the float32 `column`, or None when they do not decode exactly."""
    missing = np.isnan(levels)
    if not np.array_equal(missing, column == MASK_VALUE):
        return None
    hi = column.astype(np.float64)
    _, exponent = np.frexp(column)
    units = np.ldexp(np.where(missing, 0.0, levels - hi), -(exponent.astype(np.int64) - _RESIDUAL_SHIFT))
    if not (np.isfinite(units).all() and (np.abs(units) < 2**31).all() and (units == np.round(units)).all()):
        return None
    residual = units.astype(np.int32)
    decoded = _decode(column, residual)
    same = np.array_equal(decoded.view(np.int64)[~missing], levels.view(np.int64)[~missing])
    return residual if same else None


@dataclass(frozen=True, eq=False)
class WindowTargets:
    """How a split's labels and moves follow from its window ends: shared by the splits of one bundle.

    `moves(ends)` is `moves_from_levels` of the levels at e … e + H, rescaled to a fold's units when
    `target_scale` is set (`rescale_moves`); `labels(moves)` classifies them with `thresholds`.
    """

    levels: TargetLevels
    horizon: int
    thresholds: np.ndarray
    """(H, T, 2) float32: the flat band (the train split's, or a fold's own)."""
    target_scale: np.ndarray | None = None
    """(S, T) float32: a fold's std_last / std_fold per symbol and target; None = the stored scaling."""
    row_symbol: np.ndarray | None = None
    """(rows,) int: each row's symbol, needed with `target_scale`."""

    def moves(self, ends: np.ndarray) -> np.ndarray:
        """(n, H, T) float32 moves of the windows ending at `ends` (n,); MASK_VALUE where missing."""
        steps = np.arange(self.horizon + 1, dtype=np.int64)
        rows = np.asarray(ends, dtype=np.int64)[:, None] + steps[None, :]  # (n, H + 1)
        moves = moves_from_levels(self.levels.levels(rows))
        if self.target_scale is None:
            return moves
        assert self.row_symbol is not None  # set together with target_scale (fold_view)
        return rescale_moves(moves, ends, self.row_symbol, self.target_scale)

    def labels(self, moves: np.ndarray) -> np.ndarray:
        """(n, H, T) int8 classes of `moves` against `thresholds`."""
        return label_moves(moves, self.thresholds)
