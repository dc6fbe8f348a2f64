"""Named starting points for a dataset section: the notebook's tensors, GRU-ow's, and price-only ones.

A profile is a plain mapping that a sweep file's `dataset:` keys (or CLI flags) then override, so a
user writes `seqsweep data build --profile gruow --csv ETH-USDT1min.csv.gz` instead of five keys.

Transforms (`dataset.transform`, see `seqsweep.data.spec.TRANSFORMS`; each join's
`recommended_transform` in `seqsweep.data.joins`): market levels drift, so a
model fitted on one regime's levels sees values it never met later. The price profiles therefore
recommend stationary inputs, which each join declares: log returns of the prices (ln p[t]/p[t−1], comparable across
tokens and regimes) and log1p of the volume (heavy-tailed, zero in some hours, never negative).
Labels still come from the target's level moves. The notebook and gruow profiles keep levels, as the
notebook and GRU-ow did.
"""

from __future__ import annotations

from typing import Any, Final

from seqsweep.data.joins import JOINS


def _recommended(join: str) -> dict[str, str]:
    """The join's recommended stationary transforms (`seqsweep.data.joins.Join.recommended_transform`)."""
    return dict(JOINS[join].recommended_transform)


PROFILES: Final[dict[str, dict[str, Any]]] = {
    "notebook": {},
    # The DatasetSpec defaults: rates ⨝ prices ⟕ yield for the 16 tokens, 24 h in, 3 h out; levels.
    "gruow": {"join": "ohlcv", "lookback": 128, "horizon": 8, "frequency": "5min"},
    # GRU-ow: 128 candles in, 8 out, targets OHLC (the ohlcv join's default_targets); the shared file has 5-minute bars; levels.
    "prices": {"join": "prices", "transform": _recommended("prices")},
    # prices ⟕ yield for the 16 tokens, target close; recommended: log returns of the prices, log1p of the volume.
    "ohlcv": {
        "join": "ohlcv",
        "lookback": 128,
        "horizon": 8,
        "frequency": "5min",
        "transform": _recommended("ohlcv"),
    },
    # GRU-ow's shape with the recommended transforms: log returns of OHLC, log1p of the volume.
}
