"""The driver's gathering of per-symbol batches and the row fetch: same rows, in spec order, however they arrive."""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from seqsweep.data import DatasetSpec
from seqsweep.data.build import featurize_symbol, gather_rows
from seqsweep.data.engines import create_engine
from seqsweep.data.sources import plan_source
from seqsweep.data.symbol_rows import _fetch_tuples

SYMBOLS = ("ETHUSDT", "LINKUSDT", "BATUSDT")


def _lexsorted(batches: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    rows = {c: np.concatenate([b[c] for b in batches]) for c in batches[0]}
    order = np.lexsort((rows["__time_ns"], rows["__symbol_index"]))
    return {c: v[order] for c, v in rows.items()}


def test_batches_in_any_order_or_split_gather_into_symbol_then_time_order(sample_db_url: str) -> None:
    plan = plan_source(DatasetSpec(symbols=SYMBOLS, max_rows_per_symbol=60), sample_db_url)
    batches = [featurize_symbol(plan, symbol, i, "1h") for i, symbol in enumerate(plan.symbols)]
    expected = _lexsorted(batches)
    shuffled = gather_rows(plan, batches[::-1])
    # a batch cut in two and reversed in time is no task's batch: the sorting path must still order it
    first = batches[0]
    cut = [{c: v[30:] for c, v in first.items()}, {c: v[:30][::-1] for c, v in first.items()}, *batches[1:]]
    mixed = gather_rows(plan, cut[::-1])
    for gathered in (shuffled, mixed):
        assert set(gathered) >= {"__symbol_index", "__time_ns", "__digest", *plan.value_columns}
        for column in gathered:
            assert np.array_equal(gathered[column], expected[column], equal_nan=True), column
    assert np.all(np.diff(shuffled["__symbol_index"]) >= 0)


def test_rows_are_fetched_as_plain_tuples_equal_to_sqlalchemys(sample_db_url: str) -> None:
    engine = create_engine(sample_db_url)
    query = sa.text(
        "SELECT date, crypto_symbol, lending_rate FROM crypto_lending_borrowing ORDER BY date LIMIT 50"
    )
    try:
        with engine.connect() as conn:
            fetched = _fetch_tuples(conn.execute(query))
            rows = [tuple(row) for row in conn.execute(query).fetchall()]
    finally:
        engine.dispose()
    assert len(fetched) == 50 and all(type(row) is tuple for row in fetched)
    assert fetched == rows
