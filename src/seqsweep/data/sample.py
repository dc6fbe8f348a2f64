"""The embedded default database: the notebook's three tables and GRU-ow's candles, generated (not real data).

Why generated: the notebook's MySQL database is private and no public source has hourly lending
rates for its 16 tokens (see shared/data/PROVENANCE.md). The generator gives every table the
notebook's schema and dynamics a model can learn from:

- utilization: a bounded mean-reverting process (an AR(1) in logit space with rare jumps) that
  rises when the token's price falls;
- rates: Aave's kinked curve, borrow = base + slope1·u/u_opt below the kink and + slope2 above it,
  lending = borrow·u·(1 − reserve factor), stable borrow above variable;
- prices: a random walk with stochastic volatility (clusters of calm and turbulent hours), a common
  market factor, fat tails and consistent OHLC (low ≤ open, close ≤ high) and volume;
- yield: a slow daily random walk of the 10-year yield, stored as the notebook's table stores it,
  an hourly continuously compounded rate ln(1 + y) / 8760;
- ETHUSDT besides the 16 symbols (the notebook's join on the real data holds ETH only, and the
  built-in `lstm_base` / `lstm_vae_*` sweeps train on it): its price path is simulated in 5-minute
  candles, written as GRU-ow's `ohlcv` table (`date, open_price, highest_price, lowest_price,
  closing_price, volume`, no symbol column) and aggregated to the hourly `crypto_price` rows, so the
  two tables tell the same story. ETH draws from its own random stream: the 16 symbols' numbers are
  the same with or without it.

Everything is vectorised numpy (the AR(1) recursions run through `scipy.signal.lfilter`) and
deterministic for a seed. A shared exchange maintenance window and a few missing rate snapshots
leave gaps, like the real sources have, so masks get exercised.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
from scipy.signal import lfilter
from sqlalchemy.engine import Engine

from seqsweep._fs import atomic_path
from seqsweep.constants import NOTEBOOK_SYMBOLS, SAMPLE_HOURS, SAMPLE_SEED
from seqsweep.data.features import hourly_yield
from seqsweep.data.tables import (
    DATE,
    LENDING_TABLE,
    OHLCV_COLUMNS,
    PRICE_TABLE,
    SYMBOL,
    YIELD,
    YIELD_TABLE,
    write_tables,
)
from seqsweep.errors import DataError

logger = logging.getLogger(__name__)

DEFAULT_SEED: Final = SAMPLE_SEED
DEFAULT_HOURS: Final = SAMPLE_HOURS
"""50 days × 16 symbols = 19,200 hourly rows: about 13k training windows at lookback 24, enough for a
demo sweep to learn something and small enough that an LSTM epoch takes seconds on 2 cores."""
SAMPLE_START: Final = "2024-02-01"
"""2024 is a leap year, so the default database holds a 29 February."""
CANDLE_SYMBOL: Final = "ETHUSDT"
"""The instrument simulated in 5-minute candles: the `ohlcv` table, and hourly rows beside the 16 symbols."""
OHLCV_TABLE: Final = "ohlcv"
"""GRU-ow's candle table (`dataset.ohlcv_table`'s default)."""
CANDLE_MINUTES: Final = 5
SAMPLE_VERSION: Final = 2
"""Stored as SQLite's `user_version`; `ensure_sample_db` regenerates a cached file older than this
(version 1 had neither ETHUSDT nor the `ohlcv` table)."""

START_PRICES: Final[dict[str, float]] = {
    "1INCHUSDT": 0.45, "BALUSDT": 4.0, "BATUSDT": 0.22, "CRVUSDT": 0.55, "ENJUSDT": 0.3, "ENSUSDT": 11.0,
    "KNCUSDT": 0.7, "LINKUSDT": 16.0, "MANAUSDT": 0.45, "MKRUSDT": 2000.0, "RENUSDT": 0.06,
    "SNXUSDT": 3.2, "UNIUSDT": 6.5, "WBTCUSDT": 43000.0, "YFIUSDT": 7500.0, "ZRXUSDT": 0.33,
    "ETHUSDT": 2300.0,
}  # fmt: skip
"""Early-2024 price levels; other symbols start at 1.0."""


def _ar1(shocks: np.ndarray, persistence: float) -> np.ndarray:
    """x_t = persistence·x_{t−1} + shock_t along axis 0, for every column at once."""
    return lfilter([1.0], [1.0, -persistence], shocks, axis=0)


def _prices(
    rng: np.random.Generator, times: pd.DatetimeIndex, symbols: tuple[str, ...], steps_per_hour: int = 1
) -> tuple[pd.DataFrame, np.ndarray]:
    """OHLCV per (step, symbol) and the standardised shocks that drive utilization.

    `steps_per_hour` > 1 simulates shorter candles: volatility per step shrinks by its square root and
    the volatility clusters last as many hours as with hourly steps.
    """
    n, s = len(times), len(symbols)
    hourly_vol = rng.uniform(0.004, 0.01, s) / np.sqrt(steps_per_hour)  # typical altcoin volatility
    phi = 0.985 ** (1 / steps_per_hour)
    log_var = _ar1(rng.normal(0.0, 0.6 * np.sqrt(1 - phi**2), (n, s)), phi)  # stationary sd 0.6
    vol = hourly_vol * np.exp(log_var / 2)  # (n, s) volatility clusters
    market = rng.standard_t(5, (n, 1)) / np.sqrt(5 / 3)
    own = rng.standard_t(5, (n, s)) / np.sqrt(5 / 3)
    shocks = 0.6 * market + 0.8 * own  # unit variance, correlation 0.36 between tokens
    returns = vol * shocks
    start = np.array([START_PRICES.get(sym, 1.0) for sym in symbols])
    close = start * np.exp(np.cumsum(returns, axis=0))
    previous = np.vstack([start, close[:-1]])
    open_ = previous * np.exp(0.05 * vol * rng.normal(size=(n, s)))
    wick = 0.5 * vol
    high = np.maximum(open_, close) * np.exp(wick * np.abs(rng.normal(size=(n, s))))
    low = np.minimum(open_, close) * np.exp(-wick * np.abs(rng.normal(size=(n, s))))
    hour = times.hour.to_numpy()[:, None]
    intraday = 1 + 0.3 * np.sin(2 * np.pi * (hour - 8) / 24)  # busier in US hours
    volume = (
        (2e5 / start / steps_per_hour)
        * intraday
        * np.exp(0.4 * rng.normal(size=(n, s)) + 0.8 * np.abs(shocks))
    )
    frame = _long(times, symbols, {"open": open_, "high": high, "low": low, "close": close, "volume": volume})
    return frame, shocks


def _rates(
    rng: np.random.Generator, times: pd.DatetimeIndex, symbols: tuple[str, ...], shocks: np.ndarray
) -> pd.DataFrame:
    """Utilization as a bounded mean-reverting process, rates from Aave's kinked curve."""
    n, s = shocks.shape
    u_opt = rng.uniform(0.45, 0.8, s)
    target = u_opt * rng.uniform(0.55, 0.95, s)  # mostly below the kink, with excursions above it
    reversion = 0.03
    jumps = (rng.random((n, s)) < 0.004) * rng.normal(0.0, 0.7, (n, s))  # large deposits / withdrawals
    logit_shocks = 0.07 * rng.normal(size=(n, s)) - 0.03 * shocks + jumps
    logit_shocks[0] += rng.normal(0.0, 0.5, s)
    logit = np.log(target / (1 - target)) + _ar1(logit_shocks, 1 - reversion)
    u = np.clip(1 / (1 + np.exp(-logit)), 0.001, 0.995)

    base = rng.uniform(0.0, 0.01, s)
    slope1 = rng.uniform(0.04, 0.09, s)
    slope2 = rng.uniform(0.8, 3.0, s)
    reserve_factor = rng.uniform(0.1, 0.35, s)
    excess = np.maximum(u - u_opt, 0) / (1 - u_opt)
    borrow = base + slope1 * np.minimum(u, u_opt) / u_opt + slope2 * excess
    lending = borrow * u * (1 - reserve_factor)
    stable = borrow + rng.uniform(0.02, 0.04, s) + 0.5 * slope2 * excess
    columns = {
        "lending_rate": lending,
        "borrowing_rate": borrow,
        "utilization_rate": u,
        "stable_borrow_rate": stable,
    }
    frame = _long(times, symbols, columns)
    missing_snapshot = rng.random(len(frame)) < 0.002  # the rate feed skips an hour now and then
    return frame[~missing_snapshot]


def _bond_yield(rng: np.random.Generator, times: pd.DatetimeIndex) -> pd.DataFrame:
    """A daily mean-reverting walk of the 10-year yield, carried over every hour of the day and weekends."""
    days = pd.date_range(times[0].normalize(), times[-1].normalize(), freq="D")
    business = days.dayofweek < 5
    steps = np.where(business, rng.normal(0.0, 0.0006, len(days)), 0.0)  # ~6 bp a trading day
    yearly = 0.042 + _ar1(steps, 0.995)
    daily = pd.Series(yearly, index=days)
    hourly = daily.reindex(times.normalize()).to_numpy()
    return pd.DataFrame({DATE: times, YIELD: hourly_yield(hourly)})


def _long(times: pd.DatetimeIndex, symbols: tuple[str, ...], columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """(hour, symbol) matrices → one row per symbol and hour, symbol-major like the real tables."""
    n, s = len(times), len(symbols)
    data = {
        DATE: np.tile(times.to_numpy(), s),
        SYMBOL: np.repeat(np.array(symbols, dtype=object), n),
    }
    data |= {name: values.T.reshape(-1) for name, values in columns.items()}
    return pd.DataFrame(data)


def _candles(
    rng: np.random.Generator, times: pd.DatetimeIndex
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """`CANDLE_SYMBOL` in 5-minute candles: the `ohlcv` frame, its hourly aggregate and the hourly shocks."""
    steps = 60 // CANDLE_MINUTES
    fine_times = pd.date_range(times[0], periods=len(times) * steps, freq=f"{CANDLE_MINUTES}min")
    fine, fine_shocks = _prices(rng, fine_times, (CANDLE_SYMBOL,), steps_per_hour=steps)
    candles = fine.drop(columns=SYMBOL).rename(
        columns=dict(zip(("open", "high", "low", "close"), OHLCV_COLUMNS[:4], strict=True))
    )
    hourly = (
        fine.set_index(DATE)
        .resample("h")
        .agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
        .reset_index()
    )
    hourly.insert(1, SYMBOL, CANDLE_SYMBOL)
    shocks = fine_shocks.reshape(len(times), steps).sum(axis=1, keepdims=True) / np.sqrt(steps)
    return candles[[DATE, *OHLCV_COLUMNS]], hourly, shocks


def generate_tables(
    *,
    seed: int = DEFAULT_SEED,
    hours: int = DEFAULT_HOURS,
    symbols: tuple[str, ...] = NOTEBOOK_SYMBOLS,
    start: str = SAMPLE_START,
    candles: bool = True,
) -> dict[str, pd.DataFrame]:
    """The notebook's three tables and GRU-ow's `ohlcv` candles as frames, keyed by table name.

    Same seed, same numbers. `candles` adds `CANDLE_SYMBOL`: hourly rows in the three tables (from its
    own random stream, so `symbols` keep their numbers) and its 5-minute `ohlcv` table.
    """
    if hours < 48:
        raise ValueError(f"`hours >= 48` must hold, but got {hours=}")
    rng = np.random.default_rng(seed)
    times = pd.date_range(start, periods=hours, freq="h")
    prices, shocks = _prices(rng, times, symbols)
    rates = _rates(rng, times, symbols, shocks)
    maintenance_start = times[int(rng.integers(hours // 4, hours - hours // 4))]  # one 3-hour exchange outage
    bond = _bond_yield(rng, times)
    tables: dict[str, pd.DataFrame] = {}
    if candles and CANDLE_SYMBOL not in symbols:
        eth_rng = np.random.default_rng([seed, 1])
        tables[OHLCV_TABLE], eth_prices, eth_shocks = _candles(eth_rng, times)
        prices = pd.concat([prices, eth_prices], ignore_index=True)
        rates = pd.concat([rates, _rates(eth_rng, times, (CANDLE_SYMBOL,), eth_shocks)], ignore_index=True)

    def outage(frame: pd.DataFrame) -> pd.Series:
        return (frame[DATE] >= maintenance_start) & (frame[DATE] < maintenance_start + pd.Timedelta(hours=3))

    return {
        LENDING_TABLE: rates.reset_index(drop=True),
        PRICE_TABLE: prices[~outage(prices)].reset_index(drop=True),
        YIELD_TABLE: bond,
    } | {name: frame[~outage(frame)].reset_index(drop=True) for name, frame in tables.items()}


SAMPLE_TABLES: Final[tuple[str, ...]] = (LENDING_TABLE, PRICE_TABLE, YIELD_TABLE, OHLCV_TABLE)
"""The tables `write_sample` writes (`generate_tables` with candles)."""


def write_sample(
    url: str, *, seed: int = DEFAULT_SEED, hours: int = DEFAULT_HOURS, replace: bool = True
) -> dict[str, int]:
    """Generate the tables and write them to any SQLAlchemy database; returns rows per table.

    Without `replace`, a DataError (one line) before anything is generated or written when a table it
    would write already holds rows (`seqsweep data sample` without `--force`): they may be the user's own
    data, which the generated rows replaced without a word."""
    from seqsweep.data.engines import db_errors, open_engine
    from seqsweep.db_url import mask

    engine = open_engine(url, must_exist=False)
    try:
        if not replace:
            with db_errors(url, "reading the tables in the way"):
                holding = tables_with_rows(engine, SAMPLE_TABLES)
            if holding:
                raise DataError(
                    f"database {mask(url)} already holds rows in {', '.join(holding)}, which data sample "
                    f"would replace with generated rows; pass --force to replace them, or --db another database"
                )
        tables = generate_tables(seed=seed, hours=hours)
        with db_errors(url, "writing the sample tables"):
            rows = write_tables(engine, {name: [frame] for name, frame in tables.items()})
            if engine.dialect.name == "sqlite":
                with engine.begin() as conn:
                    conn.exec_driver_sql(f"PRAGMA user_version = {SAMPLE_VERSION}")
            return rows
    finally:
        engine.dispose()


def tables_with_rows(engine: Engine, names: tuple[str, ...]) -> list[str]:
    """The tables of `names` that exist in `engine`'s database with at least one row, as the database
    spells them; matched ignoring case (SQLite, and MariaDB on some systems, take `CRYPTO_PRICE` for
    `crypto_price`, so writing one replaces the other)."""
    import sqlalchemy as sa

    from seqsweep.data.tables import text_quote

    wanted = {name.lower() for name in names}
    quote = text_quote(engine)
    holding: list[str] = []
    with engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            if (
                table.lower() in wanted
                and conn.execute(sa.text(f"SELECT 1 FROM {quote(table)} LIMIT 1")).first()
            ):
                holding.append(table)
    return holding


def sample_version(path: Path) -> int:
    """The `SAMPLE_VERSION` a generated SQLite file was written with (0: not ours, or unreadable)."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error:
        return 0


def ensure_sample_db(path: Path) -> str:
    """The URL of the sample SQLite file at `path`, generating it (atomically) on first use.

    A file written by an older generator (`SAMPLE_VERSION`) is regenerated, so every built-in sweep
    finds the tables and symbols it needs.
    """
    path = path.expanduser().resolve()
    if not path.exists() or sample_version(path) < SAMPLE_VERSION:
        from seqsweep.data.engines import make_sqlite_folder

        make_sqlite_folder(path)
        first = "first use" if not path.exists() else "the cached one predates the ohlcv table"
        logger.info("generating the sample database at %s (%s)", path, first)
        with atomic_path(path) as partial:
            write_sample(f"sqlite:///{partial}")
    return f"sqlite:///{path}"
