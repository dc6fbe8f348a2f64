"""`dataset.transform`: stationary inputs per symbol before scaling, labels from the levels, predict alike.

Every build here reads a tiny SQLite file the test writes (`tiny_prices`) in this process
(`in_process=True`): no Ray.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tiny_prices import INPUTS, price_frame, write_db

from seqsweep.constants import MASK_VALUE, SPLITS
from seqsweep.data import DatasetBundle, DatasetSpec, build_dataset
from seqsweep.data.features import apply_transform
from seqsweep.errors import ConfigError, DataError
from tests.crafted_bundle import crafted_bundle

SYMBOLS = ("AAAUSDT", "BBBUSDT")
TRANSFORMS = {"close": "log_return", "volume": "log1p", "open": "diff", "high": "pct_change"}
GAP = pd.Timestamp("2024-01-03 05:00:00")
"""An hour AAAUSDT lacks (in the train split): the row after it has no previous value either."""


def _spec(**changes: Any) -> DatasetSpec:
    base = DatasetSpec(
        join="prices",
        symbols=SYMBOLS,
        targets=("close",),
        lookback=4,
        horizon=2,
        pca_components=1,
        transform=dict(TRANSFORMS),
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    a = price_frame("AAAUSDT", seed=1)
    return {"AAAUSDT": a[a["date"] != GAP].reset_index(drop=True), "BBBUSDT": price_frame("BBBUSDT", seed=2)}


@pytest.fixture(scope="module")
def url(frames: dict[str, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_db(tmp_path_factory.mktemp("transforms"), list(frames.values()))


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("transform_cache")


@pytest.fixture(scope="module")
def built(url: str, cache: Path) -> DatasetBundle:
    return build_dataset(_spec(), db_url=url, cache_dir=cache, in_process=True)


@pytest.fixture(scope="module")
def levels(url: str, cache: Path) -> DatasetBundle:
    return build_dataset(_spec(transform={}), db_url=url, cache_dir=cache, in_process=True)


def _expected(values: np.ndarray, name: str) -> np.ndarray:
    """The transform computed with plain numpy on the grid values (NaN where the hour is missing)."""
    previous = np.r_[np.nan, values[:-1]]
    if name == "log_return":
        return np.log(values / previous)
    if name == "diff":
        return values - previous
    if name == "pct_change":
        return values / previous - 1
    return np.log1p(values)


def test_transforms_are_applied_per_symbol_and_scaled_on_train(
    built: DatasetBundle, frames: dict[str, pd.DataFrame]
) -> None:
    train_end = built.boundaries[0]
    for s, symbol in enumerate(SYMBOLS):
        rows = np.flatnonzero(built.row_symbol == s)
        times = built.row_time[rows]
        grid = frames[symbol].set_index("date").reindex(pd.to_datetime(times))  # the raw rows, on the grid
        train = times < train_end
        for column, name in TRANSFORMS.items():
            expected = _expected(grid[column].to_numpy(np.float64), name)
            mean, std = np.nanmean(expected[train]), np.nanstd(expected[train])
            scaled = np.where(np.isnan(expected), MASK_VALUE, (expected - mean) / std)
            got = built.features[rows, INPUTS.index(column)]
            np.testing.assert_allclose(got, scaled, rtol=1e-5, atol=1e-5, err_msg=f"{symbol} {column}")
        # the first row of each symbol has no previous value: masked for the differencing transforms only
        first = built.features[rows[0]]
        for column, name in TRANSFORMS.items():
            assert (first[INPUTS.index(column)] == MASK_VALUE) == (name != "log1p"), (symbol, column)
        assert first[INPUTS.index("low")] != MASK_VALUE  # a level column keeps its first row
    # BBBUSDT's first row is not differenced against AAAUSDT's last one (it would be a finite number)
    b_first = np.flatnonzero(built.row_symbol == 1)[0]
    assert built.features[b_first, INPUTS.index("close")] == MASK_VALUE
    assert built.preprocessing.extra["transforms"] == TRANSFORMS


def test_a_missing_hour_masks_its_row_and_the_next_rows_differences(built: DatasetBundle) -> None:
    rows = np.flatnonzero(built.row_symbol == 0)
    at = rows[np.flatnonzero(built.row_time[rows] == GAP.value)[0]]
    assert (built.features[at] == MASK_VALUE).all()  # the missing hour: the whole row
    after = built.features[at + 1]
    assert after[INPUTS.index("close")] == MASK_VALUE and after[INPUTS.index("open")] == MASK_VALUE
    assert after[INPUTS.index("volume")] != MASK_VALUE and after[INPUTS.index("low")] != MASK_VALUE


def test_labels_and_moves_come_from_the_levels(built: DatasetBundle, levels: DatasetBundle) -> None:
    assert built.cache_key != levels.cache_key  # the transform is part of the key
    np.testing.assert_array_equal(built.preprocessing.thresholds, levels.preprocessing.thresholds)
    for name in SPLITS:
        np.testing.assert_array_equal(built.splits[name].ends, levels.splits[name].ends)
        np.testing.assert_array_equal(built.splits[name].labels, levels.splits[name].labels)
        np.testing.assert_array_equal(built.splits[name].moves, levels.splits[name].moves)
    # the inputs do differ where transformed, and agree where not
    low = INPUTS.index("low")
    np.testing.assert_array_equal(built.features[:, low], levels.features[:, low])
    assert not np.allclose(
        built.features[:, INPUTS.index("close")], levels.features[:, INPUTS.index("close")]
    )


def test_level_transform_changes_nothing(url: str, cache: Path, levels: DatasetBundle) -> None:
    same = build_dataset(_spec(transform={"close": "level"}), db_url=url, cache_dir=cache, in_process=True)
    assert same.cache_key == levels.cache_key
    np.testing.assert_array_equal(same.features, levels.features)


def test_unknown_transform_or_column_is_one_config_line(url: str, cache: Path) -> None:
    with pytest.raises(ConfigError, match=r"dataset\.transform\.close: unknown transform 'logret' \(valid: level, "
                       r"diff, log_return, pct_change, log1p\)"):  # fmt: skip
        DatasetSpec.from_dict({"join": "prices", "transform": {"close": "logret"}})
    with pytest.raises(ConfigError, match=r"'closing' is not an input column of the prices join \(columns: open, "
                       r"high, low, close, volume, yield; transforms: level, diff") as info:  # fmt: skip
        build_dataset(_spec(transform={"closing": "diff"}), db_url=url, cache_dir=cache, in_process=True)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("column", "value", "transform", "match"),
    [
        ("close", 0.0, "log_return", r"log_return of column 'close' needs values > 0, but symbol BBBUSDT has 0 at"),
        ("close", -2.5, "log_return", r"log_return of column 'close' needs values > 0, but symbol BBBUSDT has -2.5"),
        ("volume", -1.0, "log1p", r"log1p of column 'volume' needs values >= 0, but symbol BBBUSDT has -1 at"),
        ("high", 0.0, "pct_change", r"pct_change of column 'high' needs a previous value that is not 0, but "
         r"symbol BBBUSDT has 0 at 2024-01-02 03:00:00"),
    ],
)  # fmt: skip
def test_a_value_outside_a_transforms_domain_is_one_data_line(
    tmp_path: Path, column: str, value: float, transform: str, match: str
) -> None:
    b = price_frame("BBBUSDT", seed=2)
    b.loc[b["date"] == pd.Timestamp("2024-01-02 03:00:00"), column] = value
    bad_url = write_db(tmp_path, [price_frame("AAAUSDT", seed=1), b])
    spec = _spec(transform={column: transform})
    with pytest.raises(DataError, match=match) as info:
        build_dataset(spec, db_url=bad_url, cache_dir=tmp_path / "cache", in_process=True)
    assert "\n" not in str(info.value) and "dataset.transform" in str(info.value)


def test_apply_transform_matches_numpy_and_masks_the_first_row() -> None:
    x = np.array([2.0, 4.0, np.nan, 8.0, 16.0])
    np.testing.assert_allclose(apply_transform(x, "diff"), [np.nan, 2.0, np.nan, np.nan, 8.0])
    np.testing.assert_allclose(
        apply_transform(x, "log_return"), [np.nan, np.log(2), np.nan, np.nan, np.log(2)]
    )
    np.testing.assert_allclose(apply_transform(x, "pct_change"), [np.nan, 1.0, np.nan, np.nan, 1.0])
    np.testing.assert_allclose(apply_transform(x, "log1p"), np.log1p(x))
    np.testing.assert_array_equal(apply_transform(x, "level"), x)


def test_predict_applies_the_bundles_transforms(
    built: DatasetBundle, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seqsweep.results.model_bundle import ModelBundle, load_bundle
    from seqsweep.results.predict import predict_from_db

    seen: list[np.ndarray] = []

    def recorder(self: ModelBundle, x: np.ndarray) -> np.ndarray:
        seen.append(np.asarray(x))
        return np.full((len(x), self.horizon, len(self.target_names), 3), 1 / 3)

    monkeypatch.setattr(ModelBundle, "predict_proba", recorder)
    bundle = load_bundle(crafted_bundle(built, tmp_path / "bundle"))
    assert bundle.preprocessing.extra["transforms"] == TRANSFORMS
    assert bundle.dataset.transform == TRANSFORMS
    lookback = built.spec.lookback
    for split in ("train", "test"):
        end = int(built.splits[split].ends[-1])  # the last window of the split (AAAUSDT or BBBUSDT)
        symbol = built.symbols[int(built.row_symbol[end])]
        at = str(pd.Timestamp(int(built.row_time[end])))
        predict_from_db(bundle, url, [symbol], at=at)
        window = seen[-1][0]
        np.testing.assert_array_equal(window, built.features[end - lookback + 1 : end + 1])
        assert (
            window[:, INPUTS.index("close")] != MASK_VALUE
        ).all()  # the window's first row has its previous


def test_a_cached_dataset_keeps_its_transforms(built: DatasetBundle, url: str, cache: Path) -> None:
    from seqsweep.data.build import build_count

    before = build_count()
    again = build_dataset(_spec(), db_url=url, cache_dir=cache, in_process=True)
    assert build_count() == before and again.cache_key == built.cache_key  # read from the cache
    assert again.preprocessing.extra["transforms"] == TRANSFORMS
    np.testing.assert_array_equal(again.features, built.features)


def test_an_unseen_symbol_is_transformed_before_its_own_scaling(
    url: str, cache: Path, frames: dict[str, pd.DataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seqsweep.results.model_bundle import ModelBundle, load_bundle
    from seqsweep.results.predict import predict_from_db

    seen: list[np.ndarray] = []

    def recorder(self: ModelBundle, x: np.ndarray) -> np.ndarray:
        seen.append(np.asarray(x))
        return np.full((len(x), self.horizon, len(self.target_names), 3), 1 / 3)

    monkeypatch.setattr(ModelBundle, "predict_proba", recorder)
    only_a = build_dataset(_spec(symbols=("AAAUSDT",)), db_url=url, cache_dir=cache, in_process=True)
    bundle = load_bundle(crafted_bundle(only_a, tmp_path / "bundle"))
    at = pd.Timestamp("2024-01-08 12:00:00")
    prediction = predict_from_db(bundle, url, ["BBBUSDT"], at=str(at))
    assert not prediction.symbols[0].seen
    history = frames["BBBUSDT"].set_index("date").loc[:at, "close"].to_numpy()
    returns = np.log(history[1:] / history[:-1])  # the first row has none: left out of the statistics
    expected = (returns[-only_a.spec.lookback :] - returns.mean()) / returns.std()
    np.testing.assert_allclose(seen[-1][0][:, INPUTS.index("close")], expected, rtol=1e-5)


def test_persistence_reads_the_target_level_not_its_transformed_input(
    built: DatasetBundle, levels: DatasetBundle
) -> None:
    """With `close: log_return`, persistence still repeats the last level move of close: it agrees with
    the level build wherever the previous window is in the split (all but each symbol's first window)."""
    from seqsweep.baselines import persistence_moves, persistence_predictions

    for name in SPLITS:
        moves, observed = persistence_moves(built, name)
        level_moves, level_observed = persistence_moves(levels, name)
        both = observed[:, 0] & level_observed[:, 0]
        assert (
            both.sum() >= len(built.splits[name]) - 2 * len(SYMBOLS) - 2
        )  # gaps and each run's first window
        np.testing.assert_allclose(moves[both], level_moves[both], rtol=1e-5, atol=1e-6)
        agree = persistence_predictions(built, name)[both] == persistence_predictions(levels, name)[both]
        assert agree.all()
