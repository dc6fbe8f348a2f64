"""`build_dataset` on the generated sample database, through a real local Ray."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from seqsweep.cli import main
from seqsweep.constants import MASK_VALUE, SPLITS
from seqsweep.data import DatasetBundle, DatasetSpec, build_dataset
from seqsweep.data.build import build_count
from seqsweep.data.features import featurize_rows
from seqsweep.data.sources import plan_source
from seqsweep.data.spec import LabelSpec, SplitSpec
from seqsweep.data.symbol_rows import load_symbol_rows

pytestmark = pytest.mark.usefixtures("ray_cluster")

SYMBOLS = ("LINKUSDT", "UNIUSDT", "CRVUSDT", "MKRUSDT")


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("datasets")


@pytest.fixture(scope="module")
def bundle(ray_cluster: Any, sample_db_url: str, module_cache: Path) -> DatasetBundle:
    return build_dataset(DatasetSpec(symbols=SYMBOLS), db_url=sample_db_url, cache_dir=module_cache)


def test_shapes_and_dtypes(bundle: DatasetBundle) -> None:
    spec = bundle.spec
    n_rows, n_features = bundle.features.shape
    assert bundle.features.dtype == np.float32
    assert (
        4 * 390 <= n_rows <= 4 * 400
        and bundle.row_time.shape == (n_rows,)
        and bundle.row_symbol.dtype == np.int16
    )
    assert n_features == len(bundle.feature_names) == 10 + 4 + 8  # raw columns, PCA of 4 symbols, calendar
    assert bundle.feature_names[:10] == bundle.preprocessing.raw_columns
    assert bundle.symbols == SYMBOLS and bundle.target_names == ("lending_rate", "borrowing_rate")
    for name in SPLITS:
        windows = bundle.splits[name]
        assert windows.ends.dtype == np.int32 and windows.labels.dtype == np.int8
        assert windows.labels.shape == windows.moves.shape == (len(windows), spec.horizon, 2)
    x, labels, _ = next(bundle.batches("train", 32))
    assert x.shape == (32, spec.lookback, n_features) and labels.shape == (32, spec.horizon, 2)
    assert bundle.shape.n_features == n_features


def test_missing_rows_are_masked_and_nothing_is_nan(bundle: DatasetBundle) -> None:
    assert not np.isnan(bundle.features).any()
    masked_rows = (bundle.features == MASK_VALUE).all(axis=1)
    assert masked_rows.sum() >= 3 * 4  # the sample's 3-hour exchange outage, for each symbol
    for windows in bundle.splits.values():
        assert ((windows.labels == MASK_VALUE) == (windows.moves == MASK_VALUE)).all()
        assert set(np.unique(windows.labels)) <= {0, 1, 2, int(MASK_VALUE)}


def test_train_labels_are_balanced_by_tertiles(bundle: DatasetBundle) -> None:
    labels = bundle.splits["train"].labels
    for h in range(labels.shape[1]):
        for t in range(labels.shape[2]):
            valid = labels[:, h, t][labels[:, h, t] != MASK_VALUE]
            assert np.bincount(valid, minlength=3) / valid.size == pytest.approx([1 / 3] * 3, abs=0.02)


def test_no_window_crosses_a_split_or_a_symbol(bundle: DatasetBundle) -> None:
    spec, (valid_start, test_start) = bundle.spec, bundle.boundaries
    ranges = {
        "train": (-np.inf, valid_start),
        "valid": (valid_start, test_start),
        "test": (test_start, np.inf),
    }
    for name, windows in bundle.splits.items():
        rows = windows.ends[:, None].astype(np.int64) + np.arange(-spec.lookback + 1, spec.horizon + 1)
        times = bundle.row_time[rows]
        low, high = ranges[name]
        assert ((times >= low) & (times < high)).all(), name
        assert (bundle.row_symbol[rows] == bundle.row_symbol[rows[:, :1]]).all(), name
        assert (np.diff(times, axis=1) == 3600 * 10**9).all()  # consecutive grid steps


def test_store_bytes_stay_within_1_2x_of_minimal(bundle: DatasetBundle) -> None:
    assert bundle.nbytes <= 1.2 * bundle.minimal_nbytes


def test_scaler_statistics_come_from_train_only(
    bundle: DatasetBundle, edited_db: Any, module_cache: Path
) -> None:
    valid_start, test_start = (str(pd.Timestamp(b)) for b in bundle.boundaries)
    changed_url = edited_db(
        f"UPDATE crypto_lending_borrowing SET lending_rate = lending_rate * 7 + 1 WHERE date >= '{valid_start}'",
        f"UPDATE crypto_price SET close = close * 3 WHERE date >= '{test_start}'",
    )
    changed = build_dataset(bundle.spec, db_url=changed_url, cache_dir=module_cache)
    assert changed.cache_key != bundle.cache_key  # other rows, other dataset
    prep, other = bundle.preprocessing, changed.preprocessing
    for symbol in SYMBOLS:
        assert np.array_equal(prep.scale_mean[symbol], other.scale_mean[symbol])
        assert np.array_equal(prep.scale_std[symbol], other.scale_std[symbol])
    assert np.array_equal(prep.thresholds, other.thresholds)  # label thresholds: train windows only
    test_rows = bundle.row_time >= bundle.boundaries[1]
    assert not np.array_equal(bundle.features[test_rows], changed.features[test_rows])
    assert np.array_equal(bundle.features[~test_rows][:, 4:], changed.features[~test_rows][:, 4:])


def test_a_second_build_reads_the_cache(
    bundle: DatasetBundle, sample_db_url: str, module_cache: Path
) -> None:
    before = build_count()
    again = build_dataset(DatasetSpec(symbols=SYMBOLS), db_url=sample_db_url, cache_dir=module_cache)
    assert build_count() == before
    assert (module_cache / bundle.cache_key / "manifest.json").is_file()
    assert again.cache_key == bundle.cache_key
    assert np.array_equal(again.features, bundle.features)
    assert np.array_equal(again.row_time, bundle.row_time)
    for name in SPLITS:
        for field in ("ends", "labels", "moves"):
            assert np.array_equal(getattr(again.splits[name], field), getattr(bundle.splits[name], field))
    assert again.preprocessing.extra == bundle.preprocessing.extra
    assert again.summary() == bundle.summary()


def test_new_rows_featurize_exactly_like_the_build(bundle: DatasetBundle, sample_db_url: str) -> None:
    symbol = "UNIUSDT"
    rows = load_symbol_rows(plan_source(bundle.spec, sample_db_url), symbol)  # as stored: hourly yield
    times, features = featurize_rows(rows, symbol, bundle.preprocessing)
    mine = bundle.row_symbol == bundle.symbols.index(symbol)
    assert np.array_equal(times, bundle.row_time[mine])
    assert np.allclose(features, bundle.features[mine], atol=1e-6)


def test_gap_embargo_and_dead_band(sample_db_url: str, cache_dir: Path) -> None:
    spec = DatasetSpec(
        join="prices",
        symbols=("LINKUSDT", "UNIUSDT"),
        lookback=6,
        horizon=2,
        split=SplitSpec(train=0.6, valid=0.2, gap=8),
        labels=LabelSpec(method="dead_band", dead_band=0.05),
    )
    bundle = build_dataset(spec, db_url=sample_db_url, cache_dir=cache_dir)
    summary = bundle.summary()
    assert summary["rows_per_split"]["embargo"] == 2 * 2 * 8
    assert np.array_equal(bundle.preprocessing.thresholds[..., 1], np.full((2, 1), 0.05, np.float32))
    moves, labels = bundle.splits["valid"].moves, bundle.splits["valid"].labels
    assert (labels[(moves > 0.05) & (moves != MASK_VALUE)] == 2).all()
    assert (labels[np.abs(moves) <= 0.05] == 1).all()
    for start in bundle.boundaries:  # no window touches an embargoed row
        embargo = (bundle.row_time >= start) & (bundle.row_time < start + 8 * 3600 * 10**9)
        for windows in bundle.splits.values():
            rows = windows.ends[:, None].astype(np.int64) + np.arange(-5, 3)
            assert not embargo[rows].any()


def test_cli_build_prints_the_summary(
    sample_db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({"name": "demo", "dataset": {"join": "rates", "symbols": ["ENSUSDT"]}}))
    argv = ["data", "build", str(sweep), "--db", sample_db_url, "--cache-dir", str(tmp_path / "c")]
    assert main([*argv, "--lookback", "12", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["symbols"] == ["ENSUSDT"] and summary["lookback"] == 12
    assert summary["bytes"]["ratio"] <= 1.2
    assert set(summary["class_balance"]["train"]) == {"lending_rate", "borrowing_rate"}
    assert main([*argv, "--lookback", "12"]) == 0
    text = capsys.readouterr().out
    assert f"cache key: {summary['cache_key']}" in text and "windows: train" in text


def test_without_a_grid_rows_stay_as_they_come(sample_db_url: str, cache_dir: Path) -> None:
    spec = DatasetSpec(join="prices", symbols=("LINKUSDT",), frequency=None)
    bundle = build_dataset(spec, db_url=sample_db_url, cache_dir=cache_dir)
    assert len(bundle.row_time) == 400 - 3  # the 3 outage hours are absent, not masked
    assert not (bundle.features == MASK_VALUE).all(axis=1).any()
    assert (np.diff(bundle.row_time) > 0).all()


def test_the_build_line_counts_one_symbol_in_the_singular(
    sample_db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """`seqsweep validate gru_ow` printed `built dataset ...: 1 symbols, ...`."""
    spec = DatasetSpec(symbols=("UNIUSDT",), lookback=8, horizon=2, max_rows_per_symbol=200)
    with caplog.at_level("INFO"):
        bundle = build_dataset(spec, db_url=sample_db_url, use_cache=False, in_process=True)
    assert f"built dataset {bundle.cache_key}: 1 symbol, " in caplog.text, caplog.text
