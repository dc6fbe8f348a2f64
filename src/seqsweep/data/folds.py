"""Walk-forward folds (expanding window, embargo after each boundary), fitted fold by fold.

`dataset.split.folds: k` cuts the rows before the test block into k validation origins. The last
fold's validation block is exactly the plain split's (fractions or dates); the k − 1 earlier blocks are
equally long and lie immediately before it, oldest first:

    fold 0:  train ─────────┤gap│ valid0 │
    fold 1:  train ──────────────────────┤gap│ valid1 │
    fold 2:  train ───────────────────────────────────┤gap│ valid2 (= the plain valid) │ test (shared)

Fold i trains on every row before its validation block; the first `gap` steps of the block are an
embargo (no window reads them), as after every boundary of the plain split. The test block is one
final block shared by all folds and never used to choose. This is the walk-forward scheme with an
embargo of M. López de Prado, *Advances in Financial Machine Learning* (Wiley, 2018), ch. 7 and 12.

Every fitted statistic of fold i (per-symbol scalers, label thresholds) sees fold i's train rows
only. The stored feature matrix stays scaled with the last fold's statistics (the plain split's), so
test evaluation, export and prediction are unchanged; an earlier fold's scaling is an affine map of the
stored values (`FoldScaling`), applied per gathered batch, so the object store holds the features once
whatever k is. An earlier fold's moves are the plain train moves (derived from the stored target levels)
times std_last / std_i of the target (moves are differences: the means cancel), classified with that
fold's own thresholds.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from seqsweep.constants import MASK_VALUE
from seqsweep.data.bundle import DatasetBundle, FoldData, FoldScaling, SplitWindows
from seqsweep.data.spec import DatasetSpec
from seqsweep.data.targets import rescale_moves as rescale_moves  # re-exported: a fold's moves
from seqsweep.data.windows import assign_splits, fit_scalers, fit_thresholds, target_moves, window_ends
from seqsweep.errors import ConfigError, DataError


def fold_blocks(boundaries: tuple[int, int], n_folds: int) -> np.ndarray:
    """(k, 2) int64 [start, end) in ns of every fold's validation block, oldest first.

    The last row is `boundaries` itself (the plain split's validation block); each earlier block is as
    long and ends where the next one starts. `boundaries`: (valid start, test start) in ns.
    """
    valid_start, test_start = boundaries
    length = test_start - valid_start
    starts = valid_start - length * np.arange(n_folds - 1, -1, -1, dtype=np.int64)
    return np.stack([starts, starts + length], axis=1)


def check_fold_span(
    boundaries: tuple[int, int], common_start: int, n_folds: int, latest: str | None = None
) -> None:
    """ConfigError when fold 0 would train on less time than one validation block (or on nothing).

    `boundaries`: (valid start, test start) in ns, as for `fold_blocks`; `common_start`: the first
    timestamp (ns) every symbol covers, where the plain split's fractions start; `latest` the symbol that
    starts there, named in the message (one late symbol was read as the whole dataset's shortfall).
    Computed in Python integers, before `fold_blocks`: a million folds overflowed int64 there and passed this check.
    """
    valid_start, test_start = (int(b) for b in boundaries)
    length = test_start - valid_start
    train = valid_start - length * (n_folds - 1) - int(common_start)
    if train < length or train <= 0:
        since = (
            f" (counted from {latest}'s first row, {pd.Timestamp(int(common_start))}: every symbol trains in "
            f"every fold)"
            if latest
            else ""
        )
        drop = f", drop {latest}" if latest else ""
        raise ConfigError(
            f"dataset.split.folds: {n_folds} folds leave fold 0 {pd.Timedelta(max(train, 0))} of train "
            f"before its validation block{since}, less than one validation block "
            f"({pd.Timedelta(length)}); use fewer folds, a shorter valid split{drop} or more rows"
        )


def fold_codes(times: np.ndarray, block: np.ndarray, gap_ns: int) -> np.ndarray:
    """(rows,) int8 split codes of one fold: TRAIN before its block, VALID in it, TEST (unused) after it.

    The first `gap_ns` of the block (and of what follows it) are EMBARGO, like `assign_splits`.
    """
    return assign_splits(times, (int(block[0]), int(block[1])), gap_ns)


def build_folds(
    spec: DatasetSpec,
    *,
    times: np.ndarray,
    row_symbol: np.ndarray,
    inputs: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    target_levels: np.ndarray,
    target_std: np.ndarray,
    targets: np.ndarray,
    boundaries: tuple[int, int],
    common_start: int,
    gap_ns: int,
    train: SplitWindows,
    symbols: tuple[str, ...],
    columns: tuple[str, ...],
) -> FoldData | None:
    """The k − 1 earlier folds of `spec.split.folds` (None when k = 1), every statistic fitted on its own train rows.

    `times` (rows,) int64 ns and `row_symbol` (rows,) int of the stacked rows; `inputs` (rows, R) float64
    the raw columns `columns` as the build scales them (NaN = missing) with `mean`, `std` ((S, R), the
    last fold's = the plain train split's statistics); `target_levels` (rows, T) the targets' unscaled
    levels, `target_std` (S, T) their plain-train standard deviation, `targets` (rows, T) the levels as
    the plain split scales them (NaN = missing); `train` the plain train split's windows;
    `common_start` the first timestamp (ns) every symbol covers. Raises ConfigError when fold 0's train
    period is shorter than a validation block, DataError when a fold has a symbol without train rows or
    a split without windows.
    """
    n_folds = spec.split.folds
    if n_folds <= 1:
        return None
    firsts = [times[row_symbol == s].min() for s in range(len(symbols)) if (row_symbol == s).any()]
    latest = symbols[int(np.argmax(firsts))] if len(firsts) == len(symbols) and len(symbols) > 1 else None
    check_fold_span(boundaries, common_start, n_folds, latest)
    blocks = fold_blocks(boundaries, n_folds)
    lookback, horizon = spec.lookback, spec.horizon
    scales, shifts, target_scales, thresholds = [], [], [], []
    ranges: dict[str, list[np.ndarray]] = {"train": [], "valid": []}
    for fold in range(n_folds - 1):
        codes = fold_codes(times, blocks[fold], gap_ns)
        try:
            fold_mean, fold_std = fit_scalers(inputs, row_symbol, codes, symbols, columns)
            _, fold_target_std = fit_scalers(target_levels, row_symbol, codes, symbols, spec.target_columns)
        except DataError as exc:
            raise DataError(f"dataset.split.folds: fold {fold}: {exc}") from None
        scales.append((std / fold_std).astype(np.float32))  # (S, R)
        shifts.append(((mean - fold_mean) / fold_std).astype(np.float32))
        target_scales.append((target_std / fold_target_std).astype(np.float32))  # (S, T)
        ends = window_ends(row_symbol, codes, lookback, horizon)
        train_moves = None
        for name in ("train", "valid"):
            positions = _train_positions(ends[name], train.ends, targets, horizon, fold, name)
            if not len(positions):
                raise DataError(
                    f"dataset.split.folds: fold {fold} has no {name} windows of lookback + horizon = "
                    f"{lookback + horizon} steps; use fewer folds or more rows per symbol"
                )
            ranges[name].append(_symbol_ranges(positions, train.ends, row_symbol, len(symbols), fold, name))
            if name == "train":
                train_moves = rescale_moves(
                    train.moves[positions], train.ends[positions], row_symbol, target_scales[-1]
                )
        assert train_moves is not None
        thresholds.append(fit_thresholds(train_moves, spec.labels))
    return FoldData(
        blocks=blocks[:-1].astype(np.int64),
        scale=np.stack(scales),
        shift=np.stack(shifts),
        target_scale=np.stack(target_scales),
        thresholds=np.stack(thresholds).astype(np.float32),
        train_ranges=np.stack(ranges["train"]),
        valid_ranges=np.stack(ranges["valid"]),
    )


def _symbol_ranges(
    positions: np.ndarray,
    train_ends: np.ndarray,
    row_symbol: np.ndarray,
    n_symbols: int,
    fold: int,
    split: str,
) -> np.ndarray:
    """(S, 2) int32 [first, stop) per symbol of sorted `positions` in the train windows ((0, 0) for none).

    A fold's windows of one symbol are a run of that symbol's train windows (a prefix for train, a
    stretch for valid); anything else is a bug and raises RuntimeError.
    """
    out = np.zeros((n_symbols, 2), dtype=np.int32)
    symbol = row_symbol[train_ends[positions]]
    for s in range(n_symbols):
        mine = positions[symbol == s]
        if not len(mine):
            continue
        if mine[-1] - mine[0] + 1 != len(mine):
            raise RuntimeError(
                f"fold {fold}: the {split} windows of symbol {s} are not consecutive train windows"
            )
        out[s] = (mine[0], mine[-1] + 1)
    return out


def _train_positions(
    ends: np.ndarray, train_ends: np.ndarray, targets: np.ndarray, horizon: int, fold: int, split: str
) -> np.ndarray:
    """Positions in the plain train split of the fold's windows ending at `ends` (windows with every label
    masked are left out, as in the plain split). Every window of an earlier fold lies before the last
    validation block, so it is a plain train window; anything else is a bug and raises RuntimeError."""
    pos = np.searchsorted(train_ends, ends)
    found = pos < len(train_ends)
    found[found] = train_ends[pos[found]] == ends[found]
    missing = ends[~found]
    if len(missing):
        informative = (target_moves(targets, missing, horizon) != MASK_VALUE).any(axis=(1, 2))
        if informative.any():
            raise RuntimeError(
                f"fold {fold}: {int(informative.sum())} {split} windows are not windows of the train split"
            )
    return pos[found].astype(np.int32)


def fold_view(bundle: DatasetBundle, fold: int) -> DatasetBundle:
    """`bundle.fold(fold)` for an earlier fold: what `DatasetBundle.fold` documents."""
    folds = bundle.folds
    if folds is None or not 0 <= fold < folds.n_folds - 1:
        raise IndexError(f"fold {fold}: not an earlier fold of a {bundle.n_folds}-fold dataset")
    prep = bundle.preprocessing
    scale, shift, thresholds = folds.scale[fold], folds.shift[fold], folds.thresholds[fold]
    plain = bundle.splits["train"]

    assert plain.targets is not None, "a walk-forward bundle derives its labels (data.windows.index_windows)"
    # the plain moves rescaled to the fold's units (`rescale_moves`), classified with the fold's thresholds
    derive = dataclasses.replace(
        plain.targets,
        thresholds=thresholds,
        target_scale=folds.target_scale[fold],
        row_symbol=bundle.row_symbol,
    )

    def windows_of(split: str) -> SplitWindows:
        return SplitWindows(ends=plain.ends[folds.positions(split, fold)], targets=derive)

    # the fold's statistics in raw units: std_f = std / scale, mean_f = mean − shift · std_f
    fold_std = {s: prep.scale_std[s] / scale[i] for i, s in enumerate(bundle.symbols)}
    fold_mean = {s: prep.scale_mean[s] - shift[i] * fold_std[s] for i, s in enumerate(bundle.symbols)}
    preprocessing = dataclasses.replace(
        prep,
        scale_mean=fold_mean,
        scale_std=fold_std,
        thresholds=thresholds,
        extra={**prep.extra, "fold": fold},
    )
    block = folds.blocks[fold]
    return dataclasses.replace(
        bundle,
        splits={"train": windows_of("train"), "valid": windows_of("valid")},
        preprocessing=preprocessing,
        boundaries=(int(block[0]), int(block[1])),
        folds=None,
        fold_scaling=FoldScaling(fold=fold, scale=scale, shift=shift),
    )
