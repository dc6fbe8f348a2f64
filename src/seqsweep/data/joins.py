"""The sources a dataset can read (`dataset.join`), each described once.

A `Join` says which tables one query reads and how (`JoinTables`), which columns it labels when
`dataset.targets` is left out, which stationary transforms suit its columns, and what to try when
its query returns nothing. `JOINS` is the registry: its keys are the valid `dataset.join` values,
and the spec (`seqsweep.data.spec`), the SQL planner (`seqsweep.data.sources`), the build's
messages (`seqsweep.data.build`), the profiles (`seqsweep.data.profiles`) and the CLI's `--join`
choices all read it. A new source is one more entry here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Final

from seqsweep.data.tables import LENDING_TABLE, PRICE_TABLE
from seqsweep.errors import ConfigError

DEFAULT_OHLCV_TABLE: Final = "ohlcv"
"""The table a single-instrument join reads unless `dataset.ohlcv_table` names another."""


@dataclass(frozen=True)
class JoinTables:
    """The tables one query reads: `base` drives the rows, the others are joined onto it."""

    base: str
    """Table whose `date` (and symbol) drive the query."""
    partner: str | None = None
    """Table inner-joined on (symbol, date): the notebook's prices."""
    with_yield: bool = True
    """LEFT JOIN US_Bond_Yield on date."""
    by_symbol: bool = True
    """False: the table has no symbol column (one instrument, named by `dataset.ohlcv_symbol`)."""


@dataclass(frozen=True)
class Join:
    """One source of a dataset's rows, as `dataset.join: <name>` selects it."""

    name: str
    description: str
    """One line for `--help` and docs: the relational expression, or what the file holds."""
    tables: JoinTables
    default_targets: tuple[str, ...]
    """The labelled columns when `dataset.targets` is left out."""
    reads_csv: bool = False
    """Whether `dataset.csv` may replace the table (read the same columns from a CSV(.gz) file)."""
    empty_hint: str = ""
    """Appended to "the <join> query returned no rows" when no start/end bounds explain it."""
    recommended_transform: Mapping[str, str] = field(default_factory=dict)
    """Stationary input transforms for its value columns (`dataset.transform`), used by the profiles."""

    @property
    def single_instrument(self) -> bool:
        """True when the source holds one instrument (no symbol column)."""
        return not self.tables.by_symbol

    def layout(self, ohlcv_table: str) -> JoinTables:
        """The tables read for a spec: a single-instrument join reads the table `ohlcv_table` names."""
        return replace(self.tables, base=ohlcv_table) if self.single_instrument else self.tables


_PRICE_COLUMNS: Final = ("open", "high", "low", "close")
_OHLCV_COLUMNS: Final = ("open_price", "highest_price", "lowest_price", "closing_price")
_RATE_TARGETS: Final = ("lending_rate", "borrowing_rate")


def _returns(columns: tuple[str, ...]) -> Mapping[str, str]:
    """Log returns of the prices (comparable across tokens and regimes) and log1p of the volume
    (heavy-tailed, zero in some hours, never negative)."""
    return MappingProxyType({**dict.fromkeys(columns, "log_return"), "volume": "log1p"})


JOINS: Final[Mapping[str, Join]] = MappingProxyType(
    {
        join.name: join
        for join in (
            Join(
                name="notebook",
                description="crypto_lending_borrowing ⨝ crypto_price ⟕ US_Bond_Yield (the notebook's query)",
                tables=JoinTables(LENDING_TABLE, partner=PRICE_TABLE),
                default_targets=_RATE_TARGETS,
                empty_hint=" (the rates and prices tables share no (symbol, date)); try join: prices or join: rates",
            ),
            Join(
                name="prices",
                description="crypto_price ⟕ US_Bond_Yield",
                tables=JoinTables(PRICE_TABLE),
                default_targets=("close",),
                recommended_transform=_returns(_PRICE_COLUMNS),
            ),
            Join(
                name="rates",
                description="crypto_lending_borrowing ⟕ US_Bond_Yield",
                tables=JoinTables(LENDING_TABLE),
                default_targets=_RATE_TARGETS,
            ),
            Join(
                name="ohlcv",
                description="one OHLCV table or CSV (GRU-ow: date, open_price, highest_price, lowest_price, "
                "closing_price, volume)",
                tables=JoinTables(DEFAULT_OHLCV_TABLE, with_yield=False, by_symbol=False),
                default_targets=_OHLCV_COLUMNS,
                reads_csv=True,
                recommended_transform=_returns(_OHLCV_COLUMNS),
            ),
        )
    }
)
"""Every source by name; its keys are the valid `dataset.join` values."""


def get_join(name: str) -> Join:
    """The join named `name`; ConfigError listing the valid names otherwise."""
    join = JOINS.get(name)
    if join is None:
        raise ConfigError(f"dataset.join: must be one of {', '.join(JOINS)}, got {name!r}")
    return join
