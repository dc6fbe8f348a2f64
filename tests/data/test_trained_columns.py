"""`plan_source(spec, url, columns=...)`: a trained model's columns (`predict`) against tables changed since.

A column `dataset.exclude_columns` left out of training and dropped from its table since changes nothing
(README, `predict`); a training build (no `columns`) still refuses a table without its contract's columns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pandas as pd
import pytest

from seqsweep.data.sources import plan_source
from seqsweep.data.spec import DatasetSpec
from seqsweep.data.symbol_rows import load_symbol_rows
from seqsweep.errors import DataError

SYMBOL = "LINKUSDT"


@pytest.mark.parametrize(
    ("join", "table", "column"),
    [
        ("notebook", "crypto_lending_borrowing", "stable_borrow_rate"),
        ("prices", "US_Bond_Yield", "yield"),
    ],
)
def test_a_column_excluded_in_training_and_dropped_since_changes_nothing(
    sample_db_url: str, edited_db: Callable[..., str], join: str, table: str, column: str
) -> None:
    spec = DatasetSpec(join=join, symbols=(SYMBOL,), exclude_columns=(column,))
    trained = plan_source(spec, sample_db_url).value_columns
    assert column not in trained
    before = load_symbol_rows(plan_source(spec, sample_db_url, columns=trained), SYMBOL)
    assert len(before) > 300

    dropped = edited_db(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    plan = plan_source(spec, dropped, columns=trained)
    assert plan.value_columns == trained
    pd.testing.assert_frame_equal(load_symbol_rows(plan, SYMBOL), before)

    # a training build still wants the whole contract, and a model that reads the column is refused
    with pytest.raises(DataError, match=rf"table '{table}' has no column '{column}'"):
        plan_source(spec, dropped)
    full = dataclasses.replace(spec, exclude_columns=())
    with pytest.raises(DataError, match=rf"no column '{column}'"):
        plan_source(full, dropped, columns=plan_source(full, sample_db_url).value_columns)
