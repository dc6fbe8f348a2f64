"""Declarative hyperparameter tables: a family lists its keys with type, bounds and default, once.

    hyperparameters = {
        "cell_size": Int(2, default=80),
        "dropout_rate_1": Float(0, 1, closed="left", default=0.3),
        "objective": Choice(("classification", "regression"), default="classification"),
    }

`ModelFamily.resolve` merges the defaults under a config, coerces each value (Tune's numpy scalars
become plain Python numbers, so checkpoints record plain JSON) and turns a value outside its rule
into one ConfigError line in the sweep file's dialect:

    params.cell_size: must be an integer >= 2, got 1 (family lstm)

The spirit is scikit-learn's `_parameter_constraints` with `Interval` and `StrOptions`
(sklearn/utils/_param_validation.py): the rule is data, and the message is generated from it.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Closed = Literal["both", "left", "right", "neither"]
"""Which ends of a `Float` interval belong to it: [low, high], [low, high), (low, high] or (low, high)."""


class Invalid(ValueError):
    """A value outside its hyperparameter's rule; `ModelFamily.resolve` turns it into a ConfigError
    (`must be <the exception's text, else the rule>`)."""


class Hyperparameter(ABC):
    """One key of a family's table: what it accepts (`rule`), its default, and the coercion."""

    default: Any
    allow_none: bool

    @property
    @abstractmethod
    def rule(self) -> str:
        """What the key accepts, worded to follow "must be", e.g. "an integer >= 2"."""

    @abstractmethod
    def _coerce(self, value: Any) -> Any:
        """`value` as a plain Python value; raises Invalid when it breaks the rule."""

    def check(self, value: Any) -> Any:
        """`value` coerced (None passes only with `allow_none`); raises Invalid naming the rule."""
        if value is None and self.allow_none:
            return None
        return self._coerce(value)

    def __post_init__(self) -> None:
        """A default that breaks its own rule is refused when the table is declared (ValueError)."""
        try:
            self.check(self.default)
        except Invalid:
            raise ValueError(f"default {self.default!r} breaks its own rule: must be {self.rule}") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _bound_text(low: float | None, high: float | None, left: str, right: str) -> str:
    if low is not None and high is not None:
        return f"in {left}{low}, {high}{right}"
    if low is not None:
        return f"{'>=' if left == '[' else '>'} {low}"
    if high is not None:
        return f"{'<=' if right == ']' else '<'} {high}"
    return ""


@dataclass(frozen=True)
class Int(Hyperparameter):
    """An integer in [low, high] (either end None: unbounded). Integral floats such as 80.0 are accepted
    (a search space's `uniform` may hand them over); booleans are not integers here."""

    low: int | None = None
    high: int | None = None
    default: Any = None
    allow_none: bool = False
    """None is a value of its own (e.g. `patience: null` = no early stopping)."""

    @property
    def rule(self) -> str:
        bounds = _bound_text(self.low, self.high, "[", "]")
        text = f"an integer {bounds}".rstrip()
        return f"{text} or null" if self.allow_none else text

    def _coerce(self, value: Any) -> int:
        integral = isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not integral:
            raise Invalid(self.rule)
        number = int(value)
        if (self.low is not None and number < self.low) or (self.high is not None and number > self.high):
            raise Invalid(self.rule)
        return number


@dataclass(frozen=True)
class Float(Hyperparameter):
    """A real number in an interval of `low`, `high` (either None: unbounded) with `closed` ends;
    ints are accepted and returned as floats, NaN and ±infinity never are (`learning_rate: .inf` would
    pass every bound check and end each trial in a NaN loss)."""

    low: float | None = None
    high: float | None = None
    closed: Closed = "both"
    default: Any = None
    allow_none: bool = False

    @property
    def _ends(self) -> tuple[str, str]:
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        return left, right

    @property
    def rule(self) -> str:
        text = _bound_text(self.low, self.high, *self._ends) or "a number"
        return f"{text} or null" if self.allow_none else text

    def _coerce(self, value: Any) -> float:
        if not _is_number(value) or math.isnan(float(value)):
            raise Invalid(self.rule)
        number = float(value)
        if math.isinf(number):
            raise Invalid(f"finite, {self.rule}")
        left, right = self._ends
        if self.low is not None and (number < self.low or (left == "(" and number == self.low)):
            raise Invalid(self.rule)
        if self.high is not None and (number > self.high or (right == ")" and number == self.high)):
            raise Invalid(self.rule)
        return number


@dataclass(frozen=True)
class Choice(Hyperparameter):
    """One of `options` (compared with ==; the option itself is returned)."""

    options: tuple[Any, ...] = ()
    default: Any = None
    allow_none: bool = False

    @property
    def rule(self) -> str:
        return "one of " + ", ".join(str(o) for o in self.options)

    def _coerce(self, value: Any) -> Any:
        for option in self.options:
            if value == option and type(value) is not bool:
                return option
        raise Invalid(self.rule)


Table = Mapping[str, Hyperparameter]
"""A family's hyperparameters: config key → its rule and default."""

COMMON: Table = {
    "epochs": Int(1, default=10),  # enough to see a trend on the notebook's data; sweeps usually search it
    "batch_size": Int(1, default=64),  # small enough for a 1-CPU trial, large enough for stable BatchNorm
    "patience": Int(1, default=None, allow_none=True),  # plateau early stopping on val_loss; null = off
}
"""Keys the shared loop reads, for every family (a family's own table may override a default)."""
