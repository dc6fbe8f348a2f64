"""Several model families in one sweep: a conditional search space.

A sweep file asks for it with a `choice` of families as its `model` and one `params` block per family
(plus `common`, shared by every family):

    model: {type: choice, values: [lstm, gru]}
    params:
      common: {epochs: 4, batch_size: 64}
      lstm: {cell_size: {type: choice, values: [16, 32]}}
      gru: {hidden_size: {type: int, low: 16, high: 64}}

The space is kept flat with namespaced names: a common parameter under its own name, a family's
parameter as `family/name` (`lstm/cell_size`). The searcher (`FamilySpace`, Optuna's define-by-run
`space` of Ray's `OptunaSearch`) suggests `model` first and then only that family's parameters, so
TPE never mixes one family's parameters into another's; Ray nests `lstm/cell_size` as
`config["lstm"]["cell_size"]`. A trial's config therefore holds `model`, the searched common keys and
one block, the chosen family's; `trial_config` flattens it back (common + the block) for the family.

This module imports neither Ray nor a framework: the searcher, the trainable and the results all use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seqsweep.search_spaces.params import (
    Choice,
    Fixed,
    IntRange,
    LogUniform,
    Param,
    QUniform,
    Uniform,
)

MODEL_KEY = "model"
"""The trial config's key holding the chosen family (and the name of the searched family choice)."""
COMMON = "common"
"""The `params` block every family of a mixed sweep shares."""
SEP = "/"
"""Between a family and its parameter in a namespaced name; Ray's `unflatten_dict` nests on it."""


def qualified(family: str, name: str) -> str:
    """The flat name of a family's parameter: `lstm/cell_size`."""
    return f"{family}{SEP}{name}"


def split_name(name: str) -> tuple[str | None, str]:
    """(family, parameter) of a flat name; family None for a common parameter."""
    family, sep, rest = name.partition(SEP)
    return (family, rest) if sep else (None, name)


def family_space(space: Mapping[str, Param], family: str) -> dict[str, Param]:
    """One family's whole space, its own names: the common parameters, then its block (which wins)."""
    common = {name: p for name, p in space.items() if split_name(name)[0] is None}
    own = {split_name(name)[1]: p for name, p in space.items() if split_name(name)[0] == family}
    return {**common, **own}


def applies_to(name: str, family: str) -> bool:
    """Whether the flat parameter `name` is one of `family`'s (common parameters are everyone's)."""
    owner = split_name(name)[0]
    return owner is None or owner == family


def lookup(config: Mapping[str, Any], name: str) -> Any:
    """A parameter's value in a trial config (nested by Ray, or flat), by its flat name; None if absent."""
    if name in config:
        return config[name]
    family, rest = split_name(name)
    block = config.get(family) if family is not None else None
    return block.get(rest) if isinstance(block, Mapping) else None


def trial_config(
    config: Mapping[str, Any], fixed: Mapping[str, Any], families: tuple[str, ...]
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(family, searched config, fixed config) of one trial of a mixed sweep, flattened for the family.

    `config` is what the searcher suggested (`model`, searched common keys, the chosen family's block,
    nested or as `family/name`); `fixed` is the sweep's fixed values with flat names. Other families'
    keys are dropped; a family outside `families` is a ValueError (the config is not this sweep's).
    """
    family = config.get(MODEL_KEY)
    if family not in families:
        raise ValueError(f"the trial config names model {family!r}, not one of {', '.join(families)}")

    def flatten(values: Mapping[str, Any]) -> dict[str, Any]:
        flat: dict[str, Any] = {}
        for key, value in values.items():
            if key == MODEL_KEY:
                continue
            if key in families:
                if key == family and isinstance(value, Mapping):
                    flat.update(value)
                continue
            owner, name = split_name(key)
            if owner is None:
                flat.setdefault(name, value)
            elif owner == family:
                flat[name] = value
        return flat

    return str(family), flatten(config), flatten(fixed)


def suggest(trial: Any, name: str, param: Param) -> Any:
    """Ask an Optuna trial (or Ray's captor of one) for `param` under `name`, with a `suggest_*` call."""
    if isinstance(param, Fixed):
        return param.value
    if isinstance(param, Choice):
        return trial.suggest_categorical(name, list(param.values))
    if isinstance(param, IntRange):
        return trial.suggest_int(name, param.low, param.high, step=param.step, log=param.log)
    if isinstance(param, LogUniform):
        return trial.suggest_float(name, param.low, param.high, log=True)
    if isinstance(param, QUniform):
        return trial.suggest_float(name, param.low, param.high, step=param.q)
    if isinstance(param, Uniform):
        return trial.suggest_float(name, param.low, param.high)
    raise TypeError(f"cannot suggest a {type(param).__name__}")


class FamilySpace:
    """Define-by-run space for Ray's `OptunaSearch`: the family first, then that family's parameters.

    Picklable (the searcher is saved with the experiment and restored by `resume`). Only searched
    parameters are suggested; fixed ones reach the trial through `TrialSettings.fixed`.
    """

    def __init__(self, families: tuple[str, ...], searched: Mapping[str, Param]) -> None:
        self.families = tuple(families)
        self.searched = dict(searched)

    def __call__(self, trial: Any) -> None:
        family = trial.suggest_categorical(MODEL_KEY, list(self.families))
        for name, param in self.searched.items():
            if applies_to(name, family):
                suggest(trial, name, param)
