"""Row features: yield conversion, calendar encodings (a leap day), the grid, PCA, masking, embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqsweep.constants import MASK_VALUE
from seqsweep.data.features import (
    CYCLICAL_FEATURES,
    assemble_features,
    cached_embedding_model,
    cyclical_encodings,
    embed_texts,
    fit_pca,
    hourly_yield,
    prepare_rows,
    project,
    symbol_embeddings,
    to_grid,
    yearly_yield,
)
from seqsweep.errors import ConfigError, DataError


def test_yield_conversion_is_the_notebooks_formula() -> None:
    hourly = np.array([0.0, 1.946775635368438e-06, 5e-6])
    assert np.allclose(yearly_yield(hourly), np.exp(hourly * 365 * 24) - 1, rtol=1e-12)
    assert yearly_yield(1.946775635368438e-06) == pytest.approx(0.01720, abs=1e-5)  # first real row: 1.72 %
    assert np.allclose(hourly_yield(yearly_yield(hourly)), hourly)


def _encodings(stamp: str) -> dict[str, float]:
    return dict(zip(CYCLICAL_FEATURES, cyclical_encodings([pd.Timestamp(stamp)])[0], strict=True))


def test_day_of_month_is_leap_year_aware() -> None:
    leap_day = _encodings("2024-02-29 12:00")
    assert leap_day["day_sin"] == pytest.approx(0.0, abs=1e-12)  # 29/29 of the month: a full turn
    assert leap_day["day_cos"] == pytest.approx(1.0)
    feb_28_leap = _encodings("2024-02-28 00:00")
    assert feb_28_leap["day_sin"] == pytest.approx(np.sin(2 * np.pi * 28 / 29))
    feb_28_common = _encodings("2023-02-28 00:00")
    assert feb_28_common["day_cos"] == pytest.approx(1.0)  # 28/28 in a common year
    assert _encodings("2024-03-31 00:00")["day_cos"] == pytest.approx(1.0)


def test_month_hour_and_weekday_encodings() -> None:
    values = _encodings("2024-03-04 06:00")  # a Monday in March, 6 am
    assert values["month_sin"] == pytest.approx(np.sin(2 * np.pi * 3 / 12))
    assert values["hour_sin"] == pytest.approx(1.0)
    assert values["hour_cos"] == pytest.approx(0.0, abs=1e-12)
    assert values["dayofweek_sin"] == pytest.approx(0.0, abs=1e-12)
    assert values["dayofweek_cos"] == pytest.approx(1.0)


def _rows(hours: list[int], values: list[float]) -> pd.DataFrame:
    dates = pd.Timestamp("2024-01-01") + pd.to_timedelta(hours, unit="h")
    return pd.DataFrame({"date": dates, "close": values, "yield": [1e-6] * len(hours)})


def test_the_grid_turns_gaps_into_nan_rows_and_the_yield_into_a_yearly_rate() -> None:
    grid = prepare_rows(_rows([0, 1, 4], [1.0, 2.0, 3.0]), "1h")
    assert list(grid["date"].dt.hour) == [0, 1, 2, 3, 4]
    assert np.isnan(grid["close"].to_numpy()[2:4]).all()
    assert grid["yield"].iloc[0] == pytest.approx(yearly_yield(1e-6))


def test_a_grid_coarser_than_the_data_is_an_error_naming_the_spacing() -> None:
    rows = _rows([0, 1, 2], [1.0, 2.0, 3.0])
    with pytest.raises(ConfigError, match=r"dataset.frequency: 1D is coarser .* ETHUSDT .* 0 days 01:00:00"):
        to_grid(rows, "1D", symbol="ETHUSDT")
    with pytest.raises(ConfigError, match=r"dataset\.frequency: must be a fixed pandas step"):
        to_grid(rows, "1MS")


def test_two_rows_in_one_grid_step_are_refused_not_merged() -> None:
    """An extra row at 02:30 among hourly rows: flooring put it on 02:00 and it replaced that row."""
    rows = _rows([0, 1, 2, 2.5, 3, 4, 5, 6], [1.0, 2.0, 3.0, 999.0, 4.0, 5.0, 6.0, 7.0])
    with pytest.raises(DataError, match=r"ETHUSDT has two rows in the 1h step at 2024-01-01 02:00:00 "
                                        r"\(2024-01-01 02:00:00 and 2024-01-01 02:30:00\)"):  # fmt: skip
        to_grid(rows, "1h", symbol="ETHUSDT")
    shifted = _rows([0.5, 1.5, 2.5], [1.0, 2.0, 3.0])  # one row a step, off the hour: kept at :30
    assert list(to_grid(shifted, "1h")["close"]) == [1.0, 2.0, 3.0]


def test_the_grid_runs_at_the_datas_own_offset() -> None:
    """Hourly candles stamped at :30 were floored to :00 without a word: every time half an hour early,
    and a candle after a `valid_start` of 00:15 counted in train."""
    rows = _rows([0.5, 1.5, 3.5, 4.5], [1.0, 2.0, 3.0, 4.0])
    grid = to_grid(rows, "1h")
    assert list(grid["date"]) == list(pd.Timestamp("2024-01-01 00:30") + pd.to_timedelta(range(5), unit="h"))
    assert np.isnan(grid["close"].iloc[2]) and list(grid["close"].dropna()) == [1.0, 2.0, 3.0, 4.0]
    odd = _rows([0.5, 1.5, 3.25, 4.5], [1.0, 2.0, 3.0, 4.0])  # 03:15 off the others' offset: to 03:30
    assert list(to_grid(odd, "1h").dropna()["date"].dt.hour) == [0, 1, 3, 4]
    assert set(to_grid(odd, "1h")["date"].dt.minute) == {30}
    assert list(to_grid(_rows([0, 1, 2], [1.0, 2.0, 3.0]), "1h")["date"].dt.minute) == [0, 0, 0]


def test_daily_bars_at_local_midnight_across_a_summer_time_change_stay_on_their_day() -> None:
    """Berlin midnights are 22:00 UTC in summer and 23:00 in winter: flooring onto the winter grid moved
    every summer bar 23 hours back onto the previous day (and its calendar features with it)."""
    stamps = [
        "2023-10-26 22:00",
        "2023-10-27 22:00",
        "2023-10-28 22:00",
        "2023-10-29 23:00",
        "2023-10-30 23:00",
    ]
    stamps += ["2023-10-31 23:00", "2023-11-01 23:00"]
    rows = pd.DataFrame({"date": pd.to_datetime(stamps), "close": np.arange(7.0)})
    grid = to_grid(rows, "1D")
    assert list(grid["close"]) == list(np.arange(7.0))  # no gap row, no collision
    assert list(grid["date"].dt.day) == [26, 27, 28, 29, 30, 31, 1]  # each bar on its own UTC day


def test_a_grid_far_finer_than_the_data_is_refused_before_it_is_built() -> None:
    """A 1 ms grid over 300 hourly rows would be 1.08e9 rows (8 GiB a column)."""
    rows = _rows(list(range(300)), [1.0] * 300)
    with pytest.raises(
        ConfigError, match=r"dataset\.frequency: 1ms is far finer than the data of the source"
    ):
        to_grid(rows, "1ms")
    with pytest.raises(
        ConfigError, match=r"5min is finer than the data of the source \(its rows are 0 days 01:00:00 apart\)"
    ):
        to_grid(rows, "5min")  # 11 steps in 12 would be masked rows: the model would learn the mask
    gappy = _rows([*range(100), *range(150, 300)], [1.0] * 250)
    assert len(to_grid(gappy, "1h")) == 300  # the data's own step, with a gap: masked rows, built


def test_pca_projects_unseen_vectors_on_the_fitted_axes() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(6, 20))
    mean, components = fit_pca(vectors, 3)
    assert components.shape == (3, 20)
    assert np.allclose(components @ components.T, np.eye(3))
    reduced = project(vectors, mean, components)
    assert np.allclose(reduced.mean(axis=0), 0.0)
    assert np.all(np.diff(reduced.var(axis=0)) <= 1e-12)  # axes sorted by variance
    with pytest.raises(ConfigError, match="pca_components: must be between 1 and the number of symbols"):
        fit_pca(vectors, 7)


def test_missing_inputs_carry_the_mask_and_empty_rows_are_masked_whole() -> None:
    raw = np.array([[1.0, 10.0], [np.nan, 20.0], [np.nan, np.nan]])
    calendar = cyclical_encodings(pd.date_range("2024-01-01", periods=3, freq="h"))
    out = assemble_features(
        raw, calendar, np.array([0.5], np.float32), np.array([1.0, 10.0]), np.array([2.0, 5.0])
    )
    assert out.dtype == np.float32 and out.shape == (3, 2 + 1 + 8)
    assert out[0, :3].tolist() == [0.0, 0.0, 0.5]
    assert out[1, 0] == MASK_VALUE and out[1, 1] == pytest.approx(2.0)
    assert (out[2] == MASK_VALUE).all()  # an unobserved grid step: Keras Masking skips it


def test_the_real_embedding_model_loads_once_and_tells_symbols_apart() -> None:
    vectors = embed_texts(["ETHUSDT", "LINKUSDT", "ETHUSDT"])
    assert vectors.shape == (3, 384)
    assert np.allclose(vectors[0], vectors[2])
    assert not np.allclose(vectors[0], vectors[1])
    assert np.dot(vectors[0], vectors[1]) / (np.linalg.norm(vectors[0]) * np.linalg.norm(vectors[1])) < 0.99
    reduced, _, _ = symbol_embeddings(("ETHUSDT", "LINKUSDT", "UNIUSDT"), 2)
    assert not np.allclose(reduced["ETHUSDT"], reduced["LINKUSDT"])
    embed_texts(["UNIUSDT"])
    assert cached_embedding_model.cache_info().misses == 1  # one load per process


def test_rows_off_the_grid_are_refused_not_re_timed() -> None:
    """90-minute candles under the default hourly grid: every other candle was moved 30 minutes (01:30 to
    01:00) and the build exited 0, its calendar features, windows and labels at times not the data's."""
    times = pd.date_range("2024-01-01", periods=40, freq="90min")
    rows = pd.DataFrame({"date": times, "close": np.arange(40.0)})
    with pytest.raises(DataError, match=r"20 rows off the 1h grid \(the first at 2024-01-01 01:30:00, "):
        to_grid(rows, "1h", symbol="AAAUSDT")
    assert len(to_grid(rows, "90min")) == 40
    # a daily bar at a summer-time local midnight (an hour off) still goes to its day
    days = pd.DatetimeIndex(["2024-03-29 23:00", "2024-03-30 23:00", "2024-03-31 22:00", "2024-04-01 22:00"])
    daily = to_grid(pd.DataFrame({"date": days, "close": [1.0, 2.0, 3.0, 4.0]}), "1D")
    assert daily["close"].notna().all() and len(daily) == 4


def test_a_negative_yield_stored_as_a_percentage_is_refused() -> None:
    """-0.25 where ln(1 + y) / 8760 belongs read as exp(-0.25 * 8760) - 1 = -100 % a year in every row:
    a constant column that scaled to 0, built without a word (+0.25 was refused)."""
    rows = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=4, freq="1h"), "yield": [-0.25] * 4})
    with pytest.raises(DataError, match=r"column 'yield' holds -0.25 .* its yearly yield is -1, below -50%"):
        prepare_rows(rows, "1h")
    real = rows.assign(**{"yield": hourly_yield(-0.005)})  # a real negative yield, -0.5 % a year
    assert prepare_rows(real, "1h")["yield"].to_numpy() == pytest.approx(-0.005)


def test_a_damaged_embedding_model_folder_is_one_line_naming_the_key(tmp_path: Path) -> None:
    """A local model folder whose `config.json` is no JSON (or whose weights were cut short) ended the
    build as `unexpected error: OSError: It looks like the config file ...`, exit 3."""
    from seqsweep.data.features import load_embedding_model

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "modules.json").write_text(
        '[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}]'
    )
    (folder / "config.json").write_text("{bad json")
    with pytest.raises(
        ConfigError,
        match=r"^dataset.embedding_model: cannot load the sentence-transformers "
        r"model in .*model \(.+\); restore or re-download its files",
    ):
        load_embedding_model(str(folder))
