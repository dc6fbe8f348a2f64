"""The built-dataset cache: one folder of .npy files plus a JSON manifest per cache key.

Key = hash of (spec content hash, source fingerprint), so the same spec on the same rows is read
back instead of rebuilt, from whatever process asks (a second `data build`, a resumed sweep).
A folder is written under a temporary name and renamed into place, so a reader never sees half of one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Final

import numpy as np

from seqsweep.constants import SPLITS
from seqsweep.data.bundle import DatasetBundle, Preprocessing, SplitWindows
from seqsweep.data.spec import DatasetSpec

log = logging.getLogger(__name__)

DEFAULT_CACHE_DIR: Final = "~/.cache/seqsweep/datasets"
FORMAT_VERSION: Final = 1
"""Bumped when the files change meaning; a folder of another version is rebuilt, not misread."""
MANIFEST: Final = "manifest.json"


def cache_key(spec: DatasetSpec, fingerprint: dict[str, Any]) -> str:
    blob = json.dumps(
        {"spec": spec.content_hash(), "source": fingerprint, "format": FORMAT_VERSION},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def cache_root(cache_dir: str | os.PathLike[str] | None) -> Path:
    return Path(cache_dir if cache_dir is not None else DEFAULT_CACHE_DIR).expanduser()


def _arrays(bundle: DatasetBundle) -> dict[str, np.ndarray]:
    arrays = {
        "features": bundle.features,
        "row_symbol": bundle.row_symbol,
        "row_time": bundle.row_time,
        **bundle.preprocessing.to_arrays(bundle.symbols),
    }
    for name, windows in bundle.splits.items():
        arrays |= {
            f"{name}_ends": windows.ends,
            f"{name}_labels": windows.labels,
            f"{name}_moves": windows.moves,
        }
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
    tmp = Path(tempfile.mkdtemp(prefix=f".{bundle.cache_key}.", dir=root))
    try:
        for name, array in _arrays(bundle).items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
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
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
        os.replace(tmp, final)
    except OSError:
        if not final.exists():
            raise
        log.debug("cache folder %s was written by another process first", final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("cached the dataset at %s", final)
    return final


def load(spec: DatasetSpec, key: str, cache_dir: str | os.PathLike[str] | None) -> DatasetBundle | None:
    """The cached bundle of `key`, or None when there is none (or it is unreadable: then it is rebuilt)."""
    folder = cache_root(cache_dir) / key
    if not (folder / MANIFEST).is_file():
        return None
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        if manifest["format"] != FORMAT_VERSION or manifest["spec_hash"] != spec.content_hash():
            return None
        arrays = {p.stem: np.load(p, allow_pickle=False) for p in folder.glob("*.npy")}
        return _bundle(spec, key, manifest, arrays)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring the unreadable dataset cache %s (%s); rebuilding", folder, exc)
        return None


def _bundle(
    spec: DatasetSpec, key: str, manifest: dict[str, Any], arrays: dict[str, np.ndarray]
) -> DatasetBundle:
    symbols = tuple(manifest["symbols"])
    preprocessing = Preprocessing.from_arrays(arrays, symbols, manifest)
    splits = {
        name: SplitWindows(
            ends=arrays[f"{name}_ends"], labels=arrays[f"{name}_labels"], moves=arrays[f"{name}_moves"]
        )
        for name in SPLITS
    }
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
    )
