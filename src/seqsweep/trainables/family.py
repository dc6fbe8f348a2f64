"""What every family shares: the loop's config keys, their defaults and the checks that name the rule.

A family lists its own hyperparameters in `defaults`; `resolve` merges them under the given config,
rejects a misspelt key by name and coerces Tune's numpy scalars to plain Python numbers, so what
the model is built from (and what the checkpoint records) is plain JSON.
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from seqsweep.data.bundle import DataShape
from seqsweep.errors import ConfigError
from seqsweep.trainables.base import DeviceSettings, ModelFamily, TrainableModel

COMMON_DEFAULTS: Mapping[str, Any] = {
    "epochs": 10,  # enough to see a trend on the notebook's data; sweeps usually search it
    "batch_size": 64,  # small enough for a 1-CPU trial, large enough for stable BatchNorm statistics
    "patience": None,  # plateau early stopping on val_loss: None = off, n = stop after n epochs without a gain
}
"""Config keys the shared loop reads, for every family."""


def as_int(family: str, key: str, value: Any, minimum: int) -> int:
    """`value` as an int >= `minimum` (integral floats such as 80.0 are accepted)."""
    ok = isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not ok or int(value) < minimum:
        raise ConfigError(f"{family} config: `{key}` must be an integer >= {minimum}, got {value!r}")
    return int(value)


def as_float(
    family: str, key: str, value: Any, low: float, high: float | None = None, high_open: bool = True
) -> float:
    """`value` as a float in [low, high) (or [low, high] with `high_open=False`; no upper bound if None)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    number = float(value) if ok else float("nan")
    inside = ok and number >= low
    if inside and high is not None:
        inside = number < high if high_open else number <= high
    if not inside:
        rule = f">= {low}" if high is None else f"in [{low}, {high}{')' if high_open else ']'}"
        raise ConfigError(f"{family} config: `{key}` must be {rule}, got {value!r}")
    return number


def as_choice(family: str, key: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{family} config: `{key}` must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


class FamilyBase(ABC):
    """A `ModelFamily` with declared defaults; subclasses add their own checks in `_check`."""

    name: str
    framework: str
    defaults: ClassVar[Mapping[str, Any]] = {}
    """The family's own hyperparameters and their defaults (the common ones are in COMMON_DEFAULTS)."""
    open_config: ClassVar[bool] = False
    """True for a family that accepts keys it does not know (a user's function reads its own)."""

    def resolve(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults merged under `config`, checked and coerced; raises ConfigError naming key and rule."""
        known = {**COMMON_DEFAULTS, **self.defaults}
        if not self.open_config:
            unknown = sorted(set(config) - set(known))
            if unknown:
                raise ConfigError(
                    f"{self.name} config: unknown key {unknown[0]!r} (valid keys: {', '.join(sorted(known))})"
                )
        merged = {**known, **config}
        merged["epochs"] = as_int(self.name, "epochs", merged["epochs"], 1)
        merged["batch_size"] = as_int(self.name, "batch_size", merged["batch_size"], 1)
        if merged["patience"] is not None:
            merged["patience"] = as_int(self.name, "patience", merged["patience"], 1)
        self._check(merged)
        return merged

    def validate_config(self, config: Mapping[str, Any]) -> None:
        self.resolve(config)

    def _check(self, config: dict[str, Any]) -> None:
        """Check and coerce the family's own keys in place (none by default)."""
        return None

    @abstractmethod
    def build(
        self, config: Mapping[str, Any], shape: DataShape, device: DeviceSettings
    ) -> TrainableModel: ...

    @abstractmethod
    def load(self, directory: Path, device: DeviceSettings) -> TrainableModel: ...


def resolve_config(family: ModelFamily, config: Mapping[str, Any]) -> dict[str, Any]:
    """The full config a trial runs with, for any `ModelFamily` (ours declare defaults; others may not)."""
    if isinstance(family, FamilyBase):
        return family.resolve(config)
    family.validate_config(config)
    return {**COMMON_DEFAULTS, **config}


class KerasFamily(FamilyBase):
    """A built-in Keras family: a network builder; compiling, saving and reloading are shared."""

    framework = "keras"

    @abstractmethod
    def network(self, config: dict[str, Any], shape: DataShape) -> Any:
        """The uncompiled `keras.Model` (B, L, F) → (B, H, T, 3) for a resolved config."""

    def build(self, config: Mapping[str, Any], shape: DataShape, device: DeviceSettings) -> TrainableModel:
        from seqsweep.trainables.checkpoint import ModelInfo
        from seqsweep.trainables.keras_common import KerasModel, compile_model

        full = self.resolve(config)
        model = compile_model(self.network(full, shape))
        return KerasModel(model, ModelInfo(self.name, self.framework, full, shape))

    def load(self, directory: Path, device: DeviceSettings) -> TrainableModel:
        from seqsweep.trainables.keras_common import load_whole_model

        return load_whole_model(Path(directory))
