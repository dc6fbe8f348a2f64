"""The exported bundle's file layout and the (de)serialisation of its preprocessing. NumPy and JSON only.

    BUNDLE/
      bundle.json            manifest: family, framework, trial, shape, targets, symbols, classes, files
      model/                 model.keras (Keras)  |  model.torchscript.pt + state_dict.pt (torch)
                             model.json (family, config, data shape: what rebuilds the network)
      preprocessing.npz      scale_mean, scale_std (S, R), embeddings (S, k), pca_mean, pca_components,
                             thresholds (H, T, 2), raw_magnitude (S, R; absent in older bundles)
      preprocessing.json     feature order, raw columns, symbol order, mask value, grid frequency,
                             input transforms per column (extra.transforms: diff, log_return, ...), ...
      dataset.yaml           the dataset spec (database URL left out)
      sweep.yaml             the sweep file the experiment ran (database URL left out)
      metrics.json           validation (as Ray stored it) and test scores beside the baselines
      versions.json          library versions at export time
      README.md              the model card
      SHA256SUMS             the SHA-256 of every other file (`sha256sum -c SHA256SUMS` checks them)

Both `export` (writes) and `predict` (reads, without Ray) import this module.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Final

import numpy as np

from seqsweep._fs import atomic_write_json
from seqsweep.constants import MASK_VALUE
from seqsweep.data.bundle import Preprocessing

FORMAT_VERSION: Final = 1
MANIFEST: Final = "bundle.json"
MODEL_DIR: Final = "model"
# the files inside MODEL_DIR are named by each framework's adapter (`seqsweep.trainables.frameworks`)
PREPROCESSING_NPZ: Final = "preprocessing.npz"
PREPROCESSING_JSON: Final = "preprocessing.json"
DATASET_YAML: Final = "dataset.yaml"
SWEEP_YAML: Final = "sweep.yaml"
METRICS_JSON: Final = "metrics.json"
VERSIONS_JSON: Final = "versions.json"
README: Final = "README.md"
CHECKSUMS: Final = "SHA256SUMS"
"""Every other file's SHA-256 and path, one `<hex>  <path>` line each, as `sha256sum` writes them."""
CHECKSUMS_KEY: Final = "checksums"
"""Manifest key naming `CHECKSUMS` in every bundle that carries it (`changed_file` then requires it)."""


def write_preprocessing(preprocessing: Preprocessing, symbols: tuple[str, ...], folder: Path) -> None:
    """Arrays to `preprocessing.npz` (rows in `symbols` order), everything else to `preprocessing.json`."""
    # Any: numpy's stubs would match **arrays against savez's own keyword flags
    arrays: dict[str, Any] = preprocessing.to_arrays(symbols)
    np.savez(folder / PREPROCESSING_NPZ, **arrays)
    payload = {
        "symbols": list(symbols),
        **preprocessing.to_metadata(),
        "mask_value": MASK_VALUE,
        "arrays": {
            "scale_mean": "(symbols, raw_columns) train-split mean per symbol, of the transformed inputs "
            "where extra.transforms names a transform",
            "scale_std": "(symbols, raw_columns) train-split standard deviation per symbol (1 where 0)",
            "embeddings": "(symbols, pca_components) PCA-reduced sentence embedding per symbol",
            "pca_mean": "(384,) PCA centre of the symbols' sentence embeddings",
            "pca_components": "(pca_components, 384) PCA axes",
            "thresholds": "(horizon, targets, 2) flat band: move <= [..., 0] is down, > [..., 1] is up",
            "raw_magnitude": "(symbols, raw_columns) train-split median |x| of observed nonzero values per "
            "symbol, before any transform (absent in older bundles)",
        },
    }
    write_json(folder / PREPROCESSING_JSON, payload)


def read_preprocessing(folder: Path) -> Preprocessing:
    """The `Preprocessing` that `write_preprocessing` wrote, ready for `seqsweep.data.features.featurize_rows`."""
    payload = json.loads((folder / PREPROCESSING_JSON).read_text(encoding="utf-8"))
    with np.load(folder / PREPROCESSING_NPZ, allow_pickle=False) as arrays:
        data = {name: arrays[name] for name in arrays.files}
    return Preprocessing.from_arrays(data, payload["symbols"], payload)


def write_json(path: Path, payload: Any) -> None:
    """Write `payload` as indented JSON, atomically (arrays as lists, other objects as strings)."""
    atomic_write_json(path, payload, indent=2, default=_plain)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_checksums(folder: Path) -> None:
    """Write `CHECKSUMS` for every file under `folder` (sorted paths, `sha256sum`'s format)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != CHECKSUMS)
    lines = [f"{_sha256(p)}  {p.relative_to(folder).as_posix()}\n" for p in files]
    (folder / CHECKSUMS).write_text("".join(lines), encoding="utf-8")


def changed_file(folder: Path, *, listed: bool = False) -> str | None:
    """The first file of `folder` whose SHA-256 is not the one `CHECKSUMS` records (or that is gone, or
    that the list does not name), as a relative path; None when all agree. `listed`: the manifest says
    the bundle carries the list (`CHECKSUMS_KEY`), so a list that is gone is `CHECKSUMS` itself (deleting
    it switched the check off); without that a bundle without a list is one exported before bundles
    carried it, and passes."""
    listing = folder / CHECKSUMS
    if not listing.is_file():
        return CHECKSUMS if listed else None
    recorded: dict[str, str] = {}
    for line in listing.read_text(encoding="utf-8").splitlines():
        digest, sep, name = line.partition("  ")
        if not sep:
            return CHECKSUMS
        recorded[name] = digest
    present = {
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != CHECKSUMS
    }
    for name in sorted(recorded.keys() | present):
        if name not in recorded or name not in present or _sha256(folder / name) != recorded[name]:
            return name
    return None
