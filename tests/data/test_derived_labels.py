"""Labels and moves are derived from the stored target levels, bit for bit what the build used to store.

The reference here is the computation the build stored per window before (issue 15): the targets'
levels on the grid, scaled with their own train statistics, moves `level[e + h] − level[e]` in float64
rounded to float32, classes against the train tertiles. It is written out with plain numpy from the
raw rows the test wrote (`tiny_prices`), so nothing of `seqsweep.data.targets` is trusted. Builds run in
this process (`in_process=True`): no Ray.
"""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tiny_prices import price_frame, write_db

from seqsweep.constants import MASK_VALUE, SPLITS
from seqsweep.data import DatasetBundle, DatasetSpec, build_dataset
from seqsweep.data.bundle import SplitWindows
from seqsweep.data.cache import cache_root
from seqsweep.data.compact import Runs, decode_runs, encode_runs
from seqsweep.data.spec import SplitSpec
from seqsweep.data.targets import TargetLevels
from seqsweep.data.windows import assign_splits

SYMBOLS = ("AAAUSDT", "BBBUSDT", "CCCUSDT")
TARGETS = ("close", "open")
DROPPED = pd.Timestamp("2024-01-03 05:00:00")
"""An hour AAAUSDT lacks: a NaN grid row (both targets masked there), in the train split."""
BLANK = pd.Timestamp("2024-01-06 11:00:00")
"""An hour where BBBUSDT's close is blank (NULL): a masked target with its other columns observed."""
LOOKBACK, HORIZON = 4, 3


def _spec(**changes: Any) -> DatasetSpec:
    base = DatasetSpec(
        join="prices",
        symbols=SYMBOLS,
        targets=TARGETS,
        lookback=LOOKBACK,
        horizon=HORIZON,
        pca_components=1,
        split=SplitSpec(gap=LOOKBACK + HORIZON),  # the embargo's gap rows after each boundary
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    a = price_frame("AAAUSDT", seed=1, hours=480)
    b = price_frame("BBBUSDT", seed=2, hours=480)
    b.loc[b["date"] == BLANK, "close"] = np.nan
    c = price_frame("CCCUSDT", seed=3, start=pd.Timestamp("2024-01-02"), hours=456)  # starts a day late
    return {"AAAUSDT": a[a["date"] != DROPPED].reset_index(drop=True), "BBBUSDT": b, "CCCUSDT": c}


@pytest.fixture(scope="module")
def url(frames: dict[str, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_db(tmp_path_factory.mktemp("derived"), list(frames.values()))


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("derived_cache")


def _build(url: str, cache: Path, **changes: Any) -> DatasetBundle:
    return build_dataset(_spec(**changes), db_url=url, cache_dir=cache, in_process=True)


def _raw_targets(bundle: DatasetBundle, frames: dict[str, pd.DataFrame]) -> np.ndarray:
    """(rows, T) float64 raw target levels of the bundle's rows, looked up in the frames (NaN = missing)."""
    out = np.full((len(bundle.row_time), len(TARGETS)), np.nan)
    for s, symbol in enumerate(bundle.symbols):
        rows = np.flatnonzero(bundle.row_symbol == s)
        frame = frames[symbol].set_index("date")
        at = pd.DatetimeIndex(bundle.row_time[rows].astype("datetime64[ns]"))
        out[rows] = frame.reindex(at)[list(TARGETS)].to_numpy(np.float64)
    return out


def _old_targets(bundle: DatasetBundle, frames: dict[str, pd.DataFrame]) -> np.ndarray:
    """The scaled levels the build stored labels from: (raw − train mean) / train std per symbol."""
    raw = _raw_targets(bundle, frames)
    codes = assign_splits(bundle.row_time, bundle.boundaries, int(bundle.preprocessing.extra["gap_ns"]))
    scaled = np.empty_like(raw)
    for s in range(len(bundle.symbols)):
        mine = bundle.row_symbol == s
        train = raw[mine & (codes == 0)]
        std = np.nanstd(train, axis=0)
        scaled[mine] = (raw[mine] - np.nanmean(train, axis=0)) / np.where(std > 0, std, 1.0)
    return scaled


def _old_moves(targets: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """(n, H, T) float32 as the build stored them: float64 differences, MASK_VALUE where NaN, then float32."""
    steps = np.arange(1, HORIZON + 1)
    moves = targets[ends[:, None] + steps[None, :]] - targets[ends][:, None, :]
    return np.where(np.isnan(moves), MASK_VALUE, moves).astype(np.float32)


def _old_labels(moves: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    labels = np.where(moves < thresholds[..., 0], 0, np.where(moves > thresholds[..., 1], 2, 1)).astype(
        np.int8
    )
    labels[moves == MASK_VALUE] = np.int8(MASK_VALUE)
    return labels


def _old_thresholds(train_moves: np.ndarray) -> np.ndarray:
    values = np.where(train_moves == MASK_VALUE, np.nan, train_moves.astype(np.float64))
    return np.moveaxis(np.nanquantile(values, [1 / 3, 2 / 3], axis=0), 0, -1).astype(np.float32)


def _assert_same(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert actual.dtype == expected.dtype and actual.shape == expected.shape, what
    assert actual.tobytes() == expected.tobytes(), f"{what}: not bit-identical to the stored computation"


def _check_bundle(bundle: DatasetBundle, frames: dict[str, pd.DataFrame]) -> None:
    targets = _old_targets(bundle, frames)
    thresholds = _old_thresholds(_old_moves(targets, bundle.splits["train"].ends))
    _assert_same(bundle.preprocessing.thresholds, thresholds, "thresholds")
    for name in SPLITS:
        windows = bundle.splits[name]
        moves = _old_moves(targets, windows.ends)
        _assert_same(windows.moves, moves, f"{name} moves")
        _assert_same(windows.labels, _old_labels(moves, thresholds), f"{name} labels")
        order = np.random.default_rng(0).permutation(len(windows))
        batched = list(bundle.batches(name, 7, rng=np.random.default_rng(0)))
        _assert_same(np.concatenate([b[1] for b in batched]), windows.labels[order], f"{name} batch labels")
        _assert_same(np.concatenate([b[2] for b in batched]), windows.moves[order], f"{name} batch moves")


def test_the_dataset_exercises_masks_gaps_and_symbols(url: str, cache: Path) -> None:
    bundle = _build(url, cache)
    moves = np.concatenate([bundle.splits[s].moves for s in SPLITS])
    masked = moves == MASK_VALUE
    assert masked[..., 0].any() and masked[..., 1].any() and not masked.all(axis=(1, 2)).any()
    assert (masked[..., 0] != masked[..., 1]).any()  # the blank close: one target masked, the other not
    train_symbols = set(bundle.row_symbol[bundle.splits["train"].ends].tolist())
    assert train_symbols == {0, 1, 2}
    assert bundle.preprocessing.extra["gap_ns"] > 0


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"transform": {"close": "log_return", "open": "diff", "volume": "log1p"}},
        {"transform": {"open": "diff"}},
    ],
    ids=["levels", "transformed", "one-transformed"],
)
def test_labels_and_moves_are_bit_identical_to_the_stored_computation(
    url: str, cache: Path, frames: dict[str, pd.DataFrame], changes: dict[str, Any]
) -> None:
    bundle = _build(url, cache, **changes)
    _check_bundle(bundle, frames)
    again = _build(url, cache, **changes)  # read back from the cache: derived from the cached levels
    assert again is not bundle
    _check_bundle(again, frames)


def test_fold_views_derive_their_own_moves_and_labels(
    url: str, cache: Path, frames: dict[str, pd.DataFrame]
) -> None:
    bundle = _build(url, cache, split=SplitSpec(folds=3, gap=LOOKBACK + HORIZON))
    assert bundle.folds is not None
    targets = _old_targets(bundle, frames)
    for fold in range(bundle.n_folds - 1):
        view = bundle.fold(fold)
        thresholds = bundle.folds.thresholds[fold]
        for name in ("train", "valid"):
            ends = view.splits[name].ends
            ratio = bundle.folds.target_scale[fold][bundle.row_symbol[ends]][:, None, :]
            plain = _old_moves(targets, ends)
            moves = np.where(plain == MASK_VALUE, plain, plain * ratio).astype(np.float32)
            _assert_same(view.splits[name].moves, moves, f"fold {fold} {name} moves")
            _assert_same(
                view.splits[name].labels, _old_labels(moves, thresholds), f"fold {fold} {name} labels"
            )
            _, labels, batch_moves = next(view.batches(name, len(ends)))
            _assert_same(labels, view.splits[name].labels, f"fold {fold} {name} batch labels")
            _assert_same(batch_moves, moves, f"fold {fold} {name} batch moves")


def test_the_pickle_holds_no_labels_and_round_trips(url: str, cache: Path) -> None:
    bundle = _build(url, cache)
    fresh = len(pickle.dumps(bundle, protocol=5))
    labels = {name: bundle.splits[name].labels for name in SPLITS}  # derived and kept in this process
    assert len(pickle.dumps(bundle, protocol=5)) == fresh  # the kept arrays are not pickled
    per_window = sum(w.labels.nbytes + w.moves.nbytes for w in bundle.splits.values())
    stored = dataclasses.replace(  # the old layout: labels and moves stored per window
        bundle, splits={n: SplitWindows(w.ends, w.labels, w.moves) for n, w in bundle.splits.items()}
    )
    levels = bundle.splits["train"].targets
    assert levels is not None
    saved = len(pickle.dumps(stored, protocol=5)) - fresh  # what the old layout pickled more
    assert saved >= per_window - levels.levels.nbytes - 1_000  # the labels, less the levels (1 kB of headers)
    assert bundle.nbytes <= 1.2 * bundle.minimal_nbytes
    back = pickle.loads(pickle.dumps(bundle, protocol=5))
    assert back.row_time.dtype == np.int64 and np.array_equal(back.row_time, bundle.row_time)
    assert back.row_symbol.dtype == np.int16 and np.array_equal(back.row_symbol, bundle.row_symbol)
    for name in SPLITS:
        assert back.splits[name].ends.dtype == np.int32
        assert np.array_equal(back.splits[name].ends, bundle.splits[name].ends)
        _assert_same(back.splits[name].labels, labels[name], f"{name} labels after pickling")
    assert back.splits["train"].labels.flags.writeable is False


def test_an_unpickled_bundle_decodes_its_row_index_on_first_read_only(url: str, cache: Path) -> None:
    bundle = _build(url, cache)
    back = pickle.loads(pickle.dumps(bundle, protocol=5))
    assert "row_time" not in back.__dict__ and "row_symbol" not in back.__dict__  # training never reads them
    next(back.batches("train", 16, np.random.default_rng(0)))
    assert "row_time" not in back.__dict__
    # passed on undecoded, then decoded: the same arrays either way
    again = pickle.loads(pickle.dumps(back, protocol=5))
    for copy in (back, again):
        assert np.array_equal(copy.row_time, bundle.row_time) and copy.row_time.dtype == np.int64
        assert np.array_equal(copy.row_symbol, bundle.row_symbol) and copy.row_symbol.dtype == np.int16
    assert "row_time" in back.__dict__  # decoded once, kept
    assert np.array_equal(pickle.loads(pickle.dumps(back, protocol=5)).row_time, bundle.row_time)
    assert dataclasses.replace(back, cache_key="x").row_symbol is back.row_symbol
    with pytest.raises(AttributeError, match="no attribute 'row_times'"):
        back.row_times  # noqa: B018 - a misspelt name still fails


def test_the_cache_stores_levels_not_labels(url: str, cache: Path) -> None:
    bundle = _build(url, cache)
    files = {p.stem for p in (cache_root(cache) / bundle.cache_key).glob("*.npy")}
    assert {"target_columns", "target_residual", "target_exact", "train_ends"} <= files
    assert not any(name.endswith(("_labels", "_moves")) for name in files)


def test_target_levels_decode_exactly_or_fall_back_to_float64() -> None:
    rng = np.random.default_rng(4)
    levels = np.r_[
        rng.normal(size=500) * 10.0 ** rng.integers(-6, 6, 500), 0.0, 1.0, 2.0 - 1e-12, 0.1, np.nan
    ]
    column = np.where(np.isnan(levels), MASK_VALUE, levels).astype(np.float32)
    transformed = np.r_[MASK_VALUE, np.diff(column)].astype(np.float32)  # not float32(level)
    features = np.stack([column, transformed], axis=1)
    encoded = TargetLevels.encode(np.stack([levels, levels], axis=1), features, [0, 1])
    assert encoded.columns.tolist() == [0, -1]  # the level column is used, the transformed one is not
    assert encoded.residual.dtype == np.int32 and encoded.exact.dtype == np.float64
    rows = np.arange(len(levels))
    decoded = encoded.levels(rows)
    for t in range(2):
        assert np.array_equal(np.isnan(decoded[:, t]), np.isnan(levels))
        observed = ~np.isnan(levels)
        assert decoded[observed, t].tobytes() == levels[observed].tobytes()


@pytest.mark.parametrize(
    ("values", "step"),
    [
        (np.r_[np.arange(10), np.arange(20, 40)].astype(np.int32), 1),
        (np.repeat(np.arange(3), 50).astype(np.int16), 0),
        (np.r_[0, 5, 7, 100].astype(np.int64), 5),
        (np.r_[np.arange(100, 0, -3), np.arange(7, 70, 3), [-5, -5]].astype(np.int64), 3),
        (np.zeros(0, dtype=np.int32), 1),
    ],
)
def test_runs_decode_exactly(values: np.ndarray, step: int) -> None:
    encoded = encode_runs(values, step)
    decoded = decode_runs(encoded)
    assert decoded.dtype == values.dtype and np.array_equal(decoded, values)
    assert isinstance(encoded, Runs) == (encoded.nbytes < values.nbytes)
