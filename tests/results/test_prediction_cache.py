"""The winners' predictions `results` keeps: served only under the key that made them, read back only when
they fit the split, and never a reason for `results` to fail."""

from __future__ import annotations

import inspect
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from seqsweep.results import prediction_cache
from seqsweep.results.prediction_cache import load, prediction_key, prediction_keys, store, stored_path

SHAPE = (5, 2, 3)


@dataclass(frozen=True)
class Output:
    classes: np.ndarray
    moves: np.ndarray | None = None


def _checkpoint(folder: Path) -> Path:
    (folder / "assets").mkdir(parents=True)
    (folder / "model.keras").write_bytes(bytes(range(256)) * 4)
    (folder / "model.json").write_text('{"framework": "keras"}')
    (folder / "assets" / "scaler.json").write_text("[1.0, 2.0]")
    return folder


def _classes(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 3, SHAPE).astype(np.int8)


def test_the_key_follows_every_byte_and_name_of_the_checkpoint_the_dataset_and_the_split(
    tmp_path: Path,
) -> None:
    checkpoint = _checkpoint(tmp_path / "a" / "checkpoint_000002")
    key = prediction_key(checkpoint, "d" * 20, "test")
    # a copy elsewhere (an experiment moved or copied) keeps its predictions
    moved = tmp_path / "moved" / "checkpoint_000002"
    shutil.copytree(checkpoint, moved)
    assert prediction_key(moved, "d" * 20, "test") == key
    assert prediction_key(checkpoint, "e" * 20, "test") != key
    assert prediction_key(checkpoint, "d" * 20, "valid") != key
    assert prediction_keys(checkpoint, "d" * 20, ["valid", "test"]) == {
        "valid": prediction_key(checkpoint, "d" * 20, "valid"),
        "test": key,
    }  # the folder read once gives each split its own key

    weights = moved / "model.keras"
    data = bytearray(weights.read_bytes())
    data[100] ^= 1  # one bit of one weight
    weights.write_bytes(bytes(data))
    assert prediction_key(moved, "d" * 20, "test") != key

    shutil.rmtree(moved)
    shutil.copytree(checkpoint, moved)
    (moved / "assets" / "scaler.json").rename(moved / "assets" / "scaler2.json")
    assert prediction_key(moved, "d" * 20, "test") != key
    (moved / "assets" / "scaler2.json").rename(moved / "assets" / "scaler.json")
    (moved / "extra.txt").write_text("")
    assert prediction_key(moved, "d" * 20, "test") != key


def test_the_key_follows_the_prediction_code_and_the_libraries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = _checkpoint(tmp_path / "c")
    key = prediction_key(checkpoint, "d" * 20, "test")
    monkeypatch.setattr(prediction_cache, "prediction_code_digest", lambda: "0" * 16)
    assert prediction_key(checkpoint, "d" * 20, "test") != key
    monkeypatch.undo()
    libraries = dict(prediction_cache.prediction_libraries())
    monkeypatch.setattr(
        prediction_cache, "prediction_libraries", lambda: tuple({**libraries, "keras": "0.0.1"}.items())
    )
    assert prediction_key(checkpoint, "d" * 20, "test") != key


def test_the_code_digest_covers_the_checkpoint_loaders_and_the_window_builder() -> None:
    package = Path(prediction_cache.__file__).resolve().parents[1]
    assert (package / "trainables").is_dir()
    assert all((package / name).exists() for name in prediction_cache.PREDICTION_CODE)
    # the module that loads a winner's checkpoint and predicts is covered, wherever it moves
    from seqsweep.results import winner_outputs

    for function in (winner_outputs.load_trial_checkpoint, winner_outputs.predict_split):
        where = Path(inspect.getfile(function)).resolve().relative_to(package).as_posix()
        assert where in prediction_cache.PREDICTION_CODE, where
    assert len(prediction_cache.prediction_code_digest()) == 16


def test_stored_predictions_read_back_as_written(tmp_path: Path) -> None:
    path = stored_path(tmp_path, "t_00001", "test", "k1")
    assert path == tmp_path / "predictions" / "t_00001" / "test-k1.npz"
    assert load(path, SHAPE) is None  # nothing kept yet
    moves = np.random.default_rng(1).normal(size=SHAPE).astype(np.float32)
    store(path, Output(_classes(), moves))
    kept = load(path, SHAPE)
    assert kept is not None
    np.testing.assert_array_equal(kept[0], _classes())
    assert kept[0].dtype == np.int8
    assert kept[1] is not None
    np.testing.assert_array_equal(kept[1], moves)
    store(path, Output(_classes(2)))
    kept = load(path, SHAPE)
    assert kept is not None and kept[1] is None
    np.testing.assert_array_equal(kept[0], _classes(2))


def test_a_new_key_replaces_the_splits_earlier_predictions_only(tmp_path: Path) -> None:
    old_test = stored_path(tmp_path, "t", "test", "old")
    valid = stored_path(tmp_path, "t", "valid", "old")
    store(old_test, Output(_classes()))
    store(valid, Output(_classes()))
    new_test = stored_path(tmp_path, "t", "test", "new")
    store(new_test, Output(_classes(1)))
    assert sorted(p.name for p in new_test.parent.iterdir()) == ["test-new.npz", "valid-old.npz"]


@pytest.mark.parametrize(
    "written",
    [
        {"classes": np.zeros((4, 2, 3), np.int8)},  # another number of windows
        {"classes": np.zeros(SHAPE, np.int64)},  # another dtype
        {"classes": np.full(SHAPE, 3, np.int8)},  # not a class id
        {"classes": np.full(SHAPE, -1, np.int8)},
        {"classes": np.zeros(SHAPE, np.int8), "moves": np.zeros((5, 2, 2))},
        {"moves": np.zeros(SHAPE)},  # no classes
    ],
)
def test_stored_predictions_that_do_not_fit_the_split_are_predicted_again(
    tmp_path: Path, written: dict[str, np.ndarray]
) -> None:
    path = tmp_path / "test-k.npz"
    np.savez(path, **written)  # type: ignore[arg-type]
    assert load(path, SHAPE) is None


@pytest.mark.parametrize("content", [b"", b"not a zip file", b"PK\x03\x04 cut short"])
def test_a_damaged_file_of_predictions_is_predicted_again(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "test-k.npz"
    path.write_bytes(content)
    assert load(path, SHAPE) is None


def test_a_folder_that_cannot_be_written_only_costs_the_next_load(tmp_path: Path) -> None:
    blocked = tmp_path / "experiment"
    blocked.write_text("a file where the experiment's predictions folder would go")
    path = stored_path(blocked, "t", "test", "k")
    store(path, Output(_classes()))  # does not raise
    assert load(path, SHAPE) is None
    assert [p.name for p in tmp_path.iterdir()] == ["experiment"]
