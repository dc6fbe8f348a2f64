"""Named starting points for a dataset section: the notebook's tensors, GRU-ow's, and price-only ones.

A profile is a plain mapping that a sweep file's `dataset:` keys (or CLI flags) then override, so a
user writes `seqsweep data build --profile gruow --csv ETH-USDT1min.csv.gz` instead of five keys.

Transforms (`dataset.transform`, see `seqsweep.data.spec.TRANSFORMS`): market levels drift, so a
model fitted on one regime's levels sees values it never met later. The price profiles therefore
recommend stationary inputs, set here: log returns of the prices (ln p[t]/p[t−1], comparable across
tokens and regimes) and log1p of the volume (heavy-tailed, zero in some hours, never negative).
Labels still come from the target's level moves. The notebook and gruow profiles keep levels, as the
notebook and GRU-ow did.
"""

from __future__ import annotations

from typing import Any, Final

PRICE_TRANSFORMS: Final[dict[str, str]] = {
    "open": "log_return",
    "high": "log_return",
    "low": "log_return",
    "close": "log_return",
    "volume": "log1p",
}
"""The recommended transforms of the `crypto_price` columns (`prices` profile)."""

OHLCV_TRANSFORMS: Final[dict[str, str]] = {
    "open_price": "log_return",
    "highest_price": "log_return",
    "lowest_price": "log_return",
    "closing_price": "log_return",
    "volume": "log1p",
}
"""The recommended transforms of an OHLCV table's columns (`ohlcv` profile)."""

PROFILES: Final[dict[str, dict[str, Any]]] = {
    "notebook": {},
    # The DatasetSpec defaults: rates ⨝ prices ⟕ yield for the 16 tokens, 24 h in, 3 h out; levels.
    "gruow": {"join": "ohlcv", "lookback": 128, "horizon": 8, "frequency": "5min"},
    # GRU-ow: 128 candles in, 8 out, targets OHLC (DEFAULT_TARGETS["ohlcv"]); the shared file has 5-minute bars; levels.
    "prices": {"join": "prices", "transform": dict(PRICE_TRANSFORMS)},
    # prices ⟕ yield for the 16 tokens, target close; recommended: log returns of the prices, log1p of the volume.
    "ohlcv": {
        "join": "ohlcv",
        "lookback": 128,
        "horizon": 8,
        "frequency": "5min",
        "transform": dict(OHLCV_TRANSFORMS),
    },
    # GRU-ow's shape with the recommended transforms: log returns of OHLC, log1p of the volume.
}
