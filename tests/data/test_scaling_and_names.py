"""Value columns the build could not scale or name honestly are refused in one line: a column constant in
train that moves later, a valid/test value that overflows float32 once scaled, and a column named like
one of the build's own values or features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tiny_prices import price_frame, write_db

from seqsweep.data import DatasetSpec, build_dataset
from seqsweep.errors import DataError

SPEC = DatasetSpec(join="prices", symbols=("AAAUSDT", "BBBUSDT"), lookback=6, horizon=2)


def _build(tmp_path: Path, edit: object) -> None:
    frames = [price_frame("AAAUSDT", 1), price_frame("BBBUSDT", 2)]
    edit(frames[0])  # type: ignore[operator]
    for column in set(frames[0].columns) - set(frames[1].columns):
        frames[1][column] = 7.0  # the other symbol's, constant
    build_dataset(SPEC, db_url=write_db(tmp_path, frames), use_cache=False, in_process=True)


def test_a_column_constant_in_train_that_moves_later_is_refused(tmp_path: Path) -> None:
    """`taker` 0 through train and 1000-9000 after: std 0 became 1 and valid/test inputs sat thousands of
    units off, where `predict` refused the same rows."""

    def edit(frame: object) -> None:
        frame["taker"] = np.where(np.arange(len(frame)) < 200, 0.0, 1000.0 + np.arange(len(frame)))  # type: ignore[index]

    with pytest.raises(
        DataError, match=r"symbol AAAUSDT: column 'taker' is constant \(0\) in the train split"
    ):
        _build(tmp_path, edit)


def test_a_column_constant_everywhere_is_kept(tmp_path: Path) -> None:
    def edit(frame: object) -> None:
        frame["taker"] = 7.0  # type: ignore[index]

    _build(tmp_path, edit)


def test_a_valid_or_test_value_that_overflows_once_scaled_is_refused(tmp_path: Path) -> None:
    """A volume of 1e300 in test beside train volumes near 100 became +inf in the features, exit 0."""

    def edit(frame: object) -> None:
        frame.loc[len(frame) - 3, "volume"] = 1e300  # type: ignore[attr-defined]

    with pytest.raises(
        DataError, match=r"symbol AAAUSDT: column 'volume' at 2024-01-10 21:00:00 holds 1e\+300"
    ):
        _build(tmp_path, edit)


@pytest.mark.parametrize(
    "name", ["__hour_sin", "__digest", "__symbol_index", "hour_sin", "crypto_symbol_embedding_1"]
)
def test_a_column_named_like_the_builds_own_values_is_refused(name: str, tmp_path: Path) -> None:
    """`__hour_sin` was overwritten by the hour's sine, `__digest` took the rows out of the cache key (a
    stale dataset served after every price changed), `hour_sin` made the feature list name two columns alike."""

    def edit(frame: object) -> None:
        frame[name] = 1.0 + np.arange(len(frame))  # type: ignore[index]

    with pytest.raises(DataError, match=rf"table 'crypto_price': column '{name}' cannot be read"):
        _build(tmp_path, edit)
