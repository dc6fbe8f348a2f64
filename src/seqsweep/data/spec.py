"""What dataset a sweep trains on: tables, symbols, targets, window, horizon, split and labels.

The spec decides the tensors; the search space decides the model. A different window is a different
dataset, built once and cached under the hash of this spec (the database URL is not part of the hash:
the same rows give the same dataset whether they come from SQLite or MariaDB).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from seqsweep._config import from_mapping, to_mapping
from seqsweep.constants import NOTEBOOK_SYMBOLS
from seqsweep.errors import ConfigError

JOINS: dict[str, str] = {
    "notebook": "crypto_lending_borrowing ⨝ crypto_price ⟕ US_Bond_Yield (the notebook's query)",
    "prices": "crypto_price ⟕ US_Bond_Yield",
    "rates": "crypto_lending_borrowing ⟕ US_Bond_Yield",
    "ohlcv": "one OHLCV table or CSV (GRU-ow: date, open_price, highest_price, lowest_price, closing_price, volume)",
}

DEFAULT_TARGETS: dict[str, tuple[str, ...]] = {
    "notebook": ("lending_rate", "borrowing_rate"),
    "prices": ("close",),
    "rates": ("lending_rate", "borrowing_rate"),
    "ohlcv": ("open_price", "highest_price", "lowest_price", "closing_price"),
}

LABEL_METHODS = ("tertiles", "dead_band")


@dataclass(frozen=True)
class SplitSpec:
    """Chronological split: the same timestamp boundaries for every symbol."""

    train: float = 0.7
    """Fraction of the common time range that is train (earliest)."""
    valid: float = 0.15
    """Fraction that is validation; the rest (latest) is test."""
    gap: int = 0
    """Embargo steps dropped after each boundary: 0, or at least lookback + horizon."""


@dataclass(frozen=True)
class LabelSpec:
    """How a move becomes a class: 0 = down, 1 = flat, 2 = up."""

    method: str = "tertiles"
    """`tertiles`: the flat band per target and step is the train split's middle third (balanced classes).
    `dead_band`: |move| <= dead_band (in scaled units) is flat."""
    dead_band: float = 0.0


@dataclass(frozen=True)
class DatasetSpec:
    """The dataset section of a sweep file."""

    join: str = "notebook"
    """Which tables take part; see `JOINS`."""
    symbols: tuple[str, ...] = NOTEBOOK_SYMBOLS
    targets: tuple[str, ...] | None = None
    """Columns whose future moves are labelled; None takes `DEFAULT_TARGETS[join]`."""
    lookback: int = 24
    """L: observed steps per window."""
    horizon: int = 3
    """H: future steps labelled per window."""
    frequency: str | None = "1h"
    """Each symbol is put on this regular grid (pandas offset) so gaps become masked rows; None keeps rows as they are."""
    pca_components: int | None = None
    """Symbol-embedding size after PCA; None takes min(15, number of symbols)."""
    start: str | None = None
    end: str | None = None
    max_rows_per_symbol: int | None = None
    """Keep only the latest N rows per symbol (a bounded query, for dry runs and small demos)."""
    split: SplitSpec = field(default_factory=SplitSpec)
    labels: LabelSpec = field(default_factory=LabelSpec)
    ohlcv_table: str = "ohlcv"
    """Table read by `join: ohlcv` (it has no symbol column: the data is one instrument)."""
    ohlcv_symbol: str = "ETHUSDT"
    """The name that instrument carries in the dataset."""
    csv: str | None = None
    """For `join: ohlcv`: read this CSV(.gz) file instead of a table."""
    embedding_model: str = "all-MiniLM-L6-v2"
    db: str | None = None
    """SQLAlchemy URL; None reads $SEQSWEEP_DB_URL, then the generated sample database. Not hashed."""

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def from_dict(cls, data: Any, where: str = "dataset") -> DatasetSpec:
        return from_mapping(cls, data, where)

    def to_dict(self) -> dict[str, Any]:
        return to_mapping(self)

    @property
    def target_columns(self) -> tuple[str, ...]:
        return self.targets if self.targets is not None else DEFAULT_TARGETS[self.join]

    @property
    def symbol_list(self) -> tuple[str, ...]:
        """The symbols the dataset holds (`join: ohlcv` holds one instrument)."""
        return (self.ohlcv_symbol,) if self.join == "ohlcv" else self.symbols

    @property
    def n_pca_components(self) -> int:
        return self.pca_components if self.pca_components is not None else min(15, len(self.symbol_list))

    def content_hash(self) -> str:
        """Hash of everything that shapes the tensors (not where the rows come from)."""
        payload = self.to_dict()
        payload.pop("db")
        payload["targets"] = list(self.target_columns)
        payload["pca_components"] = self.n_pca_components
        blob = json.dumps(payload, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def validate(self) -> None:
        """Rules that need no data; each error names the key, the rule and the value."""
        if self.join not in JOINS:
            raise ConfigError(f"dataset.join: must be one of {', '.join(JOINS)}, got {self.join!r}")
        if self.lookback < 1:
            raise ConfigError(f"dataset.lookback: must be >= 1, got {self.lookback}")
        if self.horizon < 1:
            raise ConfigError(f"dataset.horizon: must be >= 1, got {self.horizon}")
        if not self.symbols:
            raise ConfigError("dataset.symbols: name at least one symbol")
        if len(set(self.symbols)) != len(self.symbols):
            raise ConfigError(f"dataset.symbols: a symbol is listed twice in {list(self.symbols)}")
        if not self.target_columns:
            raise ConfigError("dataset.targets: name at least one target column")
        if self.pca_components is not None and not 1 <= self.pca_components <= len(self.symbol_list):
            raise ConfigError(
                f"dataset.pca_components: must be between 1 and the number of symbols "
                f"({len(self.symbol_list)}), got {self.pca_components}"
            )
        split = self.split
        if not (0 < split.train < 1 and 0 < split.valid < 1 and split.train + split.valid < 1):
            raise ConfigError(
                f"dataset.split: train and valid must be in (0, 1) with train + valid < 1 so that no split "
                f"is empty, got train={split.train}, valid={split.valid}"
            )
        if split.gap < 0 or 0 < split.gap < self.lookback + self.horizon:
            raise ConfigError(
                f"dataset.split.gap: must be 0 or at least lookback + horizon "
                f"({self.lookback + self.horizon}), got {split.gap}"
            )
        if self.labels.method not in LABEL_METHODS:
            raise ConfigError(
                f"dataset.labels.method: must be one of {', '.join(LABEL_METHODS)}, got {self.labels.method!r}"
            )
        if self.labels.dead_band < 0:
            raise ConfigError(f"dataset.labels.dead_band: must be >= 0, got {self.labels.dead_band}")
        if self.max_rows_per_symbol is not None and self.max_rows_per_symbol < self.lookback + self.horizon:
            raise ConfigError(
                f"dataset.max_rows_per_symbol: must be at least lookback + horizon "
                f"({self.lookback + self.horizon}), got {self.max_rows_per_symbol}"
            )
        if self.csv is not None and self.join != "ohlcv":
            raise ConfigError(f"dataset.csv: only `join: ohlcv` reads a CSV file, but join is {self.join!r}")
