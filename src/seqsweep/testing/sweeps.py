"""Sweep-file pieces small enough for a test on 2 CPU cores."""

from __future__ import annotations

from typing import Any


def tiny_dataset(db_url: str, **changes: Any) -> dict[str, Any]:
    """A sweep file's `dataset` section on the generated database: 2 symbols × the latest 300 hours,
    target `close`, lookback 6, horizon 2, 2 PCA components; `changes` override or add keys."""
    return {
        "db": db_url,
        "join": "notebook",
        "symbols": ["LINKUSDT", "UNIUSDT"],
        "targets": ["close"],
        "lookback": 6,
        "horizon": 2,
        "max_rows_per_symbol": 300,
        "pca_components": 2,
        **changes,
    }
