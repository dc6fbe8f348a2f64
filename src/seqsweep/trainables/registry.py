"""Family names → lazy importers, so that naming a family never imports a framework it does not use.

`resolve_family("lstm")` imports only `seqsweep.trainables.lstm` (which defers Keras to `build`);
anything with a ':' is a user's `package.module:function`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from seqsweep.errors import UnknownModelError
from seqsweep.trainables.family import ModelFamily

FAMILIES: Mapping[str, str] = {
    "lstm": "seqsweep.trainables.lstm:LSTMFamily",
    "lstm_vae": "seqsweep.trainables.lstm_vae:LSTMVAEFamily",
    "gru": "seqsweep.trainables.gru:GRUFamily",
}
"""Built-in family name → `module:class` of its `ModelFamily`: a new built-in family adds one line."""


def family_names() -> tuple[str, ...]:
    return tuple(FAMILIES)


def is_user_model(name: str) -> bool:
    """A `package.module:function` rather than a built-in name."""
    return ":" in name


def resolve_family(name: str) -> ModelFamily:
    """The family called `name`; raises UnknownModelError listing the valid names."""
    if is_user_model(name):
        from seqsweep.trainables.user import UserFamily

        return UserFamily(name)
    target = FAMILIES.get(name)
    if target is None:
        raise UnknownModelError(
            f"unknown model {name!r}: use one of {', '.join(FAMILIES)} or 'package.module:function'"
        )
    module_name, class_name = target.split(":")
    family_class = getattr(importlib.import_module(module_name), class_name)
    family: ModelFamily = family_class()
    return family
