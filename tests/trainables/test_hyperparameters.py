"""The declarative hyperparameter table: types, bounds, choices, defaults and the messages it writes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pytest

from seqsweep.data.bundle import DataShape
from seqsweep.errors import ConfigError
from seqsweep.trainables import Choice, Float, Int, ModelFamily
from seqsweep.trainables.hyperparameters import COMMON, Hyperparameter, Invalid


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        (Int(2, default=80), 8, 8),
        (Int(2, default=80), 8.0, 8),
        (Int(2, default=80), np.int64(9), 9),
        (Int(1, 3, default=1), 3, 3),
        (Float(0, 1, closed="left", default=0.3), 0, 0.0),
        (Float(0, 1, closed="left", default=0.3), np.float32(0.25), 0.25),
        (Float(0, default=0.1), 1e9, 1e9),
        (Float(0, 1, closed="neither", default=0.5), 0.999, 0.999),
        (Choice(("a", "b"), default="a"), "b", "b"),
        (Int(1, default=None, allow_none=True), None, None),
    ],
)
def test_values_inside_the_rule_come_back_plain(rule: Hyperparameter, value: Any, expected: Any) -> None:
    got = rule.check(value)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    ("rule", "value", "text"),
    [
        (Int(2, default=80), 1, "an integer >= 2"),
        (Int(2, default=80), 8.5, "an integer >= 2"),
        (Int(2, default=80), True, "an integer >= 2"),
        (Int(2, default=80), "8", "an integer >= 2"),
        (Int(2, default=80), None, "an integer >= 2"),
        (Int(1, 3, default=1), 4, "an integer in [1, 3]"),
        (Float(0, 1, closed="left", default=0.3), 1.0, "in [0, 1)"),
        (Float(0, 1, closed="left", default=0.3), -0.1, "in [0, 1)"),
        (Float(0, 1, closed="neither", default=0.5), 0, "in (0, 1)"),
        (Float(0, 1, closed="right", default=0.5), 0.0, "in (0, 1]"),
        (Float(0, default=0.1), float("nan"), ">= 0"),
        (Float(0, default=0.1), False, ">= 0"),
        (Float(high=5, default=1.0), 6, "<= 5"),
        (
            Choice(("classification", "regression"), default="classification"),
            "ranking",
            "one of classification, regression",
        ),
        (Int(1, default=None, allow_none=True), 0, "an integer >= 1 or null"),
    ],
)
def test_values_outside_the_rule_name_it(rule: Hyperparameter, value: Any, text: str) -> None:
    with pytest.raises(Invalid):
        rule.check(value)
    assert rule.rule == text


def test_a_default_that_breaks_its_own_rule_is_refused_when_declared() -> None:
    with pytest.raises(ValueError, match=r"default 0 breaks its own rule: must be an integer >= 2"):
        Int(2, default=0)
    with pytest.raises(ValueError, match=r"default 'x' breaks its own rule: must be one of a, b"):
        Choice(("a", "b"), default="x")


class Tiny(ModelFamily):
    """A family declared only by its table (its network is never built here)."""

    name = "tiny"
    framework = "torch"
    hyperparameters: ClassVar[Mapping[str, Hyperparameter]] = {
        "width": Int(1, 64, default=8),
        "rate": Float(0, 1, closed="left", default=0.1),
        "mode": Choice(("sum", "mean"), default="mean"),
        "epochs": Int(1, default=3),  # overrides the common default
    }

    def check(self, config: dict[str, Any]) -> None:
        if config["mode"] == "sum" and config["width"] > 32:
            raise self.invalid("width", f"must be <= 32 with mode sum, got {config['width']}")

    def network(self, config: dict[str, Any], shape: DataShape) -> Any:
        raise AssertionError("not built in these tests")


def test_resolve_merges_common_and_own_defaults_with_overrides() -> None:
    resolved = Tiny().resolve({"width": np.int32(16)})
    assert resolved == {
        "width": 16,
        "rate": 0.1,
        "mode": "mean",
        "epochs": 3,
        "batch_size": 64,
        "patience": None,
    }
    assert set(COMMON) <= set(resolved)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"width": 0}, "params.width: must be an integer in [1, 64], got 0 (family tiny)"),
        ({"rate": 1}, "params.rate: must be in [0, 1), got 1 (family tiny)"),
        ({"mode": "max"}, "params.mode: must be one of sum, mean, got 'max' (family tiny)"),
        ({"epochs": 0}, "params.epochs: must be an integer >= 1, got 0 (family tiny)"),
        (
            {"widht": 3},
            "params.widht: unknown key (valid keys: batch_size, epochs, mode, patience, rate, width) (family tiny)",
        ),
        ({"mode": "sum", "width": 40}, "params.width: must be <= 32 with mode sum, got 40 (family tiny)"),
    ],
)
def test_messages_are_one_line_in_the_sweep_files_dialect(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Tiny().validate_config(config)
    assert str(info.value) == message
