"""Tiny price tables made by a test: CSV files loaded through `load_csv` into a temporary SQLite file.

Each symbol gets hourly rows of a positive random walk (open, high, low, close) and a volume with
some zero hours; `US_Bond_Yield` covers every hour. Tests edit the frames (drop hours, blank cells,
shift a symbol's start) before writing them, so every expected number comes from these frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from seqsweep.data.load_csv import load_csv

START = pd.Timestamp("2024-01-01 00:00:00")
HOURS = 240
PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
INPUTS = (*PRICE_COLUMNS, "yield")
"""The prices join's value columns, in feature order (price table columns, then the yield)."""


def price_frame(symbol: str, seed: int, *, start: pd.Timestamp = START, hours: int = HOURS) -> pd.DataFrame:
    """`hours` hourly rows of `symbol` from `start`: date, crypto_symbol, open, high, low, close, volume."""
    rng = np.random.default_rng(seed)
    close = 10.0 * np.exp(np.cumsum(rng.normal(0, 0.01, hours)))
    open_ = np.r_[close[0], close[:-1]]
    volume = rng.gamma(2.0, 50.0, hours)
    volume[rng.random(hours) < 0.05] = 0.0  # quiet hours: log1p must take them
    return pd.DataFrame(
        {
            "date": pd.date_range(start, periods=hours, freq="1h"),
            "crypto_symbol": symbol,
            "open": open_,
            "high": np.maximum(open_, close) * 1.002,
            "low": np.minimum(open_, close) * 0.998,
            "close": close,
            "volume": volume,
        }
    )


def write_db(folder: Path, frames: list[pd.DataFrame]) -> str:
    """Write `frames` as `crypto_price` plus an hourly `US_Bond_Yield` covering them; returns the SQLite URL."""
    folder.mkdir(parents=True, exist_ok=True)
    csv_dir = folder / "csv"
    csv_dir.mkdir(exist_ok=True)
    prices = pd.concat(frames, ignore_index=True)
    prices.to_csv(csv_dir / "crypto_price.csv", index=False, date_format="%Y-%m-%d %H:%M:%S")
    hours = pd.date_range(prices["date"].min(), prices["date"].max(), freq="1h")
    bond = pd.DataFrame({"date": hours, "yield": np.linspace(4.0e-6, 5.0e-6, len(hours))})
    bond.to_csv(csv_dir / "US_Bond_Yield.csv", index=False, date_format="%Y-%m-%d %H:%M:%S")
    url = f"sqlite:///{folder / 'tiny.db'}"
    load_csv(csv_dir, url)
    return url


def grid_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame on its hourly grid, first to last row (missing hours as NaN rows), as the build puts it."""
    indexed = frame.set_index("date")
    grid = pd.date_range(indexed.index.min(), indexed.index.max(), freq="1h")
    return indexed.reindex(grid).rename_axis("date").reset_index()


def price_rows(dates: list[object], volume: list[object] | None = None) -> pd.DataFrame:
    """`crypto_price` rows of AAAUSDT at `dates` (any written form), as a CSV would hold them; `volume` as given."""
    n = len(dates)
    rng = np.random.default_rng(3)
    close = 100 + rng.standard_normal(n).cumsum()
    return pd.DataFrame(
        {
            "date": dates,
            "crypto_symbol": "AAAUSDT",
            "open": close,
            "high": close + 1,
            "low": close - 1,
            "close": close,
            "volume": volume if volume is not None else rng.uniform(1000, 9000, n).round(2),
        }
    )
