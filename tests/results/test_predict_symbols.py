"""`seqsweep predict --symbols` follows the bundle's join: one instrument for a single-instrument join."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from seqsweep.data import DatasetSpec
from seqsweep.errors import ConfigError
from seqsweep.results.predict import _read_spec, _symbols


def bundle_of(spec: DatasetSpec) -> Any:
    """What `_symbols` and `_read_spec` read of a ModelBundle: its dataset spec and symbols."""
    return cast(Any, SimpleNamespace(dataset=spec, symbols=spec.symbols))


def test_a_single_instrument_bundle_predicts_its_own_instrument_only() -> None:
    bundle = bundle_of(DatasetSpec(join="ohlcv", symbols=("ETHUSDT",)))
    assert bundle.dataset.join_spec.single_instrument
    assert _symbols(bundle, [" ethusdt "]) == ("ETHUSDT",)
    with pytest.raises(ConfigError, match="join 'ohlcv' holds one instrument, ETHUSDT"):
        _symbols(bundle, ["BTCUSDT"])
    assert _read_spec(bundle, ("ETHUSDT",), None, 30).symbols == ("ETHUSDT",)


def test_a_multi_symbol_bundle_narrows_to_the_wanted_symbols() -> None:
    bundle = bundle_of(DatasetSpec(join="prices", symbols=("ETHUSDT", "BTCUSDT")))
    assert not bundle.dataset.join_spec.single_instrument
    assert _symbols(bundle, ["btcusdt"]) == ("BTCUSDT",)
    assert _read_spec(bundle, ("BTCUSDT",), None, 30).symbols == ("BTCUSDT",)
