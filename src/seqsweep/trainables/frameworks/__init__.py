"""Framework names → lazily imported adapters (`Framework`), so naming one imports nothing heavy.

    get_framework("torch")          # the torch adapter; torch itself is imported by its methods
    detect(network)                 # the adapter whose model class `network` is (isinstance, once)
    checkpoint_framework(folder)    # the adapter that reads a reported checkpoint folder

The table follows Ray Tune's `SEARCH_ALG_IMPORT` (ray/tune/search/__init__.py): one importer per
name, and an unknown name's error lists the valid ones. A new framework (JAX, ONNX) is one module with
a `FRAMEWORK` object and one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from seqsweep.errors import ConfigError
from seqsweep.trainables.frameworks.base import Framework

FRAMEWORK_IMPORT: Mapping[str, str] = {
    "keras": "seqsweep.trainables.frameworks.keras",
    "torch": "seqsweep.trainables.frameworks.torch",
    "function": "seqsweep.trainables.frameworks.function",
}
"""Framework name → module holding its `FRAMEWORK` adapter."""

TRAINING_FRAMEWORKS = ("keras", "torch")
"""The frameworks a family's network may belong to (`function` trains itself)."""

DETECTED = "auto"
"""A family's `framework` when it is known only from the network it builds (a user's function)."""

__all__ = [
    "DETECTED",
    "FRAMEWORK_IMPORT",
    "TRAINING_FRAMEWORKS",
    "Framework",
    "checkpoint_framework",
    "detect",
    "framework_names",
    "get_framework",
]


def framework_names() -> tuple[str, ...]:
    return tuple(FRAMEWORK_IMPORT)


def get_framework(name: str) -> Framework:
    """The adapter called `name`; ConfigError listing the valid names for any other."""
    module = FRAMEWORK_IMPORT.get(name)
    if module is None:
        raise ConfigError(f"unknown framework {name!r}: use one of {', '.join(FRAMEWORK_IMPORT)}")
    framework: Framework = importlib.import_module(module).FRAMEWORK
    return framework


def detect(network: Any, model: str) -> Framework:
    """The training framework whose model class `network` is an instance of; ConfigError naming
    `model` (the family) otherwise. Imports no framework: one not yet imported cannot own it."""
    for name in TRAINING_FRAMEWORKS:
        framework = get_framework(name)
        if framework.owns(network):
            return framework
    raise ConfigError(
        f"model {model!r}: the function returned {type(network).__name__}; "
        f"expected a keras.Model or a torch.nn.Module"
    )


def checkpoint_framework(directory: str | Path) -> Framework:
    """The adapter of a reported checkpoint folder: `function` when a training function wrote it,
    else the framework its `model.json` records."""
    from seqsweep.trainables.checkpoint import ModelInfo
    from seqsweep.trainables.function import read_marker

    if read_marker(directory) is not None:
        return get_framework("function")
    return get_framework(ModelInfo.read(Path(directory)).framework)
