"""A winner's predicted classes, kept in the experiment so `results` run again needs no TensorFlow.

`results` loads each winner's best checkpoint and predicts the validation and test windows; for a Keras
family most of that is importing TensorFlow (several seconds) before one forward pass. The predicted
classes (`WinnerOutput`: (n, H, T) int8, and the moves of a regression model) are small, so they are
written to `DIR/predictions/<trial>/<split>-<key>.npz` and read back by the next `results` of the same
experiment (another `--top`, a report written again), the way Ray Tune's `ExperimentAnalysis` reads stored
results instead of rerunning trials.

A stored prediction is served only under the key that made it (`prediction_keys`), a SHA-256 over
everything the classes depend on:
- every file of the checkpoint folder, by name and bytes (a checkpoint replaced after the run misses and
  is loaded again; one damaged misses and is refused in one line, as before);
- the dataset's cache key (`DatasetBundle.cache_key`: its rows, settings, building code and libraries)
  and the split;
- the code that builds the windows, loads a checkpoint and turns its outputs into classes
  (`PREDICTION_CODE`, by bytes) and the versions of the libraries that run it (`PREDICTION_LIBRARIES`).
A user's own model (`model: package.module:function`) is never kept: its function, outside seqsweep,
builds the network again at every load, and a change to it would not change the key.

A file that cannot be read, or holds other shapes than the split's windows, is a miss (the model
predicts again); a folder that cannot be written only costs the next `results` the load.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import zipfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Final, Protocol

import numpy as np

from seqsweep._fs import atomic_path
from seqsweep.data.code_digest import NOT_INSTALLED, build_code_files
from seqsweep.layout import PREDICTIONS_DIR

logger = logging.getLogger(__name__)

FORMAT: Final = 1
"""Bumped when the stored arrays change meaning; part of every key."""

PREDICTION_CODE: Final = (
    "trainables",
    "metrics.py",
    "constants.py",
    "masking.py",
    "results/winner_outputs.py",
)
"""Paths inside the `seqsweep` package (a folder: its `.py` files, recursively) whose code loads a
checkpoint, predicts and turns probabilities into classes; beside the dataset-building code
(`data.code_digest.build_code_files`), which makes the windows they predict on."""

PREDICTION_LIBRARIES: Final = ("keras", "tensorflow", "tensorflow-cpu", "torch", "numpy", "ml-dtypes")
"""Distributions whose code runs a checkpoint's forward pass."""

CLASSES: Final = "classes"
MOVES: Final = "moves"


class Predicted(Protocol):
    """What is kept of one split's predictions (`results.winner_outputs.WinnerOutput`)."""

    @property
    def classes(self) -> np.ndarray: ...

    @property
    def moves(self) -> np.ndarray | None: ...


@functools.lru_cache(maxsize=1)
def prediction_code_digest() -> str:
    """16 hex digits of a SHA-256 over the bytes of this installation's prediction code (`PREDICTION_CODE`)
    and dataset-building code (`build_code_files`), computed once per process (a few ms). Bytes, not
    syntax trees as the dataset key's `code_digest` (ten times slower): an edited comment only costs
    the next `results` a load."""
    package = Path(__file__).resolve().parents[1]
    files: list[Path] = list(build_code_files())
    for name in PREDICTION_CODE:
        path = package / name
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.relative_to(package).as_posix()}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def prediction_libraries() -> tuple[tuple[str, str], ...]:
    """(distribution, installed version or `NOT_INSTALLED`) of each `PREDICTION_LIBRARIES`, read from the
    installation's metadata without importing them."""
    versions = []
    for name in PREDICTION_LIBRARIES:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, NOT_INSTALLED))
    return tuple(versions)


def prediction_keys(checkpoint: Path, dataset_key: str, splits: Sequence[str]) -> dict[str, str]:
    """{split: 24 hex digits of a SHA-256 over `FORMAT`, `dataset_key`, `prediction_code_digest`,
    `prediction_libraries`, the checkpoint folder's files (relative path, size and bytes, in path order)
    and the split}; the folder is read once for all `splits`.

    Raises OSError when a checkpoint file cannot be read."""
    digest = hashlib.sha256()
    header = (FORMAT, dataset_key, prediction_code_digest(), prediction_libraries())
    digest.update(repr(header).encode())
    for path in sorted(p for p in checkpoint.rglob("*") if p.is_file()):
        data = path.read_bytes()
        digest.update(f"\0{path.relative_to(checkpoint).as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    keys = {}
    for split in splits:
        of_split = digest.copy()
        of_split.update(f"\0split\0{split}".encode())
        keys[split] = of_split.hexdigest()[:24]
    return keys


def prediction_key(checkpoint: Path, dataset_key: str, split: str) -> str:
    """`prediction_keys` of one split."""
    return prediction_keys(checkpoint, dataset_key, [split])[split]


def stored_path(experiment_dir: Path, trial_id: str, split: str, key: str) -> Path:
    """`experiment_dir/predictions/<trial_id>/<split>-<key>.npz`."""
    return experiment_dir / PREDICTIONS_DIR / trial_id / f"{split}-{key}.npz"


def load(path: Path, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray | None] | None:
    """(classes, moves or None) stored at `path` when both are (n, H, T) = `shape`, classes int8 in
    0..2; None when the file is absent, unreadable or holds anything else (the caller predicts again)."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            classes = stored[CLASSES]
            moves = stored[MOVES] if MOVES in stored.files else None
    except FileNotFoundError:
        return None
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        logger.debug("stored predictions %s unreadable (%s): predicting again", path, exc)
        return None
    if classes.shape != shape or classes.dtype != np.int8 or (moves is not None and moves.shape != shape):
        logger.debug("stored predictions %s hold other shapes than %s: predicting again", path, shape)
        return None
    if classes.size and (classes.min() < 0 or classes.max() > 2):
        logger.debug("stored predictions %s hold class ids outside 0..2: predicting again", path)
        return None
    return classes, moves


def store(path: Path, output: Predicted) -> None:
    """Write `output` to `path` (atomically), replacing the trial's earlier predictions of the same split
    under other keys. A folder that cannot be written is logged (debug) and skipped: the next `results`
    predicts again."""
    arrays = {CLASSES: np.asarray(output.classes, dtype=np.int8)}
    if output.moves is not None:
        arrays[MOVES] = np.asarray(output.moves)
    split = path.name.split("-", 1)[0]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as temp, open(temp, "xb") as out:
            np.savez(out, **arrays)  # type: ignore[arg-type]
        for earlier in path.parent.glob(f"{split}-*.npz"):
            if earlier != path:
                earlier.unlink(missing_ok=True)
    except OSError as exc:
        logger.debug("cannot keep predictions at %s (%s): the next results predicts again", path, exc)
