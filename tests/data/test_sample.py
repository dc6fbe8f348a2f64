"""The generated sample database: schema, determinism, and dynamics that look like the real thing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from seqsweep.cli import main
from seqsweep.constants import DB_URL_ENV, NOTEBOOK_SYMBOLS
from seqsweep.data.engines import resolve_db_url
from seqsweep.data.features import yearly_yield
from seqsweep.data.sample import (
    OHLCV_TABLE,
    SAMPLE_VERSION,
    ensure_sample_db,
    generate_tables,
    sample_version,
)
from seqsweep.data.tables import LENDING_TABLE, PRICE_TABLE, YIELD_TABLE


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return generate_tables(seed=11, hours=500)


def test_same_seed_same_numbers_other_seed_other_numbers(tables: dict[str, pd.DataFrame]) -> None:
    again = generate_tables(seed=11, hours=500)
    other = generate_tables(seed=12, hours=500)
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(frame, again[name])
    assert not np.allclose(tables[PRICE_TABLE]["close"], other[PRICE_TABLE]["close"])


def test_tables_have_the_notebook_schema_and_symbols(tables: dict[str, pd.DataFrame]) -> None:
    assert list(tables[LENDING_TABLE].columns) == [
        "date", "crypto_symbol", "lending_rate", "borrowing_rate", "utilization_rate", "stable_borrow_rate",
    ]  # fmt: skip
    assert list(tables[PRICE_TABLE].columns) == [
        "date",
        "crypto_symbol",
        "open",
        "high",
        "low",
        "close",
        "volume",
    ]
    assert list(tables[YIELD_TABLE].columns) == ["date", "yield"]
    assert set(tables[LENDING_TABLE]["crypto_symbol"]) == {*NOTEBOOK_SYMBOLS, "ETHUSDT"}
    assert set(tables[PRICE_TABLE]["crypto_symbol"]) == {*NOTEBOOK_SYMBOLS, "ETHUSDT"}
    assert list(tables[OHLCV_TABLE].columns) == [
        "date", "open_price", "highest_price", "lowest_price", "closing_price", "volume",
    ]  # fmt: skip


def test_eth_candles_are_five_minutes_and_aggregate_to_its_hourly_prices(
    tables: dict[str, pd.DataFrame],
) -> None:
    candles = tables[OHLCV_TABLE]
    steps = candles["date"].diff().dropna()
    assert steps.min() == pd.Timedelta(minutes=5)
    assert len(candles) > 500 * 12 * 0.95  # the 3-hour outage is the only gap
    assert (candles["lowest_price"] <= candles[["open_price", "closing_price"]].min(axis=1)).all()
    assert (candles["highest_price"] >= candles[["open_price", "closing_price"]].max(axis=1)).all()
    hourly = tables[PRICE_TABLE].query("crypto_symbol == 'ETHUSDT'").set_index("date")
    last_of_hour = candles.groupby(candles["date"].dt.floor("h"))["closing_price"].last()
    common = hourly.index.intersection(last_of_hour.index)
    assert len(common) > 400
    np.testing.assert_allclose(hourly.loc[common, "close"], last_of_hour.loc[common])


def test_eth_does_not_change_the_other_symbols_numbers(tables: dict[str, pd.DataFrame]) -> None:
    without = generate_tables(seed=11, hours=500, candles=False)
    assert OHLCV_TABLE not in without
    for name, frame in without.items():
        ours = tables[name]
        if "crypto_symbol" in ours:
            ours = ours[ours["crypto_symbol"] != "ETHUSDT"].reset_index(drop=True)
        pd.testing.assert_frame_equal(ours, frame)


def test_rates_follow_a_kinked_utilization_curve(tables: dict[str, pd.DataFrame]) -> None:
    rates = tables[LENDING_TABLE]
    u = rates["utilization_rate"]
    assert ((u > 0) & (u < 1)).all()
    assert (rates["lending_rate"] < rates["borrowing_rate"]).all()
    assert (rates["borrowing_rate"] < rates["stable_borrow_rate"]).all()
    for _, one in rates.groupby("crypto_symbol"):
        ordered = one.sort_values("utilization_rate")
        # the borrow rate is a function of utilization alone, increasing, steeper past the kink
        assert (np.diff(ordered["borrowing_rate"].to_numpy()) >= -1e-12).all()
        lending = ordered["borrowing_rate"] * ordered["utilization_rate"]
        assert np.allclose(ordered["lending_rate"] / lending, (ordered["lending_rate"] / lending).iloc[0])


def test_prices_have_consistent_candles_and_volatility_clusters(tables: dict[str, pd.DataFrame]) -> None:
    prices = tables[PRICE_TABLE]
    assert (prices["low"] <= prices[["open", "close"]].min(axis=1)).all()
    assert (prices["high"] >= prices[["open", "close"]].max(axis=1)).all()
    assert (prices["volume"] > 0).all()
    returns = prices.groupby("crypto_symbol")["close"].transform(lambda c: np.log(c).diff()).dropna()
    squared = returns.to_numpy() ** 2
    # volatility clusters: squared returns are autocorrelated (a plain random walk gives ~0)
    assert np.corrcoef(squared[:-1], squared[1:])[0, 1] > 0.05


def test_yield_is_stored_hourly_continuously_compounded(tables: dict[str, pd.DataFrame]) -> None:
    bond = tables[YIELD_TABLE]
    yearly = yearly_yield(bond["yield"].to_numpy())
    assert ((yearly > 0.02) & (yearly < 0.07)).all()
    changes = bond["date"][np.r_[False, np.diff(yearly) != 0]]
    assert (changes.dt.hour == 0).all()  # a daily series carried over the hours


def test_sample_command_writes_an_indexed_sqlite_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'sample.db'}"
    assert main(["data", "sample", "--db", url, "--hours", "60", "--seed", "3"]) == 0
    engine = sa.create_engine(url)
    inspector = sa.inspect(engine)
    assert {LENDING_TABLE, PRICE_TABLE, YIELD_TABLE} <= set(inspector.get_table_names())
    indexed = [ix["column_names"] for ix in inspector.get_indexes(PRICE_TABLE)]
    assert ["crypto_symbol", "date"] in indexed
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM crypto_lending_borrowing")).scalar() > 16 * 55
    engine.dispose()


def test_sample_help_names_the_tables_and_symbols_it_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`data sample --help` said "three tables for its 16 symbols"; it writes four (with `ohlcv`) and
    17 symbols (with ETHUSDT)."""
    with pytest.raises(SystemExit):
        main(["data", "sample", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "four tables" in help_text and "16 symbols and ETHUSDT" in help_text and "`ohlcv`" in help_text
    url = f"sqlite:///{tmp_path / 'sample.db'}"
    assert main(["data", "sample", "--db", url, "--hours", "48"]) == 0
    engine = sa.create_engine(url)
    try:
        assert set(sa.inspect(engine).get_table_names()) == {
            LENDING_TABLE,
            PRICE_TABLE,
            YIELD_TABLE,
            OHLCV_TABLE,
        }
        with engine.connect() as conn:
            for table in (LENDING_TABLE, PRICE_TABLE):
                held = {
                    row[0] for row in conn.execute(sa.text(f"SELECT DISTINCT crypto_symbol FROM {table}"))
                }
                assert held == {*NOTEBOOK_SYMBOLS, "ETHUSDT"} and len(NOTEBOOK_SYMBOLS) == 16
    finally:
        engine.dispose()


def test_default_source_is_the_sample_generated_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv(DB_URL_ENV, raising=False)
    url = resolve_db_url()
    assert url == f"sqlite:///{tmp_path / '.cache' / 'seqsweep' / 'sample.db'}"
    assert (tmp_path / ".cache" / "seqsweep" / "sample.db").is_file()
    assert resolve_db_url() == url  # second use: the file is reused


def test_a_cached_sample_from_an_older_generator_is_regenerated(tmp_path: Path) -> None:
    path = tmp_path / "sample.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:  # what version 1 left: the notebook's tables, user_version 0
        conn.execute(sa.text("CREATE TABLE crypto_price (date TIMESTAMP, crypto_symbol TEXT)"))
    engine.dispose()
    assert sample_version(path) == 0
    url = ensure_sample_db(path)
    assert sample_version(path) == SAMPLE_VERSION
    assert OHLCV_TABLE in sa.inspect(sa.create_engine(url)).get_table_names()
    before = path.stat().st_mtime_ns
    assert ensure_sample_db(path) == url
    assert path.stat().st_mtime_ns == before  # current: reused as it is


def test_sample_command_refuses_to_replace_tables_that_hold_rows_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`data sample --db URL` replaced the user's own `crypto_price` with generated rows, exit 0, without a
    word; now it refuses in one line (the user's rows kept) unless `--force` is given. An empty table of
    that name is no one's data and is replaced."""
    path = tmp_path / "mine.db"
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE crypto_price (date TEXT, crypto_symbol TEXT, close REAL)"))
        conn.execute(sa.text("INSERT INTO crypto_price VALUES ('2024-01-01 00:00:00', 'MINE', 7)"))
        conn.execute(sa.text("CREATE TABLE US_Bond_Yield (date TEXT, yield REAL)"))  # empty: no one's data
    engine.dispose()

    def mine() -> list[tuple[object, ...]]:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            rows = [
                tuple(row) for row in conn.execute(sa.text("SELECT crypto_symbol, close FROM crypto_price"))
            ]
            names = sa.inspect(conn).get_table_names()
        engine.dispose()
        return [*rows, *((name,) for name in sorted(names))]

    before = mine()
    assert main(["data", "sample", "--db", url, "--hours", "48"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"seqsweep: error: database {url} already holds rows in crypto_price, which data sample would replace "
        f"with generated rows; pass --force to replace them, or --db another database"
    ]
    assert mine() == before

    assert main(["data", "sample", "--db", url, "--hours", "48", "--force"]) == 0
    capsys.readouterr()
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        symbols = {row[0] for row in conn.execute(sa.text("SELECT DISTINCT crypto_symbol FROM crypto_price"))}
    engine.dispose()
    assert "MINE" not in symbols and set(NOTEBOOK_SYMBOLS) <= symbols


def test_sample_command_into_a_fresh_database_needs_no_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only rows in the way call for `--force`: a new file loads as before, and the default file (the
    embedded default's own cache, where load-csv never writes) is rewritten as asked."""
    import seqsweep.commands.data as data_commands

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert main(["data", "sample", "--db", url, "--hours", "48"]) == 0
    assert main(["data", "sample", "--db", url, "--hours", "48"]) == 2  # now it holds generated rows
    monkeypatch.setattr(data_commands, "DEFAULT_SAMPLE_DB", str(tmp_path / "cache" / "sample.db"))
    assert main(["data", "sample", "--hours", "48"]) == 0
    assert main(["data", "sample", "--hours", "48", "--seed", "3"]) == 0


@pytest.mark.parametrize("under", ["a file", "/proc"])
def test_a_sqlite_file_whose_folder_cannot_be_made_is_one_line(
    under: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`data sample` (and `load-csv`) made the SQLite file's folders with `mkdir`: under a file it raised
    FileExistsError, under /proc FileNotFoundError, both `unexpected error` (exit 3)."""
    if under == "/proc" and not Path("/proc/self").is_dir():
        pytest.skip("needs Linux's /proc")
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder")
    parent = blocker if under == "a file" else Path("/proc/seqsweep-nowhere")
    assert main(["data", "sample", "--db", f"sqlite:///{parent / 'sub' / 's.db'}", "--hours", "50"]) == 2
    err = capsys.readouterr().err
    where = f"{blocker} is a file; give a folder" if under == "a file" else "/proc cannot be written ("
    assert err.splitlines() == [err.strip()] and err.startswith("seqsweep: error: database file ")
    assert where in err
