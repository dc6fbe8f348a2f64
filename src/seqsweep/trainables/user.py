"""A user's own model: `model: "package.module:function"` in a sweep file.

The function is called as `function(config: dict, shape: DataShape)` and returns either

- an uncompiled `keras.Model` mapping (B, L, F) → (B, H, T, 3) class probabilities (softmax over the
  last axis); it is compiled with the masked cross-entropy and the notebook's Adadelta; or
- a `torch.nn.Module` mapping a float32 tensor (B, L, F) → (B, H, T, 3) class logits; it is trained
  with the masked cross-entropy and AdamW(`learning_rate`, `weight_decay` from the config, defaults
  1e-3 and 1e-2).

Inputs carry MASK_VALUE (-50) at missing steps (a Keras model can start with `Masking(-50)`).
`config` holds the searched and fixed keys plus `epochs`, `batch_size` and `patience`. To reload a
checkpoint the function is called again with the saved config and the weights are loaded into what it
returns, so it must build the same architecture for the same config.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from seqsweep.constants import N_CLASSES
from seqsweep.data.bundle import DataShape
from seqsweep.errors import ConfigError, UnknownModelError
from seqsweep.trainables.base import DeviceSettings, TrainableModel
from seqsweep.trainables.checkpoint import ModelInfo
from seqsweep.trainables.family import FamilyBase


def import_function(spec: str) -> Callable[..., Any]:
    """The callable named by `package.module:function`; UnknownModelError (one line) if it cannot be had."""
    module_name, _, function_name = spec.partition(":")
    if not module_name or not function_name or ":" in function_name:
        raise UnknownModelError(f"model {spec!r}: write a user model as 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any error while importing the user's module
        raise UnknownModelError(
            f"model {spec!r}: cannot import module {module_name!r} ({type(exc).__name__}: {exc})"
        ) from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise UnknownModelError(f"model {spec!r}: module {module_name!r} has no function {function_name!r}")
    return function  # type: ignore[no-any-return]


class UserFamily(FamilyBase):
    """Wraps a user's function in the Keras or torch adapter: same loop, reports and checkpoints."""

    framework = "auto"  # known only once the function has returned; the loop seeds and sizes both
    open_config = True

    def __init__(self, spec: str) -> None:
        self.name = spec
        self.function = import_function(spec)

    def build(self, config: Mapping[str, Any], shape: DataShape, device: DeviceSettings) -> TrainableModel:
        full = self.resolve(config)
        return self._wrap(self._call(full, shape), full, shape, device)

    def load(self, directory: Path, device: DeviceSettings) -> TrainableModel:
        directory = Path(directory)
        info = ModelInfo.read(directory)
        model = self._wrap(self._call(info.config, info.shape), info.config, info.shape, device)
        if info.framework == "keras":
            model.load_weights(directory)
        else:
            model.load_state(directory)
        loaded: TrainableModel = model
        return loaded

    def _call(self, config: dict[str, Any], shape: DataShape) -> Any:
        return self.function(dict(config), shape)

    def _wrap(self, network: Any, config: dict[str, Any], shape: DataShape, device: DeviceSettings) -> Any:
        keras = sys.modules.get("keras")
        torch = sys.modules.get("torch")
        if keras is not None and isinstance(network, keras.Model):
            return self._wrap_keras(network, config, shape)
        if torch is not None and isinstance(network, torch.nn.Module):
            return self._wrap_torch(network, config, shape, device)
        raise ConfigError(
            f"model {self.name!r}: the function returned {type(network).__name__}; "
            f"expected a keras.Model or a torch.nn.Module"
        )

    def _expected(self, shape: DataShape) -> tuple[int, int, int]:
        return (shape.horizon, shape.n_targets, N_CLASSES)

    def _wrap_keras(self, network: Any, config: dict[str, Any], shape: DataShape) -> Any:
        from seqsweep.trainables.keras_common import KerasModel, compile_model

        output = tuple(network.output_shape[1:])
        if output != self._expected(shape):
            raise ConfigError(
                f"model {self.name!r}: the keras.Model outputs (batch, {', '.join(map(str, output))}); "
                f"the dataset needs (batch, {', '.join(map(str, self._expected(shape)))})"
            )
        compile_model(network)
        return KerasModel(network, ModelInfo(self.name, "keras", config, shape), whole_model=False)

    def _wrap_torch(
        self, network: Any, config: dict[str, Any], shape: DataShape, device: DeviceSettings
    ) -> Any:
        import torch

        from seqsweep.trainables.device import torch_device
        from seqsweep.trainables.torch_common import TorchModel, adamw, split_output

        target = torch_device(device)
        network = network.to(target)
        probe = torch.zeros((1, shape.lookback, shape.n_features), device=target)
        with torch.no_grad():
            logits, _ = split_output(network.eval()(probe))
        if tuple(logits.shape[1:]) != self._expected(shape):
            raise ConfigError(
                f"model {self.name!r}: the torch module outputs (batch, {', '.join(map(str, logits.shape[1:]))}); "
                f"the dataset needs (batch, {', '.join(map(str, self._expected(shape)))})"
            )
        info = ModelInfo(self.name, "torch", config, shape)
        return TorchModel(network, info, target, adamw(network, config))
