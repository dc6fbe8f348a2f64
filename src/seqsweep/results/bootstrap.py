"""Confidence intervals on test score differences: a moving-block bootstrap over test windows.

Neighbouring test windows share most of their rows (a window of `lookback` rows ending at row e and
the next one ending at e + 1 overlap in lookback - 1 rows, and their labels in horizon - 1 steps), so
windows are not independent draws and resampling them one by one would give intervals that are too
narrow. The moving-block bootstrap (Künsch 1989, "The jackknife and the bootstrap for general
stationary observations", Annals of Statistics 17(3), 1217-1241) resamples blocks of consecutive
windows instead: within each symbol, ceil(n_s / b) blocks of b consecutive windows are drawn with
replacement and cut to n_s windows, so a resample keeps every symbol's share of the test split and the
dependence inside each block. Here b is at least lookback + horizon steps (windows further apart share
no row) and at least one day of the grid. Blocks wrap around the end of a symbol's windows (the
circular variant, Politis & Romano 1992, "A circular block-resampling procedure for stationary data"):
Künsch's blocks that may not run past the end draw the first and last b - 1 windows less often than
the middle ones, which on a short test split shifts the resampled scores away from the observed one.

A draw is a vector of window weights (how often each window was drawn). Every score is a function of
confusion counts per (step, target) cell (`seqsweep.metrics.confusion_counts`), and a window adds a
one-hot count to each of its valid cells, so a draw's counts are one weighted sum, a matrix product
over all draws at once. The interval is the percentile interval (Efron & Tibshirani 1993, ch. 13):
the 2.5 % and 97.5 % quantiles of the score difference over the draws.

Beside the baselines, a predictor is compared with `CHANCE`: its own predictions' score had they been
independent of the labels (`metrics.chance_counts`, Cohen's chance agreement), computed from each
draw's own counts. Neither baseline is that bar: under the per-cell macro-F1 a random guess in uniform
shares scores about 1/3 against the train majority's 1/6, and on a mean-reverting series persistence
scores below chance, so a predictor that ignores its input could beat both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from seqsweep import metrics
from seqsweep._text import signed
from seqsweep.constants import MASK_VALUE, N_CLASSES
from seqsweep.data.bundle import DatasetBundle

DRAWS = 1000
"""Resamples per interval; with 1000 the 2.5 % quantile rests on 25 draws."""
SEED = 0
"""Default generator seed: the same inputs give the same interval."""
LEVEL = 0.95
DAY = pd.Timedelta(days=1)
METHOD = (
    "moving-block bootstrap over test windows (Künsch 1989), blocks resampled per symbol; percentile interval"
)
MIN_BLOCKS = 4
ROUGH_BLOCKS = 10
"""Under this many blocks (and at least `MIN_BLOCKS`) an interval is shown but called rough: a
percentile interval from a handful of independent blocks is too narrow (it covers the true difference
less often than its level says; Hall, Horowitz & Jing 1995, "On blocking rules for the bootstrap with
dependent data", Biometrika 82(3)), so a lead just clear of 0 there is weak evidence."""
"""Blocks the test windows must hold (summed over symbols) for an interval to say anything: a symbol
with no more windows than one block is one block in every draw (only rotated), so every draw is the
observed score and the interval shrinks to the point estimate, however few windows there are."""
CHANCE = "chance"
"""The name `compare` gives, in its pairs (name, CHANCE), to a predictor's own score by chance."""
_DRAW_CHUNK = 250
"""Draws per matrix product: bounds the (draws, windows) weight matrix."""


@dataclass(frozen=True)
class Interval:
    """A score difference (a minus b) on the test windows and its bootstrap percentile interval."""

    delta: float
    """The difference on the test windows as they are (not resampled)."""
    low: float
    high: float
    level: float = LEVEL
    blocks: float = field(default=math.inf, compare=False)
    """Blocks of `block` windows the resampled windows hold (`resampled_blocks`); under `MIN_BLOCKS`
    the interval is too narrow to read (`too_short`)."""
    block: int = field(default=0, compare=False)

    @property
    def too_short(self) -> bool:
        """True when the windows hold fewer than `MIN_BLOCKS` blocks: the draws barely differ, so the
        interval says nothing about whether the difference is real."""
        return self.blocks < MIN_BLOCKS

    @property
    def rough(self) -> bool:
        """True when the windows hold enough blocks for an interval but fewer than `ROUGH_BLOCKS`."""
        return not self.too_short and self.blocks < ROUGH_BLOCKS

    @property
    def beats(self) -> bool:
        """True when the whole interval is above 0 (its lower bound > 0) and the windows hold enough
        blocks for an interval (`too_short`)."""
        return self.low > 0 and not self.too_short

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"delta": self.delta, "ci95": [self.low, self.high]}
        if self.too_short:
            out["too_short"] = {"blocks": self.blocks, "block_windows": self.block, "needed": MIN_BLOCKS}
        elif self.rough:
            out["rough"] = {"blocks": self.blocks, "block_windows": self.block, "below": ROUGH_BLOCKS}
        return out


@dataclass(frozen=True)
class BootstrapSettings:
    """How the intervals of one report were drawn."""

    block: int
    """Consecutive windows per block."""
    draws: int = DRAWS
    seed: int = SEED
    level: float = LEVEL

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": METHOD,
            "block_windows": self.block,
            "draws": self.draws,
            "seed": self.seed,
            "level": self.level,
        }


def block_length(lookback: int, horizon: int, step: pd.Timedelta | None) -> int:
    """Windows per block: max(lookback + horizon, one day of grid steps); `step` None counts steps only."""
    per_day = math.ceil(DAY / step) if step is not None and step > pd.Timedelta(0) else 1
    return max(lookback + horizon, per_day, 1)


def grid_step_of(bundle: DatasetBundle, split: str) -> pd.Timedelta | None:
    """The dataset's grid step (`dataset.frequency`), else the median step between a symbol's rows in `split`."""
    from seqsweep.data.features import grid_step

    step = grid_step(bundle.spec.frequency)
    if step is not None:
        return step
    ends = bundle.splits[split].ends.astype(np.int64)
    if len(ends) < 2:
        return None
    same = bundle.row_symbol[ends[1:]] == bundle.row_symbol[ends[:-1]]
    gaps = np.diff(bundle.row_time[ends].astype(np.int64))[same]
    gaps = gaps[gaps > 0]
    return pd.Timedelta(int(np.median(gaps)), unit="ns") if len(gaps) else None


def settings_for(
    bundle: DatasetBundle, split: str, draws: int = DRAWS, seed: int = SEED
) -> BootstrapSettings:
    """The block length this dataset needs (lookback + horizon steps and at least a day) and the draws."""
    block = block_length(bundle.spec.lookback, bundle.spec.horizon, grid_step_of(bundle, split))
    return BootstrapSettings(block=block, draws=draws, seed=seed)


def resampled_blocks(groups: np.ndarray, block: int) -> float:
    """Independent blocks a draw of `block_weights` holds, summed over the groups (symbols): n_s / block
    for a symbol of n_s windows, none for a symbol of at most one block (drawn whole, only rotated)."""
    sizes = np.unique(np.asarray(groups), return_counts=True)[1]
    return float(sum(size / block for size in sizes if size > block))


def block_weights(groups: np.ndarray, block: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """(draws, n) float32: how often each window is drawn by a moving-block bootstrap within its group.

    `groups` (n,) is each window's symbol, windows of one symbol in time order. Per group of n_s
    windows, ceil(n_s / b') blocks of b' = min(block, n_s) consecutive windows (wrapping from the last
    window to the first) start at uniformly drawn windows and are cut to n_s, so every row of the
    result sums to n and every window has the same expected weight, 1. Raises ValueError when `block` < 1.
    """
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    groups = np.asarray(groups)
    weights = np.zeros((draws, len(groups)), dtype=np.float32)
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)  # time order within the symbol
        size = len(members)
        b = min(block, size)
        n_blocks = math.ceil(size / b)
        starts = rng.integers(0, size, size=(draws, n_blocks))
        picked = ((starts[:, :, None] + np.arange(b)[None, None, :]) % size).reshape(draws, -1)[:, :size]
        flat = picked + (np.arange(draws) * size)[:, None]
        counts = np.bincount(flat.ravel(), minlength=draws * size).reshape(draws, size)
        weights[:, members] = counts
    return weights


def window_codes(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """(n, H·T·9) float32 one-hot: window i adds 1 at [cell, true, predicted] for each of its valid cells.

    `labels` (n, H, T) with MASK_VALUE where missing, `predictions` (n, H, T) class ids. The column
    order is that of `seqsweep.metrics.confusion_counts` flattened, so `weights @ codes` reshaped to
    (draws, H, T, 3, 3) is each draw's confusion counts.
    """
    n, horizon, n_targets = labels.shape
    cells = horizon * n_targets
    valid = (labels != MASK_VALUE).reshape(n, cells)
    cell = np.arange(cells)[None, :]
    codes = (cell * N_CLASSES + labels.reshape(n, cells).astype(np.int64)) * N_CLASSES
    codes = codes + predictions.reshape(n, cells).astype(np.int64)
    onehot = np.zeros((n, cells * N_CLASSES * N_CLASSES), dtype=np.float32)
    rows = np.broadcast_to(np.arange(n)[:, None], codes.shape)
    onehot[rows[valid], codes[valid]] = 1.0
    return onehot


def score_draws(
    labels: np.ndarray,
    predictions: np.ndarray,
    weights: np.ndarray,
    chunk: int = _DRAW_CHUNK,
    *,
    chance: bool = False,
) -> np.ndarray:
    """(draws,) float64: the ranking score (`metrics.macro_f1_from_counts`) of each weighted resample;
    with `chance`, the score the resample's predictions would get by chance (`metrics.chance_counts`)."""
    _, horizon, n_targets = labels.shape
    codes = window_codes(labels, predictions)
    out = np.empty(len(weights), dtype=np.float64)
    for start in range(0, len(weights), chunk):
        part = weights[start : start + chunk]
        counts = (part @ codes).reshape(len(part), horizon, n_targets, N_CLASSES, N_CLASSES)
        counts = np.rint(counts)
        out[start : start + chunk] = metrics.macro_f1_from_counts(
            metrics.chance_counts(counts) if chance else counts
        )
    return out


def compare(
    labels: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    pairs: list[tuple[str, str]],
    groups: np.ndarray,
    settings: BootstrapSettings,
    chance: Sequence[str] = (),
) -> dict[tuple[str, str], Interval]:
    """Percentile intervals of score(a) - score(b) for each (a, b) in `pairs`, all on the same draws,
    and, keyed (a, CHANCE) for each a in `chance`, of score(a) minus a's score by chance (the same
    predictions as if independent of the labels, `metrics.chance_counts`, per draw).

    `labels` (n, H, T) masked with MASK_VALUE; `predictions` maps names to (n, H, T) class ids on the
    same windows; `groups` (n,) the symbol of each window (time order within a symbol). The score is
    `seqsweep.metrics.scores(...)["macro_f1"]`, the mean of the per-cell macro-F1. Identical
    predictors give delta 0 and the interval [0, 0]; the same settings give the same intervals.
    Raises KeyError for a name not in `predictions`, ValueError for mismatched shapes.
    """
    for name, values in predictions.items():
        if values.shape != labels.shape:
            raise ValueError(f"predictions {name!r}: shape {values.shape}, labels {labels.shape}")
    if len(groups) != len(labels):
        raise ValueError(f"groups: {len(groups)} entries for {len(labels)} windows")
    rng = np.random.default_rng(settings.seed)
    weights = block_weights(groups, settings.block, settings.draws, rng)
    # (name, False): the predictor's own score; (name, True): the same predictions' score by chance
    keys = {(name, False) for pair in pairs for name in pair}
    keys |= {(name, by_chance) for name in chance for by_chance in (False, True)}
    draws = {
        (name, by_chance): score_draws(labels, predictions[name], weights, chance=by_chance)
        for name, by_chance in sorted(keys)
    }
    point = {
        (name, by_chance): metrics.chance_macro_f1(labels, predictions[name])
        if by_chance
        else metrics.scores(labels, predictions[name])["macro_f1"]
        for name, by_chance in keys
    }
    tail = (1.0 - settings.level) / 2 * 100
    blocks = resampled_blocks(groups, settings.block)
    intervals = {}
    versus = [((a, False), (b, False)) for a, b in pairs] + [((a, False), (a, True)) for a in chance]
    for first, second in versus:
        delta = draws[first] - draws[second]
        low, high = np.percentile(delta, [tail, 100 - tail])
        intervals[(first[0], CHANCE if second[1] else second[0])] = Interval(
            point[first] - point[second], float(low), float(high), settings.level, blocks, settings.block
        )
    return intervals


def window_groups(bundle: DatasetBundle, split: str) -> np.ndarray:
    """(n,) the symbol index of each window of `split` (windows are stored by symbol, then time)."""
    return np.asarray(bundle.row_symbol[bundle.splits[split].ends], dtype=np.int64)


def verdict(interval: Interval, baseline: str, split: str = "test") -> str:
    """One sentence on `interval` (model minus `baseline`): it beats it only when the lower bound is > 0.

    e.g. "beats persistence on test by +0.031 (95 % interval +0.004 to +0.058)"; otherwise it says
    which way the interval points: "does not beat persistence on test (+0.021, interval −0.002 to
    +0.044): a tie within the noise, the interval holds 0" (a positive delta inside the noise is no
    lead), or "does not beat persistence on test (−0.042, interval −0.086 to −0.001): it scores below
    it, the whole interval is under 0". An interval from fewer than `ROUGH_BLOCKS` blocks is called
    rough inside the brackets ("...; a rough interval: its windows hold 6.0 blocks of 24 windows, under
    10").
    """
    level = f"{interval.level * 100:g} %"
    if interval.too_short:
        return (
            f"is not shown to beat {baseline} on {split} ({signed(interval.delta)}; too short for an "
            f"interval: its windows hold {interval.blocks:.1f} blocks of {interval.block} windows, an "
            f"interval needs {MIN_BLOCKS}; lengthen the {split} split)"
        )
    rough = (
        f"; a rough interval: its windows hold {interval.blocks:.1f} blocks of {interval.block} windows, "
        f"under {ROUGH_BLOCKS}"
        if interval.rough
        else ""
    )
    if interval.beats:
        return (
            f"beats {baseline} on {split} by {signed(interval.delta)} "
            f"({level} interval {signed(interval.low)} to {signed(interval.high)}{rough})"
        )
    reading = TIE if interval.high >= 0 else BELOW
    return (
        f"does not beat {baseline} on {split} ({signed(interval.delta)}, "
        f"interval {signed(interval.low)} to {signed(interval.high)}{rough}): {reading}"
    )


TIE = "a tie within the noise, the interval holds 0"
"""How `verdict` reads an interval that holds 0: no difference shown either way, whatever the delta."""
BELOW = "it scores below it, the whole interval is under 0"
"""How `verdict` reads an interval wholly below 0: the winner is worse than the baseline."""


def constant_clause(interval: Interval, baseline: str) -> str:
    """`baseline`, a constant prediction (the train split's majority class), named with `interval` for a
    winner that does not beat it: "majority, a constant guess that ignores the input (+0.000, interval
    −0.012 to +0.011)"."""
    return (
        f"{baseline}, a constant guess that ignores the input ({signed(interval.delta)}, "
        f"interval {signed(interval.low)} to {signed(interval.high)})"
    )


def chance_clause(interval: Interval) -> str:
    """`CHANCE` named with `interval` (a predictor minus its own score by chance), for a winner that does
    not beat it: "chance, a random guess in its own class shares that ignores the input (+0.001,
    interval −0.006 to +0.008)"."""
    return (
        f"{CHANCE}, a random guess in its own class shares that ignores the input "
        f"({signed(interval.delta)}, interval {signed(interval.low)} to {signed(interval.high)})"
    )
