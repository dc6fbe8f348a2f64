"""Integration on the real public data in ../shared/data: SQLite and MariaDB, all three joins, GRU-ow candles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from seqsweep.cli import main
from seqsweep.constants import MASK_VALUE, NOTEBOOK_SYMBOLS, SPLITS
from seqsweep.data import DatasetBundle, DatasetSpec, build_dataset
from seqsweep.data.build import build_count
from seqsweep.data.load_csv import load_csv
from seqsweep.data.profiles import PROFILES
from seqsweep.errors import DataError

pytestmark = [pytest.mark.realdata, pytest.mark.usefixtures("ray_cluster")]

ETH_NOTEBOOK = DatasetSpec(symbols=("ETHUSDT",))
"""The notebook's join on the real tables: ETHUSDT is the only symbol with both rates and prices."""


def assert_identical(a: DatasetBundle, b: DatasetBundle) -> None:
    for name in ("features", "row_time", "row_symbol"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    for split in SPLITS:
        for name in ("ends", "labels", "moves"):
            assert np.array_equal(getattr(a.splits[split], name), getattr(b.splits[split], name)), (
                split,
                name,
            )
    assert np.array_equal(a.preprocessing.thresholds, b.preprocessing.thresholds)
    assert a.feature_names == b.feature_names and a.boundaries == b.boundaries


@pytest.fixture(scope="module")
def eth_from_sqlite(real_sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> DatasetBundle:
    return build_dataset(
        ETH_NOTEBOOK, db_url=real_sqlite_url, cache_dir=tmp_path_factory.mktemp("sqlite_cache")
    )


def test_the_notebook_join_keeps_eth_only(eth_from_sqlite: DatasetBundle, real_sqlite_url: str) -> None:
    bundle = eth_from_sqlite
    assert bundle.symbols == ("ETHUSDT",)
    assert bundle.features.shape == (24001, 10 + 1 + 8)  # hourly grid 2021-04-04 20:00 → 2023-12-30 20:00
    assert (
        int((bundle.features == MASK_VALUE).all(axis=1).sum()) == 24001 - 23989
    )  # Binance maintenance hours
    assert bundle.nbytes <= 1.2 * bundle.minimal_nbytes
    with pytest.raises(
        DataError,
        match=r"unknown symbols '1INCHUSDT', .*it holds: 'DAIUSDT', 'ETHUSDT', 'USDCUSDT', 'USDTUSDT'",
    ):
        build_dataset(DatasetSpec(), db_url=real_sqlite_url, use_cache=False)


@pytest.fixture(scope="module")
def mariadb_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mariadb_cache")


@pytest.mark.mysql
def test_sqlite_and_mariadb_give_identical_bundles(
    eth_from_sqlite: DatasetBundle, real_mariadb_url: str, mariadb_cache: Path
) -> None:
    before = build_count()
    from_mariadb = build_dataset(ETH_NOTEBOOK, db_url=real_mariadb_url, cache_dir=mariadb_cache)
    assert build_count() == before + 1  # really built from MariaDB, not read from a cache
    assert_identical(eth_from_sqlite, from_mariadb)


@pytest.mark.mysql
def test_the_notebook_join_on_mariadb_reads_the_prices_through_their_index(real_mariadb_url: str) -> None:
    """The exact symbol comparison (the column cast to bytes) cannot use an index, and MariaDB has no hash
    join: the prices were scanned whole once per block of rates (90 s for ETHUSDT, 0.3 s by the index)."""
    import dataclasses

    import sqlalchemy as sa

    from seqsweep.data.sources import plan_source

    plan = plan_source(ETH_NOTEBOOK, real_mariadb_url)
    assert plan.sql is not None
    explain = dataclasses.replace(plan, sql="EXPLAIN " + plan.sql)
    engine = sa.create_engine(real_mariadb_url)
    try:
        with engine.connect() as conn:
            rows = [dict(row._mapping) for row in conn.execute(explain.statement(), plan.params("ETHUSDT"))]
    finally:
        engine.dispose()
    access = {row["table"]: (row["type"], row["key"]) for row in rows}
    # the prices by their (symbol, date) index, not one whole scan per block of rates
    assert access["p"][0] != "ALL" and "symbol" in str(access["p"][1]), rows


@pytest.mark.mysql
def test_cli_build_on_mariadb_prints_the_summary(
    real_mariadb_url: str, mariadb_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "data",
        "build",
        "--db",
        real_mariadb_url,
        "--symbols",
        "ETHUSDT",
        "--cache-dir",
        str(mariadb_cache),
    ]
    assert main([*argv, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["symbols"] == ["ETHUSDT"] and summary["windows_per_split"]["train"] > 16000
    assert summary["bytes"]["ratio"] <= 1.2


def test_prices_only_for_the_16_notebook_tokens(real_sqlite_url: str, tmp_path: Path) -> None:
    spec = DatasetSpec(join="prices", max_rows_per_symbol=1500)
    bundle = build_dataset(spec, db_url=real_sqlite_url, cache_dir=tmp_path)
    assert bundle.symbols == NOTEBOOK_SYMBOLS
    assert bundle.preprocessing.raw_columns == ("open", "high", "low", "close", "volume", "yield")
    assert bundle.features.shape[1] == 6 + 15 + 8
    assert all(len(bundle.splits[s]) > 0 for s in SPLITS)
    labels = bundle.splits["train"].labels[:, 0, 0]
    assert np.bincount(labels[labels != MASK_VALUE]) / (labels != MASK_VALUE).sum() == pytest.approx(
        [1 / 3] * 3, abs=0.02
    )
    assert bundle.nbytes <= 1.2 * bundle.minimal_nbytes


def test_rates_only_for_the_four_real_aave_reserves(real_sqlite_url: str, tmp_path: Path) -> None:
    spec = DatasetSpec(
        join="rates", symbols=("DAIUSDT", "USDCUSDT", "USDTUSDT", "ETHUSDT"), max_rows_per_symbol=4000
    )
    bundle = build_dataset(spec, db_url=real_sqlite_url, cache_dir=tmp_path)
    assert bundle.preprocessing.raw_columns == (
        "lending_rate", "borrowing_rate", "utilization_rate", "stable_borrow_rate", "yield",
    )  # fmt: skip
    yearly = bundle.preprocessing.scale_mean["DAIUSDT"][-1]
    assert 0.005 < yearly < 0.06  # the 10-year Treasury yield as a yearly rate, not the stored hourly one
    assert all(len(bundle.splits[s]) > 0 for s in SPLITS)


def test_the_gruow_profile_reads_the_candles_from_csv_or_table(shared_data: Path, tmp_path: Path) -> None:
    csv = shared_data / "eth_usdt_5min_gruow" / "ETH-USDT1min.csv.gz"
    from_csv = build_dataset(
        DatasetSpec.from_dict({**PROFILES["gruow"], "csv": str(csv)}), cache_dir=tmp_path / "csv_cache"
    )
    assert from_csv.symbols == ("ETHUSDT",)
    assert from_csv.target_names == ("open_price", "highest_price", "lowest_price", "closing_price")
    assert from_csv.shape.lookback == 128 and from_csv.splits["train"].labels.shape[1:] == (8, 4)
    assert int((from_csv.features == MASK_VALUE).all(axis=1).sum()) == 24  # the file's one 2 h 05 min gap
    # four untransformed OHLC targets among 14 features: each adds an int32 residual per row beside its
    # feature column (exact float64 levels), the index stays tiny; nothing per window is stored
    stored, rows = from_csv.stored_nbytes(), from_csv.features.shape[0]
    assert stored["features"] == from_csv.minimal_nbytes
    assert stored["targets"] == pytest.approx(rows * 4 * 4, abs=64)  # + the column map
    assert stored["index"] < 0.01 * stored["features"]
    url = f"sqlite:///{tmp_path / 'ohlcv.db'}"
    assert load_csv(csv, url, table="ohlcv") == {"ohlcv": 38083}
    from_table = build_dataset(
        DatasetSpec.from_dict(PROFILES["gruow"]), db_url=url, cache_dir=tmp_path / "db"
    )
    assert_identical(from_csv, from_table)
