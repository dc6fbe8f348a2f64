"""A damaged dataset cache folder is rebuilt and written afresh, whatever the damage: a file emptied (a
full disk, a power cut after the rename), a manifest of the wrong shape, a walk-forward dataset's fold
arrays gone. It used to end `data build`, `run` and `results` with an unexpected error (exit 3), or
to be rebuilt on every later build because the damaged folder was never replaced."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from seqsweep.data import DatasetSpec, build_dataset
from seqsweep.data.build import build_count
from seqsweep.data.spec import SplitSpec

SPEC = DatasetSpec(symbols=("BALUSDT", "UNIUSDT"), lookback=12, horizon=2)


def _empty(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_bytes(b"")


def _zeroed(name: str) -> Callable[[Path], None]:
    """The file's data bytes zeroed in place, its size kept: it still loads, with other values."""

    def damage(folder: Path) -> None:
        data = bytearray((folder / name).read_bytes())
        data[-64:] = bytes(64)
        (folder / name).write_bytes(bytes(data))

    return damage


def _manifest(change: Callable[[dict], object]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        manifest = json.loads((folder / "manifest.json").read_text())
        (folder / "manifest.json").write_text(json.dumps(change(manifest)))

    return damage


DAMAGE = {
    "features.npy emptied": _empty("features.npy"),
    "row_time.npy emptied": _empty("row_time.npy"),
    "manifest null": _manifest(lambda m: None),
    "manifest a list": _manifest(lambda m: []),
    "boundaries null": _manifest(lambda m: {**m, "boundaries": None}),
    "boundaries of one": _manifest(lambda m: {**m, "boundaries": m["boundaries"][:1]}),
    # the folder stayed while its manifest went (an interrupted copy): it was rebuilt on every build after
    "manifest removed": lambda folder: (folder / "manifest.json").unlink(),
    "manifest of another format": _manifest(lambda m: {**m, "format": -1}),
    "manifest of another spec": _manifest(lambda m: {**m, "spec_hash": "0" * 16}),
    # served as a hit before: the labels' thresholds all 0, the features' last values 0
    "thresholds.npy zeroed in place": _zeroed("thresholds.npy"),
    "features.npy zeroed in place": _zeroed("features.npy"),
    "checksum of another file": _manifest(lambda m: {**m, "sha256": {**m["sha256"], "features": "0" * 64}}),
    # edits that still parse were served: each symbol's scalers and embedding given to the other, each
    # target's labels named as the other's, the valid split starting 10 ns earlier
    "symbols swapped in the manifest": _manifest(lambda m: {**m, "symbols": m["symbols"][::-1]}),
    "targets swapped in the manifest": _manifest(lambda m: {**m, "target_names": m["target_names"][::-1]}),
    "a boundary moved in the manifest": _manifest(
        lambda m: {**m, "boundaries": [m["boundaries"][0] - 10, m["boundaries"][1]]}
    ),
    # read "as a folder written before the checksums" and served, a file replaced beside it unseen
    "the checksums taken out of the manifest": _manifest(
        lambda m: {k: v for k, v in m.items() if k not in ("sha256", "manifest_sha256")}
    ),
    "the manifest's own checksum taken out": _manifest(
        lambda m: {k: v for k, v in m.items() if k != "manifest_sha256"}
    ),
}


def _build_twice_after(
    spec: DatasetSpec, damage: Callable[[Path], None], db_url: str, cache_dir: Path
) -> None:
    first = build_dataset(spec, db_url=db_url, cache_dir=cache_dir, in_process=True)
    damage(cache_dir / first.cache_key)
    before = build_count()
    again = build_dataset(spec, db_url=db_url, cache_dir=cache_dir, in_process=True)
    assert build_count() == before + 1  # rebuilt, not an error
    assert again.cache_key == first.cache_key
    assert np.array_equal(again.features, first.features)
    assert np.array_equal(again.row_time, first.row_time)
    third = build_dataset(spec, db_url=db_url, cache_dir=cache_dir, in_process=True)
    assert build_count() == before + 1  # the rebuilt folder replaced the damaged one: read, not rebuilt
    assert np.array_equal(third.features, first.features)
    if spec.split.folds > 1:
        assert third.folds is not None and again.folds is not None


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_cache_is_rebuilt_and_replaced(
    damage: Callable[[Path], None], sample_db_url: str, tmp_path: Path
) -> None:
    _build_twice_after(SPEC, damage, sample_db_url, tmp_path / "cache")


def test_a_walk_forward_cache_without_its_fold_arrays_is_rebuilt(sample_db_url: str, tmp_path: Path) -> None:
    """Without `fold_scale.npy` the dataset loaded as a single fold, silently."""
    spec = DatasetSpec(symbols=SPEC.symbols, lookback=12, horizon=2, split=SplitSpec(folds=3))
    _build_twice_after(
        spec, lambda folder: (folder / "fold_scale.npy").unlink(), sample_db_url, tmp_path / "c"
    )


def test_a_new_symbol_is_embedded_only_by_the_model_its_pca_was_fitted_on(sample_db_url: str) -> None:
    """`predict` on a symbol new to a bundle embedded it with whatever model the name loaded then, and
    projected that vector on the old model's PCA axes, without a word."""
    import dataclasses

    from seqsweep.data.features import embed_symbol
    from seqsweep.errors import DataError

    prep = build_dataset(SPEC, db_url=sample_db_url, use_cache=False, in_process=True).preprocessing
    vector = embed_symbol("ZZZUSDT", prep)
    assert vector.shape == prep.embeddings["BALUSDT"].shape and np.isfinite(vector).all()
    other = dataclasses.replace(prep, extra={**prep.extra, "embedding_model_identity": "0" * 20})
    assert np.array_equal(
        embed_symbol("BALUSDT", other), prep.embeddings["BALUSDT"]
    )  # a fitted one: no model
    with pytest.raises(
        DataError, match=r"ZZZUSDT: a symbol new to the dataset is embedded with .*files changed"
    ):
        embed_symbol("ZZZUSDT", other)


def test_a_folder_written_before_the_checksums_is_still_read(
    sample_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An experiment records its dataset's key: a folder without `sha256` and `manifest_sha256` (written
    before the checksums, so by older code, under a key this code does not compute) must be read, not
    removed, or `results` and `resume` would refuse every older experiment."""
    from seqsweep.data import cache

    with monkeypatch.context() as patch:  # the older code's key
        patch.setattr(cache, "build_code_digest", lambda: "0" * 16)
        first = build_dataset(SPEC, db_url=sample_db_url, cache_dir=tmp_path, in_process=True)
    _manifest(lambda m: {k: v for k, v in m.items() if k not in ("sha256", "manifest_sha256")})(
        tmp_path / first.cache_key
    )
    old = cache.load(SPEC, first.cache_key, tmp_path)
    assert old is not None and np.array_equal(old.features, first.features)
    assert (tmp_path / first.cache_key / "manifest.json").is_file()  # kept


def test_another_datasets_folder_under_this_key_is_rebuilt_not_served(
    sample_db_url: str, tmp_path: Path
) -> None:
    """The folder of the dataset built before a value changed, copied to the key of the rows now (a cache
    synced or restored by hand), was served: same spec, intact files, the old values."""
    import shutil
    import sqlite3

    old = build_dataset(SPEC, db_url=sample_db_url, cache_dir=tmp_path / "cache", in_process=True)
    shutil.copy(sample_db_url.removeprefix("sqlite:///"), tmp_path / "edited.db")
    with sqlite3.connect(tmp_path / "edited.db") as connection:
        connection.execute(
            "UPDATE crypto_price SET close = close * 2 WHERE rowid IN (SELECT rowid FROM crypto_price"
            " WHERE crypto_symbol = 'BALUSDT' ORDER BY date DESC LIMIT 5)"
        )
    edited_url = f"sqlite:///{tmp_path / 'edited.db'}"
    new = build_dataset(SPEC, db_url=edited_url, cache_dir=tmp_path / "cache", in_process=True)
    assert new.cache_key != old.cache_key and not np.array_equal(new.features, old.features)
    shutil.rmtree(tmp_path / "cache" / new.cache_key)
    shutil.copytree(tmp_path / "cache" / old.cache_key, tmp_path / "cache" / new.cache_key)
    before = build_count()
    again = build_dataset(SPEC, db_url=edited_url, cache_dir=tmp_path / "cache", in_process=True)
    assert build_count() == before + 1 and np.array_equal(again.features, new.features)


def test_a_relative_cache_dir_is_printed_as_an_absolute_path(
    sample_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """`seqsweep data build --cache-dir ./dscache` printed `cached the dataset at dscache/<key>` (and
    `read from the cache in dscache`) where every other path seqsweep prints is absolute."""
    monkeypatch.chdir(tmp_path)
    with caplog.at_level("INFO"):
        first = build_dataset(SPEC, db_url=sample_db_url, cache_dir="dscache", in_process=True)
        build_dataset(SPEC, db_url=sample_db_url, cache_dir="dscache", in_process=True)
    assert f"cached the dataset at {tmp_path / 'dscache' / first.cache_key}" in caplog.text
    assert f"read from the cache in {tmp_path / 'dscache'}" in caplog.text
