"""An exported bundle read back: `load_bundle(path)` checks the folder `seqsweep export` wrote (format,
manifest keys, dataset spec, preprocessing, every file's SHA-256) and returns a `ModelBundle` whose model
loads on first use, through the framework adapter that exported it. Like `predict`, this module never
imports Ray.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqsweep.data.bundle import Preprocessing
from seqsweep.data.spec import DatasetSpec
from seqsweep.errors import ConfigError, SeqsweepError
from seqsweep.layout import not_a_folder
from seqsweep.results import bundle_format as fmt

if TYPE_CHECKING:
    from seqsweep.trainables.frameworks import Framework


@dataclass(frozen=True)
class ModelBundle:
    """An exported bundle on disk: manifest, preprocessing, dataset spec; the model loads on first use."""

    path: Path
    manifest: dict[str, Any]
    preprocessing: Preprocessing
    dataset: DatasetSpec

    @property
    def lookback(self) -> int:
        return int(self.manifest["lookback"])

    @property
    def horizon(self) -> int:
        return int(self.manifest["horizon"])

    @property
    def target_names(self) -> tuple[str, ...]:
        return tuple(self.manifest["target_names"])

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.manifest["symbols"])

    @cached_property
    def _framework(self) -> Framework:
        """The adapter that exported the model (`bundle.json: framework`)."""
        from seqsweep.trainables.frameworks import get_framework

        try:
            return get_framework(str(self.manifest["framework"]))
        except ConfigError as exc:
            raise ConfigError(f"bundle: {exc}") from None

    @cached_property
    def _model(self) -> Any:
        try:
            return self._framework.load_export(self.path / fmt.MODEL_DIR)
        except SeqsweepError:
            raise
        except Exception as exc:  # a truncated or edited model file: each library raises its own kind
            raise _damaged(self.path, fmt.MODEL_DIR, exc) from None

    @cached_property
    def test_verdict(self) -> str | None:
        """The exported model's verdict on its test split, as `export` wrote it in `metrics.json` (and the
        model card): "does not beat persistence on test (...)". None when there is none (a training
        function without a predict hook, no metrics.json). Its SHA-256 was checked when the bundle loaded."""
        metrics_path = self.path / fmt.METRICS_JSON
        if not metrics_path.is_file():
            return None
        try:
            model = fmt.read_json(metrics_path)["test"]["model"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise _damaged(self.path, fmt.METRICS_JSON, exc) from None
        verdict = model.get("verdict") if isinstance(model, dict) else None
        return verdict if isinstance(verdict, str) else None

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(B, L, F) float32 features → (B, H, T, 3) class probabilities."""
        x = np.asarray(x, dtype=np.float32)
        expected = (self.lookback, len(self.preprocessing.feature_names))
        if x.ndim != 3 or x.shape[1:] != expected:
            raise ConfigError(f"predict: inputs must be (B, {expected[0]}, {expected[1]}), got {x.shape}")
        return self._framework.predict_export(self._model, x)


def load_bundle(path: str | Path) -> ModelBundle:
    """Read a bundle written by `seqsweep export`; one clear line (ConfigError) if the folder is not one,
    or if a file differs from the SHA-256 the export recorded (`bundle_format.CHECKSUMS`)."""
    path = Path(path).expanduser().resolve()
    manifest_path = path / fmt.MANIFEST
    if not manifest_path.is_file():
        problem = not_a_folder(path, "bundle folder") or f"not a seqsweep bundle (no {fmt.MANIFEST})"
        raise ConfigError(f"{path}: {problem}; write one with `seqsweep export`")
    try:
        manifest = fmt.read_json(manifest_path)
    except (OSError, ValueError) as exc:
        raise _damaged(path, fmt.MANIFEST, exc) from None
    if not isinstance(manifest, dict):
        raise _damaged(path, fmt.MANIFEST, TypeError(f"a {type(manifest).__name__}, not a mapping"))
    if manifest.get("format") != fmt.FORMAT_VERSION:
        raise ConfigError(
            f"{path}: bundle format {manifest.get('format')!r}, this seqsweep reads format {fmt.FORMAT_VERSION}"
        )
    missing = [key for key in MANIFEST_KEYS if key not in manifest]
    if missing:
        raise _damaged(path, fmt.MANIFEST, KeyError(f"no {', '.join(missing)}"))
    import yaml

    try:
        raw = yaml.safe_load((path / fmt.DATASET_YAML).read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise _damaged(path, fmt.DATASET_YAML, exc) from None
    if not isinstance(raw, dict):
        raise _damaged(path, fmt.DATASET_YAML, TypeError(f"a {type(raw).__name__}, not a mapping"))
    dataset = DatasetSpec.from_dict(raw, where="dataset.yaml")
    try:
        preprocessing = fmt.read_preprocessing(path)
    except SeqsweepError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise _damaged(path, "preprocessing", exc) from None
    # an edit that still parses (two targets swapped in bundle.json), or the list deleted to make one
    changed = fmt.changed_file(path, listed=manifest.get(fmt.CHECKSUMS_KEY) == fmt.CHECKSUMS)
    if changed is not None:
        raise ConfigError(
            f"{path}: {changed} is not the file `seqsweep export` wrote (its SHA-256 differs from "
            f"{fmt.CHECKSUMS}, or it was added or removed): the bundle was edited or damaged; export it again"
        )
    return ModelBundle(path=path, manifest=manifest, preprocessing=preprocessing, dataset=dataset)


MANIFEST_KEYS = ("framework", "lookback", "horizon", "target_names", "symbols")
"""Keys of `bundle.json` that `predict` reads (besides `format`)."""


def _damaged(path: Path, part: str, exc: BaseException) -> ConfigError:
    """The one line for a bundle file that cannot be read: which one, why, and what to do."""
    reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:160]
    return ConfigError(
        f"{path}: the bundle's {part} is damaged or was edited ({reason}); export the bundle again"
    )
