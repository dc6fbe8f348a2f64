"""Sources: URL resolution and masking, bound parameters, case-insensitive symbols, bounded queries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from seqsweep.constants import DB_URL_ENV
from seqsweep.data.cache import rows_digest
from seqsweep.data.engines import masked_url, resolve_db_url
from seqsweep.data.sources import plan_source
from seqsweep.data.spec import DatasetSpec
from seqsweep.data.symbol_rows import load_symbol_rows
from seqsweep.errors import DataError


def test_db_url_precedence_arg_then_spec_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DB_URL_ENV, "sqlite:///env.db")
    spec = DatasetSpec(db="sqlite:///spec.db")
    assert resolve_db_url("sqlite:///arg.db", spec) == "sqlite:///arg.db"
    assert resolve_db_url(None, spec) == "sqlite:///spec.db"
    assert resolve_db_url(None, DatasetSpec()) == "sqlite:///env.db"


def test_masked_url_hides_the_password() -> None:
    masked = masked_url("mysql+pymysql://alice:hunter2@db.example:3306/crypto")
    assert "hunter2" not in masked
    assert masked == "mysql+pymysql://alice:***@db.example:3306/crypto"


@pytest.fixture
def statements() -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement (and its parameters) sent by any engine in this process during the test."""
    seen: list[tuple[str, Any]] = []

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        seen.append((statement, parameters))

    sa.event.listen(Engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(Engine, "before_cursor_execute", record)


def test_symbols_travel_as_bound_parameters_never_in_the_sql(
    sample_db_url: str, statements: list[tuple[str, Any]]
) -> None:
    spec = DatasetSpec(symbols=("LINKUSDT", "UNIUSDT"))
    plan = plan_source(spec, sample_db_url)
    load_symbol_rows(plan, "LINKUSDT")
    assert statements
    for sql, _ in statements:
        assert "LINKUSDT" not in sql and "UNIUSDT" not in sql
    assert any("LINKUSDT" in map(str, params) for _, params in statements if params)


def test_a_symbol_with_sql_in_it_is_just_an_unknown_symbol(sample_db_url: str) -> None:
    evil = "X') OR 1=1 --"
    with pytest.raises(DataError, match=r"unknown symbol \"X'\) OR 1=1 --\""):
        plan_source(DatasetSpec(symbols=(evil,)), sample_db_url)


def test_symbols_match_case_insensitively(sample_db_url: str) -> None:
    plan = plan_source(DatasetSpec(join="prices", symbols=("linkUSDT",)), sample_db_url)
    assert plan.symbols == ("LINKUSDT",)
    assert len(load_symbol_rows(plan, "LINKUSDT")) > 300


def test_max_rows_keeps_the_latest_rows_and_start_end_bound_the_dates(sample_db_url: str) -> None:
    full = load_symbol_rows(
        plan_source(DatasetSpec(join="rates", symbols=("UNIUSDT",)), sample_db_url), "UNIUSDT"
    )
    latest = load_symbol_rows(
        plan_source(DatasetSpec(join="rates", symbols=("UNIUSDT",), max_rows_per_symbol=50), sample_db_url),
        "UNIUSDT",
    )
    pd.testing.assert_frame_equal(latest, full.tail(50).reset_index(drop=True))
    start, end = full["date"].iloc[10], full["date"].iloc[40]
    spec = DatasetSpec(join="rates", symbols=("UNIUSDT",), start=str(start), end=str(end))
    bounded = load_symbol_rows(plan_source(spec, sample_db_url), "UNIUSDT")
    assert bounded["date"].iloc[0] == start and bounded["date"].iloc[-1] == end
    assert bounded["date"].is_monotonic_increasing


def _digest(spec: DatasetSpec, url: str) -> int:
    plan = plan_source(spec, url)
    return rows_digest(load_symbol_rows(plan, "LINKUSDT"), plan.value_columns)


def test_fingerprint_moves_when_the_rows_change(sample_db_url: str, edited_db: Any) -> None:
    spec = DatasetSpec(join="prices", symbols=("LINKUSDT",))
    before = _digest(spec, sample_db_url)
    assert _digest(spec, sample_db_url) == before
    changed = edited_db("UPDATE crypto_price SET close = close * 2 WHERE crypto_symbol = 'LINKUSDT'")
    assert _digest(spec, changed) != before
    unrelated = edited_db("UPDATE crypto_price SET close = close * 2 WHERE crypto_symbol = 'UNIUSDT'")
    assert _digest(spec, unrelated) == before  # other symbols do not invalidate this dataset


def test_a_column_the_join_does_not_read_is_named_in_the_log(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The rates and yield tables are read by the contract's names: a further column is named, not left
    out without a word; the price table's further columns are all read, so nothing is said of them."""
    from seqsweep.data.sample import write_sample

    url = f"sqlite:///{tmp_path / 'extra.db'}"
    write_sample(url, seed=1, hours=60)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE crypto_lending_borrowing ADD COLUMN supply_apy REAL"))
        conn.execute(sa.text('ALTER TABLE "US_Bond_Yield" ADD COLUMN source TEXT'))
        conn.execute(sa.text("ALTER TABLE crypto_price ADD COLUMN trades REAL"))
    engine.dispose()
    with caplog.at_level("INFO", logger="seqsweep.data.sources"):
        plan = plan_source(DatasetSpec(join="notebook", symbols=("ETHUSDT",)), url)
    notes = [r.getMessage() for r in caplog.records if "not read" in r.getMessage()]
    assert any("'crypto_lending_borrowing': column 'supply_apy' not read" in n for n in notes), notes
    assert any("'US_Bond_Yield': column 'source' not read" in n for n in notes), notes
    assert not any("trades" in n for n in notes) and "trades" in plan.value_columns
    caplog.clear()
    with caplog.at_level("INFO", logger="seqsweep.data.sources"):
        plan_source(DatasetSpec(join="notebook", symbols=("ETHUSDT",)), url, columns=plan.value_columns)
    assert not [r for r in caplog.records if "not read" in r.getMessage()], "predict reads a model's columns"
