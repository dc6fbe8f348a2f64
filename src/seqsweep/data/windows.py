"""Leakage-free splits, scalers, window index and labels over the stacked rows of every symbol.

Rows are sorted by symbol, then time. Each row gets a split code from timestamp boundaries shared by
all symbols. A window whose last observed row is `e` belongs to split `s` iff rows e−L+1 … e+H are
all of split `s` and of one symbol, so no window crosses a boundary or a symbol. Scalers and label
thresholds see train rows / train windows only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import numpy as np
import pandas as pd

from seqsweep.constants import MASK_VALUE, SPLITS
from seqsweep.data.bundle import SplitWindows
from seqsweep.data.spec import LabelSpec, SplitSpec
from seqsweep.data.targets import TargetLevels, WindowTargets, moves_from_levels
from seqsweep.data.targets import label_moves as label_moves  # re-exported: callers classify moves with it
from seqsweep.errors import DataError
from seqsweep.masking import mask_missing

TRAIN: Final = 0
VALID: Final = 1
TEST: Final = 2
EMBARGO: Final = -1
"""Split code of rows inside the `gap` after a boundary: they belong to no window."""


def split_boundaries(
    first: np.ndarray, last: np.ndarray, split: SplitSpec, step: pd.Timedelta | None, symbols: tuple[str, ...]
) -> tuple[int, int]:
    """(valid start, test start) in ns, on the grid: the split's dates, or fractions of the shared time range.

    `first`, `last`: (S,) int64 ns, each symbol's first and last row. With fractions the range is the
    overlap of the symbols' ranges, so every symbol has rows on both sides of each boundary; rows
    before the overlap are train, rows after it test (so a symbol that starts late shifts the realized
    shares: `summary.split_shares`). With dates (`split.valid_start`, `split.test_start`) the
    boundaries are those timestamps, rounded up to the grid `step`. Raises DataError when the symbols
    share no period (fractions) or a date lies outside the rows (dates).
    """
    dates = split.dates
    if dates is not None:
        return _date_boundaries(first, last, split, dates, step)
    lo, hi = int(np.max(first)), int(np.min(last))
    if lo >= hi:
        late, early = symbols[int(np.argmax(first))], symbols[int(np.argmin(last))]
        raise DataError(
            f"dataset.symbols: the symbols share no period ({early} ends at {pd.Timestamp(hi)}, "
            f"{late} starts at {pd.Timestamp(lo)}); choose symbols that overlap in time"
        )
    span = hi - lo
    fractions = split.fractions
    assert fractions is not None  # SplitSpec holds dates or fractions
    train, valid = fractions
    bounds = [lo + round(train * span), lo + round((train + valid) * span)]
    return _on_grid(bounds[0], step, first), _on_grid(bounds[1], step, first)


def _on_grid(stamp: int, step: pd.Timedelta | None, first: np.ndarray) -> int:
    """`stamp` (ns) rounded up to the earliest grid time at or after it, over every symbol's own grid
    (each runs at its first row's offset, `features.grid_anchor`); unchanged without a grid.

    Every row at or after `stamp` is then at or after the boundary, on every symbol's grid. Rounding to
    multiples of the step counted from 1970 put a daily row at 23:00 UTC, or a weekly Monday row (1970-01-01
    was a Thursday), exactly at `valid_start` into train."""
    if step is None:
        return stamp
    unit = int(step.value)
    anchors = np.asarray(first, dtype=np.int64)
    return int(min(a + -(-(stamp - int(a)) // unit) * unit for a in anchors))  # integer ceil: ns are exact


def _date_boundaries(
    first: np.ndarray,
    last: np.ndarray,
    split: SplitSpec,
    dates: tuple[pd.Timestamp, pd.Timestamp],
    step: pd.Timedelta | None,
) -> tuple[int, int]:
    """The boundaries of a split by dates; each must leave rows before and after it in the data."""
    lo, hi = int(np.min(first)), int(np.max(last))
    span = f"the rows run from {pd.Timestamp(lo)} to {pd.Timestamp(hi)}"
    valid_start, test_start = (_on_grid(int(d.value), step, first) for d in dates)
    if not lo < valid_start <= hi:
        raise DataError(
            f"dataset.split.valid_start: {split.valid_start} is outside the data ({span}); "
            "choose a date after the first row so that train has rows"
        )
    if not valid_start < test_start <= hi:
        raise DataError(
            f"dataset.split.test_start: {split.test_start} is outside the data ({span}); "
            "choose a date before the last row so that test has rows"
        )
    return valid_start, test_start


def assign_splits(times: np.ndarray, boundaries: tuple[int, int], gap_ns: int = 0) -> np.ndarray:
    """(rows,) int8 split code of each timestamp: TRAIN, VALID, TEST or EMBARGO (within `gap_ns` after a boundary)."""
    valid_start, test_start = boundaries
    codes = np.full(times.shape, TRAIN, dtype=np.int8)
    codes[times >= valid_start] = VALID
    codes[times >= test_start] = TEST
    if gap_ns:
        for start in boundaries:
            codes[(times >= start) & (times < start + gap_ns)] = EMBARGO
    return codes


def fit_scalers(
    raw: np.ndarray,
    row_symbol: np.ndarray,
    codes: np.ndarray,
    symbols: tuple[str, ...],
    columns: tuple[str, ...],
) -> tuple[np.ndarray, np.ndarray]:
    """Per symbol and raw column: (mean, std) of the train rows only, each (S, R); std 1.0 where it is 0."""
    means = np.zeros((len(symbols), raw.shape[1]))
    stds = np.ones((len(symbols), raw.shape[1]))
    for s, symbol in enumerate(symbols):
        train = raw[(row_symbol == s) & (codes == TRAIN)]
        observed = ~np.isnan(train)
        if not observed.any():
            raise DataError(
                f"symbol {symbol}: no rows in the train split (scalers are fitted on train rows): its observed "
                f"rows begin after the validation split does; drop the symbol, start validation later "
                f"(dataset.split.valid_start) or, if dataset.start cut its earlier rows, move it earlier"
            )
        empty = np.flatnonzero(~observed.any(axis=0))
        if empty.size:
            raise DataError(
                f"symbol {symbol}: column {columns[empty[0]]!r} has no values in the train split "
                f"(scalers are fitted on train rows); fill it, leave it out (dataset.exclude_columns: "
                f"[{columns[empty[0]]}]) or drop the symbol"
            )
        with np.errstate(over="ignore", invalid="ignore"):
            means[s] = np.nanmean(train, axis=0)
            std = np.nanstd(train, axis=0)
        _check_scalable(symbol, columns, train, means[s], std)
        stds[s] = np.where(_spread(std, means[s]), std, 1.0)
    return means, stds


def typical_magnitude(values: np.ndarray) -> np.ndarray:
    """(n, R) float64 values in their own units, NaN = missing → (R,) median of |x| over each column's
    observed nonzero values; NaN for a column with none.

    Zeros are left out so that quiet hours (a volume of 0) do not drag a short window's size to 0: the
    statistic says which power of ten a column lives at, which a unit change moves and a move barely does.
    """
    size = np.abs(np.asarray(values, dtype=np.float64))
    size = np.where(size > 0, size, np.nan)  # NaN stays NaN: not observed
    out = np.full(size.shape[1], np.nan)
    for j in range(size.shape[1]):
        column = size[:, j]
        column = column[~np.isnan(column)]
        if column.size:
            out[j] = float(np.median(column))
    return out


def fit_magnitudes(raw: np.ndarray, row_symbol: np.ndarray, codes: np.ndarray, n_symbols: int) -> np.ndarray:
    """(rows, R) float64 grid values before any transform → (S, R) `typical_magnitude` of each symbol's
    train rows (NaN where a column has no nonzero train value), the size `predict` checks units against."""
    return np.stack([typical_magnitude(raw[(row_symbol == s) & (codes == TRAIN)]) for s in range(n_symbols)])


FLOAT32_MAX: Final = float(np.finfo(np.float32).max)


SPREAD_RTOL: Final = 1e-12
"""A train std at most this share of the mean's size is rounding, not spread: a column of 1.0 with one
1.0000000000000002 had std 2e-17, and its valid values 0.1 % away scaled to 4.6e13."""


def _spread(std: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Where a column's train values really vary: std above `SPREAD_RTOL` × |mean| (and above 0)."""
    with np.errstate(invalid="ignore"):
        return (std > 0) & (std > SPREAD_RTOL * np.abs(mean))


def check_constant_in_train(
    inputs: np.ndarray,
    row_symbol: np.ndarray,
    codes: np.ndarray,
    symbols: tuple[str, ...],
    columns: tuple[str, ...],
) -> None:
    """DataError (one line) for a column constant over a symbol's train rows that takes other values
    later: its scale (std 0, replaced by 1) would leave the valid and test inputs thousands of units off,
    where the model never saw anything but 0, and `predict` refuses such rows. A column constant
    everywhere stays (it scales to 0). `inputs` (rows, R), NaN = missing."""
    for s, symbol in enumerate(symbols):
        mine = row_symbol == s
        train, later = inputs[mine & (codes == TRAIN)], inputs[mine & (codes != TRAIN)]
        with np.errstate(invalid="ignore"):
            constant = np.flatnonzero(~_spread(np.nanstd(train, axis=0), np.nanmean(train, axis=0)))
        for j in constant:
            value = train[~np.isnan(train[:, j]), j][0]
            other = later[:, j][
                ~np.isnan(later[:, j]) & ~np.isclose(later[:, j], value, rtol=SPREAD_RTOL, atol=0)
            ]
            if other.size:
                raise DataError(
                    f"symbol {symbol}: column {columns[j]!r} is constant ({value:g}) in the train split but "
                    f"takes other values later (e.g. {other[0]:g}): it cannot be scaled on train rows; leave "
                    f"it out (dataset.exclude_columns: [{columns[j]}]) or move the split"
                )


def check_finite_features(
    features: np.ndarray, inputs: np.ndarray, times: np.ndarray, symbol: str, columns: tuple[str, ...]
) -> None:
    """DataError (one line) naming the first scaled input that is not finite: a valid or test value so
    far from the train rows that (value − mean) / std overflows float32 (1e38 beside train values near 1),
    or a transform that overflowed (a change over a previous value of 1e-300). `features` (n, F) with the
    R `columns` first, `inputs` (n, R) before scaling, `times` (n,) ns."""
    bad = np.argwhere(~np.isfinite(features[:, : len(columns)]))
    if bad.size:
        i, j = bad[0]
        value = inputs[i, j]
        raise DataError(
            f"symbol {symbol}: column {columns[j]!r} at {pd.Timestamp(int(times[i]))} holds {value:g}, which "
            f"is {'not finite' if not np.isfinite(value) else 'too far from the train rows to scale'} (train-split "
            f"scaling overflows float32); fix the value or its unit, or leave the column out"
        )


def _check_scalable(
    symbol: str, columns: tuple[str, ...], train: np.ndarray, mean: np.ndarray, std: np.ndarray
) -> None:
    """DataError naming the column whose train values are too large to scale or to store as float32
    (a column in the wrong unit): its mean or std would be inf and every scaled value 0 or NaN, a dead
    feature without a word."""
    with np.errstate(invalid="ignore"):
        peak = np.nanmax(np.abs(train), axis=0)
    bad = np.flatnonzero(~(np.isfinite(mean) & np.isfinite(std) & (peak <= FLOAT32_MAX)))
    if bad.size:
        j = int(bad[0])
        raise DataError(
            f"symbol {symbol}: column {columns[j]!r} holds values up to {peak[j]:.3g} in the train split, too "
            f"large to scale (or store as float32); check the column's unit, or leave it out "
            f"(dataset.exclude_columns: [{columns[j]}])"
        )


def window_ends(
    row_symbol: np.ndarray, codes: np.ndarray, lookback: int, horizon: int
) -> dict[str, np.ndarray]:
    """Per split, the rows `e` whose window e−L+1 … e+H lies inside one (symbol, split) run of rows."""
    n = len(codes)
    key = row_symbol.astype(np.int64) * 4 + (codes.astype(np.int64) + 1)
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    stops = np.r_[starts[1:], n]
    run = np.repeat(np.arange(len(starts)), stops - starts)
    rows = np.arange(n)
    fits = (rows - starts[run] >= lookback - 1) & (stops[run] - rows - 1 >= horizon)
    return {name: np.flatnonzero(fits & (codes == code)) for code, name in enumerate(SPLITS)}


def target_moves(targets: np.ndarray, ends: np.ndarray, horizon: int) -> np.ndarray:
    """(n, H, T) float32: scaled target at e+h minus at e (h = 1..H); MASK_VALUE where either is missing.

    `targets` (rows, T) float64 with NaN where missing, `ends` (n,) rows. The same arithmetic as the labels
    and moves a bundle derives per batch (`targets.moves_from_levels`).
    """
    steps = np.arange(horizon + 1)
    return moves_from_levels(targets[np.asarray(ends)[:, None] + steps[None, :]])  # (n, H, T)


def first_differences(moves: np.ndarray) -> np.ndarray:
    """Step-to-step changes (GRU-ow's targets) from moves relative to the last observed value; masks kept."""
    previous = np.concatenate([np.zeros_like(moves[:, :1]), moves[:, :-1]], axis=1)
    diffs = moves - previous
    return mask_missing(diffs, missing=(moves == MASK_VALUE) | (previous == MASK_VALUE))


def fit_thresholds(train_moves: np.ndarray, labels: LabelSpec) -> np.ndarray:
    """(H, T, 2) float32 flat band per step and target: train tertiles of the moves, or ±dead_band."""
    horizon, n_targets = train_moves.shape[1:]
    if labels.method == "dead_band":
        band = np.array([-labels.dead_band, labels.dead_band], dtype=np.float32)
        return np.broadcast_to(band, (horizon, n_targets, 2)).copy()
    values = np.where(train_moves == MASK_VALUE, np.nan, train_moves.astype(np.float64))
    tertiles = np.nanquantile(values, [1 / 3, 2 / 3], axis=0)  # (2, H, T)
    return np.moveaxis(tertiles, 0, -1).astype(np.float32)


def index_windows(
    targets: np.ndarray,
    row_symbol: np.ndarray,
    codes: np.ndarray,
    *,
    lookback: int,
    horizon: int,
    labels: LabelSpec,
    features: np.ndarray | None = None,
    feature_columns: Sequence[int | None] | None = None,
    why_short: Callable[[str], str] | None = None,
) -> tuple[dict[str, SplitWindows], np.ndarray]:
    """The windows of every split and the train-fitted thresholds; windows with every label masked are left out.

    `targets` (rows, T) are scaled with NaN where missing. The splits store their window ends only: their
    labels and moves are derived from the targets' levels when read (`targets.WindowTargets`), stored as
    residuals beside `features[:, feature_columns[t]]` where that column holds float32(target t) (no
    transform), else as float64 (`TargetLevels.encode`). A split without windows is an error (DataError,
    one line; `why_short(split)` gives its cause and fix, `short_split_cause`, else a generic one).
    """
    ends = window_ends(row_symbol, codes, lookback, horizon)
    moves: dict[str, np.ndarray] = {}
    for name in SPLITS:
        split_moves = target_moves(targets, ends[name], horizon)
        informative = (split_moves != MASK_VALUE).any(axis=(1, 2))
        ends[name], moves[name] = ends[name][informative], split_moves[informative]
        if not len(ends[name]):
            why = (
                why_short(name)
                if why_short is not None
                else "; use more rows per symbol (max_rows_per_symbol, start/end) or change the split (fractions "
                "or dates; a smaller split.gap, whose embargo rows hold no windows)"
            )
            raise DataError(
                f"dataset.split: the {name} split has no windows of lookback + horizon = {lookback + horizon} "
                f"steps{why}"
            )
    thresholds = fit_thresholds(moves["train"], labels)
    levels = TargetLevels.encode(targets, features, feature_columns)
    derive = WindowTargets(levels=levels, horizon=horizon, thresholds=thresholds)
    windows = {name: SplitWindows(ends=ends[name].astype(np.int32), targets=derive) for name in SPLITS}
    return windows, thresholds


def short_split_cause(
    name: str,
    codes: np.ndarray,
    row_symbol: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    counts: np.ndarray,
    symbols: tuple[str, ...],
    split: SplitSpec,
    need: int,
) -> str:
    """The cause and fix of split `name` having no windows of `need` (lookback + horizon) rows, as the
    rest of `index_windows`' line.

    `codes` (rows,) split codes, `row_symbol` (rows,) symbol index; `first`, `last` (S,) each symbol's
    first and last time (ns), `counts` (S,) its rows. With fractions the split is cut from the time range
    every symbol shares: a symbol whose rows start later or end earlier than the others' (BBBUSDT's 40
    hours beside AAAUSDT's 300) sets that range and is named, with what to do (drop it, lower lookback
    or horizon, give it more rows); the line named no symbol, as if every symbol's rows were too few.
    """
    held = np.bincount(row_symbol[codes == SPLITS.index(name)], minlength=len(symbols))
    most = f"it holds at most {int(held.max())} rows of a symbol"
    if held.max() >= need:  # rows enough, but every window's labels were missing (`index_windows`)
        most += ", and every window of them has its labels missing"
    if split.dates is not None:
        return (
            f" ({most}); move dataset.split.valid_start/test_start, lower lookback or horizon, use more rows "
            f"per symbol (start/end, max_rows_per_symbol) or a smaller split.gap, whose embargo rows hold no windows"
        )
    lo, hi = int(np.max(first)), int(np.min(last))
    # the symbols that start latest or end earliest, when others reach further: they set the shared range
    setters = [
        s
        for s in range(len(symbols))
        if (first[s] == lo and lo > int(np.min(first))) or (last[s] == hi and hi < int(np.max(last)))
    ]
    others = [s for s in range(len(symbols)) if s not in setters]
    if setters and others and hi > lo:
        wider = int(np.min(last[others])) - int(np.max(first[others]))
        if held.max() * wider / (hi - lo) < need:  # without them the split would still be too short
            setters = []
    if not setters or not others:
        return (
            f" ({most}); use more rows per symbol (start/end, max_rows_per_symbol), lower lookback or horizon, "
            f"or change the split (fractions or dates; a smaller split.gap, whose embargo rows hold no windows)"
        )
    shown = setters[:5]
    named = ", ".join(symbols[s] for s in shown) + (", ..." if len(setters) > 5 else "")
    ranges = "; ".join(
        f"{symbols[s]}: {int(counts[s])} rows, {pd.Timestamp(int(first[s]))} to {pd.Timestamp(int(last[s]))}"
        for s in shown
    )
    whose = f"{named}'s short range sets" if len(setters) == 1 else f"the short ranges of {named} set"
    them = "it" if len(setters) == 1 else "them"
    return (
        f" ({most}): the split fractions cut the time range all symbols share ({pd.Timestamp(lo)} to "
        f"{pd.Timestamp(hi)}), which {whose} ({ranges}); drop {named} from dataset.symbols, lower lookback "
        f"or horizon, or give {them} more rows (widen start/end or max_rows_per_symbol)"
    )
