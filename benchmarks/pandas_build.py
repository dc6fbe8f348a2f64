"""The reference for row 7: `build_dataset`'s work in one pandas process, without Ray.

One SQL query reads the whole join (every symbol, with its symbol column) into one DataFrame, which
is split by symbol in pandas; each symbol's rows then go through the product's own steps
(`symbol_rows.clean_rows`, `build.grid_symbol`: digest, grid, yield, calendar; `build.gather_rows`;
`build._assemble`: scaling, embeddings + PCA, features, windows, labels), so the result is the same
dataset, bit for bit, and only the orchestration differs from `build_dataset` (one query and a pandas
groupby here; one Ray Data task per symbol with its own query there). Benchmark-only: nothing in
seqsweep calls this.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from seqsweep.data import DatasetBundle, DatasetSpec, build, cache
from seqsweep.data.engines import create_engine
from seqsweep.data.ingest import canonical_symbol
from seqsweep.data.sources import plan_source
from seqsweep.data.symbol_rows import _fetch_tuples, clean_rows
from seqsweep.data.tables import SYMBOL, text_quote

_SYMBOL_COLUMN = "__symbol"


def build_in_pandas(spec: DatasetSpec, db_url: str) -> DatasetBundle:
    """`build_dataset(spec, db_url=db_url, use_cache=False)` computed in this process from one query.

    Only for a SQL join read by symbol without `max_rows_per_symbol` (one query cannot take the latest
    N rows of each symbol); raises ValueError otherwise.
    """
    plan = plan_source(spec, db_url)
    if plan.sql is None or not plan.by_symbol or plan.limit is not None or plan.url is None:
        raise ValueError("the pandas reference reads a SQL join by symbol, without max_rows_per_symbol")
    engine = create_engine(plan.url)
    quote = text_quote(engine)
    sql = plan.sql.replace("SELECT ", f"SELECT b.{quote(SYMBOL)} AS {quote(_SYMBOL_COLUMN)}, ", 1)
    params: dict[str, Any] = plan.params(plan.symbols[0])
    params["b_symbols"] = [s for symbol in plan.symbols for s in plan.spellings[symbol]["b_symbols"]]
    try:
        with engine.connect() as conn:
            result = conn.execute(dataclasses.replace(plan, sql=sql).statement(), params)
            frame = pd.DataFrame(_fetch_tuples(result), columns=list(result.keys()))
    finally:
        engine.dispose()
    groups = {
        canonical: group.drop(columns=_SYMBOL_COLUMN)
        for canonical, group in frame.groupby(frame[_SYMBOL_COLUMN].map(canonical_symbol), sort=False)
    }
    batches = [
        build.grid_symbol(
            plan, clean_rows(groups[symbol], plan.value_columns, plan.labels), symbol, i, spec.frequency
        )
        for i, symbol in enumerate(plan.symbols)
        if symbol in groups
    ]
    rows = build.gather_rows(plan, [b for b in batches if len(next(iter(b.values())))])
    fingerprint = cache.fingerprint(plan.value_columns, build._digests(plan, rows))
    return build._assemble(spec, plan, rows, cache.cache_key(spec, fingerprint))
