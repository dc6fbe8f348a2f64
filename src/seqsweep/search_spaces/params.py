"""Search-space parameters as small domain objects with a YAML/JSON round trip.

A sweep file writes each parameter either as a plain value (fixed) or as a mapping with a `type`:

    cell_size: {type: choice, values: [32, 64, 124]}
    hidden_size: {type: int, low: 16, high: 128, log: true}
    dropout_rate_1: {type: uniform, low: 0.0, high: 0.5}
    learning_rate: {type: loguniform, low: 1.0e-4, high: 1.0e-2}
    kl_weight: {type: quniform, low: 0.0, high: 0.2, q: 0.05}

Each kind converts to an Optuna distribution (the searchers run on Optuna) and lists its corner
values, so a family can check every extreme combination before any compute is spent.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import optuna.distributions as od

from seqsweep._config import key_text, unknown_keys
from seqsweep._yaml import number_text_hint
from seqsweep.errors import ConfigError
from seqsweep.search_spaces.run_rules import run_rule


@dataclass(frozen=True)
class Fixed:
    value: Any
    kind: ClassVar[str] = "fixed"

    def corners(self) -> list[Any]:
        return [self.value]


@dataclass(frozen=True)
class Choice:
    values: tuple[Any, ...]
    kind: ClassVar[str] = "choice"

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("`values` must list at least one value")

    def unmeant(self) -> str | None:
        """A run rule (`run_rules`) the values break, in words; None when they break none.

        `[16, 16, 32]` drew 16 twice as often and ran it twice in a grid; `[0.1, 0.10]` too."""
        for i, value in enumerate(self.values):
            twin = next((v for v in self.values[:i] if _same_value(v, value)), _NONE)
            if twin is not _NONE:
                both = (
                    f"{value!r} twice" if repr(twin) == repr(value) else f"{twin!r} and {value!r}, one value"
                )
                return f"`values` lists {both}; list each value once"
        return None

    def corners(self) -> list[Any]:
        return list(self.values)

    def to_optuna(self) -> od.BaseDistribution:
        return od.CategoricalDistribution(list(self.values))


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int
    """Inclusive."""
    log: bool = False
    step: int = 1
    kind: ClassVar[str] = "int"

    def __post_init__(self) -> None:
        _check_order(self.low, self.high)
        if self.log and self.low < 1:
            raise ValueError(f"`low >= 1` must hold for a log scale, but got low={self.low}")
        if self.step < 1 or (self.log and self.step != 1):
            raise ValueError(f"`step` must be >= 1 (and 1 on a log scale), got step={self.step}")

    def unmeant(self) -> str | None:
        """A run rule (`run_rules`) the range breaks, in words; None when it breaks none.

        Optuna cut a range whose `high` no step reaches to the last step below it (16 to 60 by 16 draws
        16 ... 48) with a warning no one saw, and the family checked a `high` no trial could draw."""
        if (self.high - self.low) % self.step:
            below = self.high - (self.high - self.low) % self.step
            return (
                f"`high - low` must be a multiple of step, but got low={self.low}, high={self.high}, "
                f"step={self.step}; write high: {below} or {below + self.step}"
            )
        return None

    def corners(self) -> list[Any]:
        return [self.low, self.high]

    def to_optuna(self) -> od.BaseDistribution:
        return od.IntDistribution(self.low, self.high, log=self.log, step=self.step)


INTERIOR = math.sqrt(2) - 1
"""Where between its ends a continuous range is checked (an irrational fraction: never a whole number
between whole ends)."""


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float
    kind: ClassVar[str] = "uniform"

    def __post_init__(self) -> None:
        _check_order(self.low, self.high)

    def corners(self) -> list[Any]:
        """Both ends and one fraction between them (`INTERIOR`): a range over an integer parameter
        (`hidden_size: {type: uniform, low: 4, high: 8}`) has whole ends but draws 5.66, which the
        family's check must see before a trial does."""
        return [self.low, self.low + (self.high - self.low) * INTERIOR, self.high]

    def to_optuna(self) -> od.BaseDistribution:
        return od.FloatDistribution(self.low, self.high)


@dataclass(frozen=True)
class LogUniform(Uniform):
    kind: ClassVar[str] = "loguniform"

    def __post_init__(self) -> None:
        _check_order(self.low, self.high)
        if self.low <= 0:
            raise ValueError(f"`low > 0` must hold for a log scale, but got low={self.low}")

    def to_optuna(self) -> od.BaseDistribution:
        return od.FloatDistribution(self.low, self.high, log=True)


@dataclass(frozen=True)
class QUniform:
    low: float
    high: float
    q: float
    kind: ClassVar[str] = "quniform"

    def __post_init__(self) -> None:
        _check_order(self.low, self.high)
        if self.q <= 0:
            raise ValueError(f"`q > 0` must hold, but got q={self.q}")
        steps = (self.high - self.low) / self.q
        if not math.isclose(steps, round(steps), abs_tol=1e-9):
            raise ValueError(
                f"`high - low` must be a multiple of q, but got low={self.low}, high={self.high}, q={self.q}"
            )

    def corners(self) -> list[Any]:
        """Both ends and the first step above `low` (`q: 0.5` over an integer parameter draws 4.5)."""
        return (
            [self.low, self.low + self.q, self.high]
            if self.low + self.q < self.high
            else [self.low, self.high]
        )

    def to_optuna(self) -> od.BaseDistribution:
        return od.FloatDistribution(self.low, self.high, step=self.q)


Param = Fixed | Choice | IntRange | Uniform | LogUniform | QUniform
Searched = Choice | IntRange | Uniform | LogUniform | QUniform

PARAM_KINDS: dict[str, type] = {
    cls.kind: cls for cls in (Fixed, Choice, IntRange, Uniform, LogUniform, QUniform)
}


_NONE = object()
"""No value (`None` may be a choice)."""


def _same_value(a: Any, b: Any) -> bool:
    """Whether `a` and `b` are one value: equal, and both or neither true/false (Python has `1 == True`)."""
    return isinstance(a, bool) == isinstance(b, bool) and bool(a == b)


def _check_order(low: float, high: float) -> None:
    if not low < high:
        raise ValueError(f"`low < high` must hold, but got (low={low}, high={high})")


def parse_param(name: str, raw: Any) -> Param:
    """A sweep file's entry → a parameter. Plain values (and lists of them) are fixed."""
    if not isinstance(raw, dict):
        _check_not_number_text(f"params.{name}", raw)
        return Fixed(raw)
    raw = dict(raw)
    kind = raw.pop("type", None)
    if not isinstance(kind, str) or kind not in PARAM_KINDS:
        raise ConfigError(f"params.{name}.type: must be one of {', '.join(PARAM_KINDS)}, got {kind!r}")
    cls = PARAM_KINDS[kind]
    allowed = [f.name for f in dataclasses.fields(cls) if f.name != "kind"]
    unknown = unknown_keys(raw, allowed)
    if unknown:
        raise ConfigError(
            f"params.{name}: unknown key {key_text(unknown[0])} for type {kind} "
            f"(valid keys: type, {', '.join(allowed)})"
        )
    if cls is Choice and "values" in raw:
        if not isinstance(raw["values"], list):
            raise ConfigError(f"params.{name}.values: expected a list, got {raw['values']!r}")
        raw["values"] = tuple(raw["values"])
        for i, value in enumerate(raw["values"]):
            _check_not_number_text(f"params.{name}.values[{i}]", value)
    for key, value in raw.items():
        _check_field(name, cls, key, value)
    try:
        param = cls(**raw)
    except TypeError as exc:
        raise ConfigError(f"params.{name}: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"params.{name}: {exc}") from None
    unmeant = param.unmeant() if isinstance(param, Choice | IntRange) else None
    if unmeant is not None:
        run_rule(f"params.{name}: {unmeant}")
    return param


def _check_not_number_text(where: str, value: Any) -> None:
    """ConfigError (one line) for a value YAML 1.1 reads as text that YAML 1.2 and Python read as a number
    (`learning_rate: 1e-3`, `0o17`). A family's own table refuses it for its keys, but a training function
    or a model builder of the user's would get the string '1e-3' without a word. A list is checked item
    by item (`layers: [64, 1e2]`)."""
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_not_number_text(f"{where}[{i}]", item)
        return
    hint = number_text_hint(value)
    if hint:
        raise ConfigError(f"{where}: got the text {value!r}, not a number{hint}")


def _check_field(name: str, cls: type, key: str, value: Any) -> None:
    """ConfigError (one line) for a bound, step or flag of the wrong kind: YAML 1.1 reads `1e-3` as text
    (`low: 1e-3` failed deep inside with an unexpected error), `log: 'false'` is a true string to Optuna
    (a log scale without a word), `step: 2.5` on an int range was cut to 2."""
    where = f"params.{name}.{key}"
    if key == "log":
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: must be true or false, got {value!r}")
        return
    if key not in ("low", "high", "q", "step"):
        return
    whole = cls is IntRange
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or (whole and not isinstance(value, int)):
        kind = "a whole number" if whole else "a finite number"
        raise ConfigError(f"{where}: must be {kind}, got {value!r}{number_text_hint(value, integer=whole)}")


def param_to_dict(param: Param) -> Any:
    """The inverse of `parse_param` (fixed values stay plain)."""
    if isinstance(param, Fixed):
        return param.value
    data = asdict(param)
    if isinstance(param, Choice):
        data["values"] = list(param.values)
    return {"type": param.kind, **data}
