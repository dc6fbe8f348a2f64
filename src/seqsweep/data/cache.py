"""The built-dataset cache: one folder of .npy files plus a JSON manifest per cache key.

Key = hash of (spec content hash, source fingerprint, embedding model files, seqsweep's version, the
digest of its dataset-building code and the versions of the libraries that compute the values,
`code_digest`), so the same spec on the same rows is read back
instead of rebuilt, from whatever process asks (a second `data build`, a resumed sweep), and other code
(another release, a commit that featurises otherwise under the same version, or another scikit-learn,
pandas, torch ...) builds its own.
The fingerprint is `rows_digest` of every symbol's rows as the build read them (after `ingest`
parsing: dates as int64 ns, values as float64) plus the value column names: any value that changes,
or a column type change that changes a value read, changes the key; SQLite, MariaDB and PostgreSQL
holding the same rows share it. Each per-symbol task hashes the rows it fetched, so no extra query
runs: on the real 16-symbol prices join (360k rows, SQLite) the hashing took 0.015–0.025 s, against
3.2 s to fetch those rows.
A folder is written under a temporary name and renamed into place, so a reader never sees half of one;
the manifest holds each array file's SHA-256, checked on every read, so a file damaged in place (a block
zeroed at its full size) is rebuilt, not served.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from seqsweep import __version__
from seqsweep._fs import atomic_dir, naming_path
from seqsweep.constants import SPLITS
from seqsweep.data.bundle import DatasetBundle, FoldData, Preprocessing, SplitWindows
from seqsweep.data.code_digest import build_code_digest, build_libraries
from seqsweep.data.spec import DatasetSpec
from seqsweep.data.tables import DATE
from seqsweep.data.targets import TargetLevels, WindowTargets

logger = logging.getLogger(__name__)

DEFAULT_CACHE_DIR: Final = "~/.cache/seqsweep/datasets"
FORMAT_VERSION: Final = 3
"""Bumped when the files change meaning; a folder of another version is rebuilt, not misread (3: per-window
labels and moves are no longer written: the target levels are, `target_*.npy`, and the labels are derived).
The key holds it, so a bump makes every experiment's recorded dataset another key: `resume` would refuse
them all. Additions that old readers and folders can do without are not bumps: the manifest's `sha256`
(each array file's SHA-256, checked when present), and `manifest_sha256` (the manifest's own, checked
likewise). A folder without them is read as before only under a key this release does not compute (an
older experiment's recorded dataset); under this release's own key they were taken out, and it is rebuilt."""
MANIFEST: Final = "manifest.json"
MANIFEST_DIGEST: Final = "manifest_sha256"


def rows_digest(rows: pd.DataFrame, value_columns: tuple[str, ...]) -> int:
    """A 64-bit digest of one symbol's rows as read: `date` (datetime64[ns]) and `value_columns` (float64).

    Hashes the bytes of each column in order, after making NaN and -0.0 canonical, so equal rows
    give equal digests whichever database returned them. Costs about 0.05 µs a value.
    """
    digest = hashlib.blake2b(digest_size=8)
    digest.update(np.ascontiguousarray(rows[DATE].to_numpy("datetime64[ns]").astype(np.int64)).tobytes())
    for column in value_columns:
        values = rows[column].to_numpy(np.float64) + 0.0  # -0.0 → 0.0
        values[np.isnan(values)] = np.nan
        digest.update(column.encode() + b"\0")
        digest.update(np.ascontiguousarray(values).tobytes())
    return int.from_bytes(digest.digest(), "little")


def fingerprint(value_columns: tuple[str, ...], digests: dict[str, int | None]) -> dict[str, Any]:
    """The source half of the cache key: value column names and each symbol's `rows_digest` (hex)."""
    return {
        "columns": list(value_columns),
        "rows": {symbol: None if d is None else f"{d:016x}" for symbol, d in digests.items()},
    }


def cache_key(spec: DatasetSpec, fingerprint: dict[str, Any]) -> str:
    """20 hex digits naming the dataset of `spec` built on the rows `fingerprint` describes, by this release
    of seqsweep (`__version__`), this dataset-building code (`code_digest.build_code_digest`) and these
    library versions (`code_digest.build_libraries`): other code may featurise otherwise, so it keys its
    own datasets."""
    blob = json.dumps(
        {
            "spec": spec.content_hash(),
            "source": fingerprint,
            "format": FORMAT_VERSION,
            "seqsweep": __version__,
            "code": build_code_digest(),
            "libraries": build_libraries(),
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def cache_root(cache_dir: str | os.PathLike[str] | None) -> Path:
    """`cache_dir` expanded, or the default ~/.cache/seqsweep/datasets."""
    return Path(cache_dir if cache_dir is not None else DEFAULT_CACHE_DIR).expanduser()


def _arrays(bundle: DatasetBundle) -> dict[str, np.ndarray]:
    arrays = {
        "features": bundle.features,
        "row_symbol": bundle.row_symbol,
        "row_time": bundle.row_time,
        **bundle.preprocessing.to_arrays(bundle.symbols),
    }
    for name, windows in bundle.splits.items():
        arrays[f"{name}_ends"] = windows.ends
    targets = bundle.splits[SPLITS[0]].targets
    if targets is None:
        raise ValueError("only a built dataset (labels derived from its target levels) can be cached")
    arrays |= targets.levels.to_arrays()  # labels and moves are derived from these on load
    if bundle.folds is not None:  # walk-forward folds: `fold_*.npy` (none for one fold, as before)
        arrays |= bundle.folds.to_arrays()
    return arrays


def save(
    bundle: DatasetBundle, cache_dir: str | os.PathLike[str] | None, fingerprint: dict[str, Any]
) -> Path:
    """Write `bundle` under `cache_dir/<key>/` atomically; an existing folder of the same key is kept."""
    root = cache_root(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / bundle.cache_key
    if final.exists():
        return final
    # A folder of the same key written by another process meanwhile is kept (same key, same content).
    with atomic_dir(final, replace=False) as tmp, naming_path(final):
        sums = {name: _write_array(tmp / f"{name}.npy", array) for name, array in _arrays(bundle).items()}
        manifest = {
            "format": FORMAT_VERSION,
            "cache_key": bundle.cache_key,
            "spec_hash": bundle.spec.content_hash(),
            "spec": {k: v for k, v in bundle.spec.to_dict().items() if k != "db"},
            "fingerprint": fingerprint,
            "symbols": list(bundle.symbols),
            "target_names": list(bundle.target_names),
            "boundaries": list(bundle.boundaries),
            **bundle.preprocessing.to_metadata(),
            "sha256": sums,
            "libraries": build_libraries(),
        }
        manifest[MANIFEST_DIGEST] = _manifest_digest(manifest)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
    logger.info("cached the dataset at %s", final.absolute())  # a relative --cache-dir printed as given
    return final


def load(spec: DatasetSpec, key: str, cache_dir: str | os.PathLike[str] | None) -> DatasetBundle | None:
    """The cached bundle of `key`, or None when there is none.

    A damaged folder (a file cut short, emptied or changed in place: its SHA-256 is not the manifest's; no
    manifest, or one edited (its own SHA-256 differs, or the checksums taken out), of the wrong shape, another format, another spec or
    another key: another dataset's folder copied or renamed to this key; a walk-forward dataset without
    its fold arrays) is logged,
    removed and reported as none, so that the build that follows rebuilds it and `save` writes it afresh
    (`save` keeps an existing folder: one left in place would be rebuilt on every call, never cached).
    """
    folder = cache_root(cache_dir) / key
    if not folder.exists():
        return None
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError(f"{MANIFEST} holds {type(manifest).__name__}, not an object")
        if manifest["format"] != FORMAT_VERSION:
            raise ValueError(f"written in cache format {manifest['format']!r}, not {FORMAT_VERSION}")
        if MANIFEST_DIGEST in manifest and manifest[MANIFEST_DIGEST] != _manifest_digest(manifest):
            raise ValueError(
                f"{MANIFEST} is not the one written (its SHA-256 differs from the one it records)"
            )
        if manifest["cache_key"] != key:
            raise ValueError(
                f"written for dataset {manifest['cache_key']}, not {key} (a folder copied or renamed)"
            )
        if manifest["spec_hash"] != spec.content_hash():
            raise ValueError("written for another dataset spec")
        sums = manifest.get("sha256")
        if (sums is None or MANIFEST_DIGEST not in manifest) and cache_key(
            spec, manifest["fingerprint"]
        ) == key:
            # this release's key: written by this code, which always keeps them, so they were taken out
            raise ValueError(
                f"{MANIFEST} keeps no SHA-256 of its files or of itself, though this seqsweep wrote it (edited?)"
            )
        arrays = (
            {name: _read_array(folder / f"{name}.npy", digest) for name, digest in sums.items()}
            if sums is not None
            else {p.stem: np.load(p, allow_pickle=False) for p in folder.glob("*.npy")}
        )
        bundle = _bundle(spec, key, manifest, arrays)
        if spec.split.folds > 1 and bundle.folds is None:
            raise ValueError(f"the {spec.split.folds} walk-forward folds' arrays are missing")
        return bundle
    except (OSError, ValueError, KeyError, EOFError, TypeError, IndexError) as exc:
        logger.warning("removing the unreadable dataset cache %s (%s); rebuilding", folder, exc)
        shutil.rmtree(folder, ignore_errors=True)
        return None


def _manifest_digest(manifest: dict[str, Any]) -> str:
    """SHA-256 (hex) of `manifest` as JSON reads it back, its own `MANIFEST_DIGEST` left out.

    The manifest says which symbol each row of the per-symbol arrays is, which target each label column
    is, and where the splits begin: an edit that still parses (two symbols or targets swapped, a boundary
    moved) was served as the cached dataset."""
    content = {k: v for k, v in json.loads(json.dumps(manifest, default=str)).items() if k != MANIFEST_DIGEST}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _write_array(path: Path, array: np.ndarray) -> str:
    """Save `array` as `path` (.npy, no pickles); the SHA-256 of the bytes written (hex)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    data = buffer.getbuffer()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _read_array(path: Path, digest: str) -> np.ndarray:
    """The array saved as `path`; ValueError when its bytes are not those `digest` was taken of."""
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != digest:
        raise ValueError(f"{path.name} is not the file written (its SHA-256 differs from the manifest's)")
    return np.load(io.BytesIO(data), allow_pickle=False)


def _bundle(
    spec: DatasetSpec, key: str, manifest: dict[str, Any], arrays: dict[str, np.ndarray]
) -> DatasetBundle:
    symbols = tuple(manifest["symbols"])
    preprocessing = Preprocessing.from_arrays(arrays, symbols, manifest)
    levels = TargetLevels.from_arrays(arrays, arrays["features"])
    derive = WindowTargets(levels=levels, horizon=spec.horizon, thresholds=preprocessing.thresholds)
    splits = {name: SplitWindows(ends=arrays[f"{name}_ends"], targets=derive) for name in SPLITS}
    return DatasetBundle(
        spec=spec,
        features=arrays["features"],
        row_symbol=arrays["row_symbol"],
        row_time=arrays["row_time"],
        symbols=symbols,
        target_names=tuple(manifest["target_names"]),
        splits=splits,
        preprocessing=preprocessing,
        cache_key=key,
        boundaries=(int(manifest["boundaries"][0]), int(manifest["boundaries"][1])),
        folds=FoldData.from_arrays(arrays),
    )
