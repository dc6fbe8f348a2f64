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
import inspect
from collections.abc import Callable
from typing import Any

from seqsweep.data.bundle import DataShape
from seqsweep.errors import UnknownModelError, message_of
from seqsweep.trainables.family import ModelFamily
from seqsweep.trainables.frameworks import DETECTED


def import_function(spec: str) -> Callable[..., Any]:
    """The callable named by `package.module:function`; UnknownModelError (one line) if it cannot be had."""
    module_name, _, function_name = spec.partition(":")
    if not module_name or not function_name or ":" in function_name:
        raise UnknownModelError(f"model {spec!r}: write a user model as 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # any error while importing the user's module; a `sys.exit()`
        # there ended the command with its status and no line (exit 0: nothing trained, said nothing)
        raise UnknownModelError(
            f"model {spec!r}: cannot import module {module_name!r} ({type(exc).__name__}: {message_of(exc)})"
            f"{_where_hint(exc, module_name)}"
        ) from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise UnknownModelError(f"model {spec!r}: module {module_name!r} has no function {function_name!r}")
    found: Callable[..., Any] = function
    return found


def check_signature(spec: str, function: Callable[..., Any], arguments: tuple[str, ...]) -> None:
    """UnknownModelError (one line) when `function` cannot be called with the positional `arguments`
    (their names, e.g. ("config", "shape")): every trial would fail with a TypeError once the dataset is
    built, and `run` end with exit 1 for what is bad input. A callable without a signature Python can
    read (some builtins) is left to the trial."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(*(None for _ in arguments))
    except TypeError as exc:
        empty = inspect.Parameter.empty
        bare = signature.replace(  # the names only: annotations may be strings (`from __future__`)
            parameters=[p.replace(annotation=empty) for p in signature.parameters.values()],
            return_annotation=empty,
        )
        raise UnknownModelError(
            f"model {spec!r}: the function must take ({', '.join(arguments)}), its signature is "
            f"{bare} ({exc})"
        ) from None


def _where_hint(exc: BaseException, module_name: str) -> str:
    """How to make the user's own package importable, when it is the package Python did not find (not a
    module that package imports): the current folder is not on Python's path for a console script."""
    missing = getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None
    if missing is None or not (module_name == missing or module_name.startswith(f"{missing}.")):
        return ""
    return (
        f"; put the folder holding {missing!r} on PYTHONPATH (`PYTHONPATH=. seqsweep ...` from that folder) "
        f"or pip install it"
    )


class UserFamily(ModelFamily):
    """A user's function as a family: its framework is detected from the network it returns, and it
    goes through the same adapters, loop, reports and checkpoints as a built-in family."""

    framework = DETECTED  # known only once the function has returned; the loop seeds and sizes both
    open_config = True
    rebuild_on_load = True

    def __init__(self, spec: str) -> None:
        self.name = spec
        self.function = import_function(spec)
        check_signature(spec, self.function, ("config", "shape"))

    def network(self, config: dict[str, Any], shape: DataShape) -> Any:
        """Whatever the user's function returns for (a copy of) `config` and `shape`."""
        return self.function(dict(config), shape)
