"""Named starting points for a dataset section: the notebook's tensors and GRU-ow's.

A profile is a plain mapping that a sweep file's `dataset:` keys (or CLI flags) then override, so a
user writes `seqsweep data build --profile gruow --csv ETH-USDT1min.csv.gz` instead of five keys.
"""

from __future__ import annotations

from typing import Any, Final

PROFILES: Final[dict[str, dict[str, Any]]] = {
    "notebook": {},
    # The DatasetSpec defaults: rates ⨝ prices ⟕ yield for the 16 tokens, 24 h in, 3 h out.
    "gruow": {"join": "ohlcv", "lookback": 128, "horizon": 8, "frequency": "5min"},
    # GRU-ow: 128 candles in, 8 out, targets OHLC (DEFAULT_TARGETS["ohlcv"]); the shared file has 5-minute bars.
}
