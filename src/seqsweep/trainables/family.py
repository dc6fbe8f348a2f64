"""`ModelFamily`: the one base class of every model family, built-in or a user's function.

A family declares its `name`, its `framework`, its `hyperparameters` (a table of `Int`/`Float`/
`Choice`, see `seqsweep.trainables.hyperparameters`) and an `example_config`, and writes one method,
`network(config, shape)`. Resolving and validating configs, building, checkpoint reloading and the
training machinery come from the base and the framework adapter. Optional hooks (`check`,
`optimizer`, `scheduler`, `predicts_moves`) are real methods with defaults, documented by when they
are called. A new built-in family is its own module plus one line in `registry.FAMILIES`.

The model of this design is Optuna's `BaseSampler` (optuna/samplers/_base.py): one ABC, its abstract
method documented by when it is called, optional hooks as methods with defaults.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from seqsweep._config import unknown_keys
from seqsweep.data.bundle import DataShape
from seqsweep.errors import ConfigError
from seqsweep.trainables.base import DeviceSettings, TrainableModel
from seqsweep.trainables.checkpoint import ModelInfo
from seqsweep.trainables.frameworks import DETECTED, TRAINING_FRAMEWORKS, Framework, detect, get_framework
from seqsweep.trainables.hyperparameters import COMMON, Hyperparameter, Invalid

if TYPE_CHECKING:
    import torch


class ModelFamily(ABC):
    """A named way to build, check and reload models. Registered in `registry.FAMILIES`."""

    name: str
    """The registry name (or a user's `package.module:function`)."""
    framework: ClassVar[str]
    """The framework's name in `frameworks.FRAMEWORK_IMPORT` (`keras`, `torch`), or `frameworks.DETECTED`
    when only the built network tells (a user's function)."""
    hyperparameters: ClassVar[Mapping[str, Hyperparameter]] = {}
    """The family's own keys with their rules and defaults; `hyperparameters.COMMON` (epochs,
    batch_size, patience) is merged under it, and an entry here overrides a common default."""
    example_config: ClassVar[Mapping[str, Any] | None] = None
    """A small, fast config (without epochs/batch_size) that the contract suite trains. Every
    registered family needs one."""
    open_config: ClassVar[bool] = False
    """True for a family that accepts keys it does not declare (a user's function reads its own)."""
    rebuild_on_load: ClassVar[bool] = False
    """True: checkpoints keep weights only and reloading calls `network` again (a user's function,
    whose layers only its own module may define). False: the framework's self-contained format."""

    # --- the one method a family writes -----------------------------------------------------------

    @abstractmethod
    def network(self, config: dict[str, Any], shape: DataShape) -> Any:
        """The untrained network for a resolved `config`: a `keras.Model` (B, L, F) → (B, H, T, 3)
        probabilities, or a `torch.nn.Module` (B, L, F) → (B, H, T, 3) logits (plus (B, H, T) moves when
        `predicts_moves`). Called by `build`, for each fold's model and again on reload."""

    # --- optional hooks ---------------------------------------------------------------------------

    def check(self, config: dict[str, Any]) -> None:
        """Cross-field rules the table cannot express; raise ConfigError via `self.invalid`. Called by
        `resolve` after every key has passed its own rule. Default: nothing."""
        return None

    def optimizer(self, network: Any, config: Mapping[str, Any]) -> torch.optim.Optimizer:
        """The torch optimizer of a freshly built network. Called by the torch adapter's `wrap`.
        Default: AdamW(`learning_rate`, `weight_decay`; 1e-3 and 1e-2 when absent). Keras families are
        compiled with the notebook's Adadelta (`keras_common.compile_model`) instead."""
        from seqsweep.trainables.torch_common import adamw

        return adamw(network, dict(config))

    def scheduler(self, optimizer: Any, config: Mapping[str, Any]) -> Any | None:
        """A learning-rate scheduler stepped on each epoch's validation loss (`TrainableModel.end_epoch`),
        or None. Called by the torch adapter's `wrap`, after `optimizer`. Default: None."""
        return None

    def predicts_moves(self, config: Mapping[str, Any]) -> bool:
        """True when the network also returns moves and trains on CE + MSE (the regression objective).
        Called by the torch adapter's `wrap`. Default: False."""
        return False

    # --- supplied by the base ---------------------------------------------------------------------

    @property
    def frameworks(self) -> tuple[Framework, ...]:
        """The adapters to configure and seed before the network exists: the declared one, or every
        training framework when the network will tell (`DETECTED`)."""
        names = TRAINING_FRAMEWORKS if self.framework == DETECTED else (self.framework,)
        return tuple(get_framework(name) for name in names)

    def table(self) -> dict[str, Hyperparameter]:
        """Every key this family reads: the common ones, then its own (which may override them)."""
        return {**COMMON, **self.hyperparameters}

    def invalid(self, key: str, message: str) -> ConfigError:
        """The ConfigError for `key`, in the sweep file's dialect: `params.<key>: <message> (family <name>)`."""
        return ConfigError(f"params.{key}: {message} (family {self.name})")

    def resolve(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults merged under `config`, each key checked and coerced to a plain Python value, then
        `check`. Raises ConfigError naming the key, the rule and the value, e.g.
        `params.cell_size: must be an integer >= 2, got 1 (family lstm)`."""
        table = self.table()
        if not self.open_config:
            unknown = unknown_keys(config, table)
            if unknown:
                raise self.invalid(str(unknown[0]), f"unknown key (valid keys: {', '.join(sorted(table))})")
        merged = {**{key: rule.default for key, rule in table.items()}, **config}
        for key, rule in table.items():
            try:
                merged[key] = rule.check(merged[key])
            except Invalid as exc:
                raise self.invalid(key, f"must be {exc or rule.rule}, got {merged[key]!r}") from None
        self.check(merged)
        return merged

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Raise ConfigError for a config this family cannot build (what `resolve` checks). The sweep
        schema calls it on every corner of a search space."""
        self.resolve(config)

    def build(self, config: Mapping[str, Any], shape: DataShape, device: DeviceSettings) -> TrainableModel:
        """A fresh trainable model: `resolve(config)`, `network`, then the framework adapter's `wrap`.
        Called by the loop once per fold (after seeding) and by `load` to rebuild."""
        full = self.resolve(config)
        network = self.network(full, shape)
        framework = detect(network, self.name)
        if self.framework not in (DETECTED, framework.name):
            raise ConfigError(
                f"model {self.name!r}: declares framework {self.framework} but its network is a "
                f"{framework.name} model"
            )
        return framework.wrap(network, ModelInfo(self.name, framework.name, full, shape), device, self)

    def load(self, directory: Path, device: DeviceSettings) -> TrainableModel:
        """Reload what `TrainableModel.save` wrote into `directory`, optimizer state included. Called
        by the loop to resume a trial and by `load_checkpoint`."""
        directory = Path(directory)
        info = ModelInfo.read(directory)
        return get_framework(info.framework).restore(
            directory, info, device, rebuild=lambda: self.build(info.config, info.shape, device)
        )
