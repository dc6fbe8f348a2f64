"""The joins registry: one `Join` per source, read by the spec, the SQL planner, the profiles and the CLI."""

from __future__ import annotations

import re

import pytest

from seqsweep.cli import build_parser
from seqsweep.data.build import _bounds_hint
from seqsweep.data.joins import JOINS, get_join
from seqsweep.data.profiles import PROFILES
from seqsweep.data.sources import _join_tables
from seqsweep.data.spec import TRANSFORMS, DatasetSpec
from seqsweep.data.tables import LENDING_TABLE, OHLCV_COLUMNS, PRICE_TABLE
from seqsweep.errors import ConfigError


def _spec(join: str, **changes: object) -> DatasetSpec:
    return DatasetSpec.from_dict({"join": join, "symbols": ["ETHUSDT"], **changes})


@pytest.mark.parametrize("name", list(JOINS))
def test_each_join_is_complete_and_a_spec_reads_it(name: str) -> None:
    join = JOINS[name]
    assert join.name == name
    assert join.description and join.default_targets
    spec = _spec(name)
    assert spec.join_spec is join
    assert spec.target_columns == join.default_targets
    assert set(join.recommended_transform.values()) <= set(TRANSFORMS)
    assert spec.symbol_list == (("ETHUSDT",) if join.single_instrument else spec.symbols)


def test_the_join_layouts_are_the_notebooks() -> None:
    assert _join_tables(_spec("notebook")).base == LENDING_TABLE
    assert _join_tables(_spec("notebook")).partner == PRICE_TABLE
    assert _join_tables(_spec("prices")).base == PRICE_TABLE
    ohlcv = _join_tables(_spec("ohlcv", ohlcv_table="candles"))
    assert (ohlcv.base, ohlcv.with_yield, ohlcv.by_symbol) == ("candles", False, False)
    assert set(JOINS["ohlcv"].recommended_transform) == set(OHLCV_COLUMNS)


def test_an_unknown_join_lists_the_registry() -> None:
    expected = f"dataset.join: must be one of {', '.join(JOINS)}, got 'candles'"
    with pytest.raises(ConfigError, match=f"^{re.escape(expected)}$"):
        _spec("candles")
    with pytest.raises(ConfigError, match=r"^dataset\.join: must be one of"):
        get_join("candles")


def test_only_a_join_that_reads_csv_takes_a_csv() -> None:
    assert _spec("ohlcv", csv="x.csv").csv == "x.csv"
    with pytest.raises(
        ConfigError, match=r"^dataset.csv: only `join: ohlcv` reads a CSV file, but join is 'prices'$"
    ):
        _spec("prices", csv="x.csv")


def test_the_empty_result_hint_comes_from_the_join() -> None:
    assert "try join: prices or join: rates" in _bounds_hint(_spec("notebook"))
    assert _bounds_hint(_spec("prices")) == ""
    assert "widen them" in _bounds_hint(_spec("notebook", start="2024-01-01"))


def test_profiles_and_the_cli_name_registered_joins() -> None:
    for profile in PROFILES.values():
        DatasetSpec.from_dict(profile)  # each profile is a valid dataset section
        assert profile.get("join", "notebook") in JOINS
    actions = next(a for a in build_parser()._actions if getattr(a, "choices", None) and "data" in a.choices)
    data = actions.choices["data"]
    build = next(a for a in data._actions if getattr(a, "choices", None) and "build" in a.choices).choices[
        "build"
    ]
    join_flag = next(a for a in build._actions if "--join" in a.option_strings)
    assert list(join_flag.choices) == list(JOINS)
