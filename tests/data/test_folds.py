"""Walk-forward folds (`dataset.split.folds`): geometry, embargo, per-fold statistics, k = 1 unchanged, cache.

Built in this process (`in_process=True`, no Ray) on the generated sample database (2 symbols × 400 h).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqsweep.constants import MASK_VALUE
from seqsweep.data import DatasetBundle, DatasetSpec, build_dataset
from seqsweep.data.spec import SplitSpec
from seqsweep.errors import ConfigError

SYMBOLS = ("LINKUSDT", "UNIUSDT")
LOOKBACK, HORIZON, GAP = 6, 2, 8


def spec(db_url: str, **split: object) -> DatasetSpec:
    return DatasetSpec(
        symbols=SYMBOLS,
        targets=("close", "lending_rate"),
        lookback=LOOKBACK,
        horizon=HORIZON,
        pca_components=2,
        db=db_url,
        split=SplitSpec(**split),  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def fold_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fold_datasets")


@pytest.fixture(scope="module")
def three_folds(sample_db_url: str, fold_cache: Path) -> DatasetBundle:
    return build_dataset(spec(sample_db_url, folds=3, gap=GAP), cache_dir=fold_cache, in_process=True)


def test_one_fold_keeps_todays_cache_key() -> None:
    # the content hashes of these specs before `folds` existed (git HEAD at the time it was added)
    args = {"symbols": SYMBOLS, "targets": ("close",), "lookback": LOOKBACK, "horizon": HORIZON}
    assert DatasetSpec(**args).content_hash() == "c5ba55e9911a39ee"  # type: ignore[arg-type]
    assert DatasetSpec(**args, split=SplitSpec(folds=1)).content_hash() == "c5ba55e9911a39ee"  # type: ignore[arg-type]
    assert DatasetSpec(**args, split=SplitSpec(gap=8)).content_hash() == "5811cc928e0b49cb"  # type: ignore[arg-type]
    assert DatasetSpec(**args, split=SplitSpec(folds=3)).content_hash() != "c5ba55e9911a39ee"  # type: ignore[arg-type]


def test_one_fold_is_todays_dataset_and_the_last_fold_is_it_too(
    sample_db_url: str, tmp_path: Path, three_folds: DatasetBundle
) -> None:
    one = build_dataset(spec(sample_db_url, gap=GAP), cache_dir=tmp_path, in_process=True)
    assert one.folds is None and one.n_folds == 1 and one.fold(0) is one
    assert not list((tmp_path / one.cache_key).glob("fold_*.npy"))  # the cache folder holds what it held
    # the k-fold dataset stores exactly the one-fold arrays (the last fold's scaling) plus the fold arrays
    assert three_folds.cache_key != one.cache_key
    assert np.array_equal(three_folds.features, one.features)
    assert np.array_equal(three_folds.preprocessing.thresholds, one.preprocessing.thresholds)
    for name, windows in one.splits.items():
        other = three_folds.splits[name]
        assert np.array_equal(windows.ends, other.ends)
        assert np.array_equal(windows.labels, other.labels)
        assert np.array_equal(windows.moves, other.moves)


def test_validation_blocks_are_contiguous_and_the_last_is_the_plain_split(three_folds: DatasetBundle) -> None:
    folds = three_folds.folds
    assert folds is not None and three_folds.n_folds == 3
    valid_start, test_start = three_folds.boundaries
    blocks = [tuple(map(int, b)) for b in folds.blocks] + [(valid_start, test_start)]
    lengths = {end - start for start, end in blocks}
    assert len(lengths) == 1  # every block as long as the plain valid split
    assert all(blocks[i][1] == blocks[i + 1][0] for i in range(2))
    assert three_folds.fold(2) is three_folds  # the last fold is the plain split, test block shared
    assert set(three_folds.fold(0).splits) == {"train", "valid"}


def test_no_fold_window_touches_its_own_train_rows_or_the_embargo(three_folds: DatasetBundle) -> None:
    step = pd.Timedelta("1h").value
    for f in range(3):
        view = three_folds.fold(f)
        start, end = view.boundaries
        for split in ("train", "valid"):
            ends = view.splits[split].ends.astype(np.int64)
            assert len(ends) > 0
            first = three_folds.row_time[ends - LOOKBACK + 1]  # first observed row of each window
            last = three_folds.row_time[ends + HORIZON]  # last labelled row
            same_symbol = (
                three_folds.row_symbol[ends - LOOKBACK + 1] == three_folds.row_symbol[ends + HORIZON]
            )
            assert same_symbol.all()
            if split == "train":
                assert last.max() < start  # labels of train windows end before the validation block
            else:
                assert first.min() >= start + GAP * step  # nothing from the train rows or the embargo
                assert last.max() < end
        train_rows = three_folds.row_time[view.splits["train"].ends + HORIZON]
        valid_rows = three_folds.row_time[view.splits["valid"].ends - LOOKBACK + 1]
        assert valid_rows.min() - train_rows.max() > GAP * step


def test_a_fold_scales_and_labels_with_its_own_train_rows(three_folds: DatasetBundle) -> None:
    r = len(three_folds.preprocessing.raw_columns)
    for f in range(3):
        view = three_folds.fold(f)
        start = view.boundaries[0]
        for s in range(len(SYMBOLS)):
            rows = np.flatnonzero((three_folds.row_symbol == s) & (three_folds.row_time < start))
            x = view.scaled_rows(rows)[:, :r].astype(np.float64)
            x[x == MASK_VALUE] = np.nan
            assert np.nanmean(x, axis=0) == pytest.approx(np.zeros(r), abs=1e-4)
            assert np.nanstd(x, axis=0) == pytest.approx(np.ones(r), abs=1e-4)
        labels = view.splits["train"].labels[:, 0, 0]
        shares = np.bincount(labels[labels != MASK_VALUE], minlength=3) / (labels != MASK_VALUE).sum()
        assert shares == pytest.approx([1 / 3] * 3, abs=0.03)  # tertiles of the fold's own train moves
    # embeddings and calendar columns are never rescaled; the raw columns are
    earlier, last = (
        three_folds.fold(0).windows("train", slice(0, 8)),
        three_folds.windows("train", slice(0, 8)),
    )
    assert np.array_equal(earlier[..., r:], last[..., r:])
    assert not np.array_equal(earlier[..., :r], last[..., :r])
    assert ((earlier == MASK_VALUE) == (last == MASK_VALUE)).all()


def test_a_level_shift_after_a_fold_boundary_does_not_move_that_folds_statistics(
    three_folds: DatasetBundle, edited_db: object, tmp_path: Path
) -> None:
    folds = three_folds.folds
    assert folds is not None
    inside = pd.Timestamp(int(folds.blocks[0][0])) + pd.Timedelta("5h")  # in fold 0's validation block
    url = edited_db(  # type: ignore[operator]
        f"UPDATE crypto_price SET close = close * 50 + 1000 WHERE date >= '{inside:%Y-%m-%d %H:%M:%S}'"
    )
    shifted = build_dataset(spec(url, folds=3, gap=GAP), cache_dir=tmp_path / "shifted", in_process=True)
    assert shifted.cache_key != three_folds.cache_key
    close = three_folds.preprocessing.raw_columns.index("close")
    before, after = three_folds.fold(0), shifted.fold(0)
    for symbol in SYMBOLS:
        assert after.preprocessing.scale_mean[symbol] == pytest.approx(
            before.preprocessing.scale_mean[symbol], rel=1e-5
        )
        assert after.preprocessing.scale_std[symbol] == pytest.approx(
            before.preprocessing.scale_std[symbol], rel=1e-5
        )
        # fold 1 trains on fold 0's validation block: its scaler sees the shift, as does the last fold's
        moved = shifted.fold(1).preprocessing.scale_mean[symbol][close]
        assert moved > three_folds.fold(1).preprocessing.scale_mean[symbol][close] + 100
        assert (
            shifted.preprocessing.scale_mean[symbol][close]
            > three_folds.preprocessing.scale_mean[symbol][close] + 100
        )
    assert np.allclose(after.preprocessing.thresholds, before.preprocessing.thresholds, rtol=1e-4, atol=1e-7)
    assert np.array_equal(after.splits["train"].labels, before.splits["train"].labels)


def test_fold_arrays_come_back_from_the_cache(
    three_folds: DatasetBundle, sample_db_url: str, fold_cache: Path
) -> None:
    files = sorted(p.name for p in (fold_cache / three_folds.cache_key).glob("fold_*.npy"))
    assert "fold_scale.npy" in files and "fold_train_ranges.npy" in files
    again = build_dataset(spec(sample_db_url, folds=3, gap=GAP), cache_dir=fold_cache, in_process=True)
    assert again.folds is not None and three_folds.folds is not None
    for field in dataclasses.fields(again.folds):
        assert np.array_equal(getattr(again.folds, field.name), getattr(three_folds.folds, field.name))
    view, cached = three_folds.fold(1), again.fold(1)
    assert np.array_equal(view.windows("valid"), cached.windows("valid"))
    assert np.array_equal(view.splits["valid"].labels, cached.splits["valid"].labels)


def test_fold_bytes_stay_small_beside_the_features(three_folds: DatasetBundle) -> None:
    assert three_folds.folds is not None
    assert three_folds.folds.nbytes < 0.01 * three_folds.features.nbytes  # no per-window arrays


def test_folds_on_a_split_by_dates_end_at_the_valid_date(sample_db_url: str, tmp_path: Path) -> None:
    from seqsweep.commands.run import _dry_run_by_dates

    by_dates = spec(sample_db_url, valid_start="2024-02-12", test_start="2024-02-14", folds=3, gap=GAP)
    bundle = build_dataset(by_dates, cache_dir=tmp_path, in_process=True)
    assert bundle.folds is not None
    day = pd.Timedelta("1D").value
    starts = [int(b[0]) for b in bundle.folds.blocks]
    assert starts == [pd.Timestamp("2024-02-08").value, pd.Timestamp("2024-02-10").value]
    assert bundle.boundaries[0] - starts[-1] == 2 * day
    # `seqsweep validate`'s bounded query by dates keeps room for the earlier folds
    dry = build_dataset(_dry_run_by_dates(by_dates), cache_dir=None, use_cache=False, in_process=True)
    assert dry.n_folds == 3 and all(len(dry.fold(f).splits["valid"]) for f in range(3))


def test_too_many_folds_or_none_is_refused(sample_db_url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"dataset.split.folds: must be >= 1"):
        spec(sample_db_url, folds=0)
    # train 0.7, valid 0.15: five folds leave fold 0 a train period of 0.1 < 0.15
    with pytest.raises(ConfigError, match=r"dataset.split.folds: 5 folds leave fold 0 .* of train"):
        build_dataset(spec(sample_db_url, folds=5), cache_dir=tmp_path, in_process=True)
    # a million folds: their starts overflowed int64 (ns) and passed the check, then exit 3
    with pytest.raises(ConfigError, match=r"dataset.split.folds: 1000000 folds leave fold 0 .* of train"):
        build_dataset(spec(sample_db_url, folds=1_000_000), cache_dir=tmp_path, in_process=True)


def test_a_late_symbol_short_of_fold_zero_train_is_named(tmp_path: Path) -> None:
    """Split by dates, one symbol listed a week after the other: the line gave the late symbol's shortfall
    as if it held for the whole dataset and named neither the symbol nor dropping it."""
    from tiny_prices import price_frame, write_db

    early = price_frame("AAAUSDT", seed=1, hours=400)
    late = price_frame("BBBUSDT", seed=2, start=pd.Timestamp("2024-01-08 05:00"), hours=227)
    url = write_db(tmp_path / "db", [early, late])
    split = SplitSpec(valid_start="2024-01-12", test_start="2024-01-15", folds=2)
    spec = DatasetSpec(join="prices", symbols=("AAAUSDT", "BBBUSDT"), lookback=4, horizon=2, split=split)
    with pytest.raises(
        ConfigError, match=r"counted from BBBUSDT's first row, 2024-01-08 05:00:00.*drop BBBUSDT"
    ):
        build_dataset(spec, db_url=url, cache_dir=tmp_path / "cache", in_process=True)
