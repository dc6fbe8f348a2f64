"""Rows the build cannot read right are refused, not resolved by chance: two rows of one symbol at one time
with different values (SQL hands them over in an order that differs between SQLite, MariaDB and
PostgreSQL, so "the last wins" kept a different row on each), an infinite value, and a yield stored in a
unit whose yearly rate overflows. Exact repeats of a row are kept once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqsweep.data import DatasetSpec, build_dataset
from seqsweep.errors import DataError
from tests.data.tiny_prices import price_frame, write_db

SPEC = DatasetSpec(join="prices", symbols=("AAAUSDT", "BBBUSDT"), lookback=6, horizon=2)


def _build(url: str, tmp_path: Path) -> object:
    return build_dataset(SPEC, db_url=url, cache_dir=tmp_path / "cache", in_process=True)


def _frames() -> list[pd.DataFrame]:
    return [price_frame("AAAUSDT", 1), price_frame("BBBUSDT", 2)]


def test_rows_repeated_with_other_values_are_refused_naming_symbol_time_and_column(tmp_path: Path) -> None:
    aaa, bbb = _frames()
    twin = aaa.iloc[[10]].assign(close=aaa["close"].iloc[10] / 100)
    url = write_db(tmp_path / "db", [aaa, twin, bbb])
    with pytest.raises(DataError) as info:
        _build(url, tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert "symbol AAAUSDT" in message and str(aaa["date"].iloc[10]) in message
    assert "'crypto_price.close'" in message and "different values" in message
    low, high = sorted([aaa["close"].iloc[10], twin["close"].iloc[0]])
    assert f"{low:g} vs {high:g}" in message  # in value order, whichever row the database gave first


def test_exact_repeats_of_a_row_are_kept_once(tmp_path: Path) -> None:
    aaa, bbb = _frames()
    plain = _build(write_db(tmp_path / "plain", [aaa, bbb]), tmp_path / "a")
    repeated = _build(write_db(tmp_path / "repeated", [aaa, aaa.iloc[[10, 11]], bbb]), tmp_path / "b")
    np.testing.assert_array_equal(plain.features, repeated.features)  # type: ignore[attr-defined]


def test_an_infinite_value_in_the_database_is_refused(tmp_path: Path) -> None:
    import sqlalchemy as sa

    url = write_db(tmp_path / "db", _frames())
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # SQLite stores 9e999 as +Inf
        conn.execute(
            sa.text(
                "UPDATE crypto_price SET volume = 9e999 WHERE crypto_symbol = 'BBBUSDT' AND rowid % 7 = 0"
            )
        )
    engine.dispose()
    with pytest.raises(DataError, match=r"column 'crypto_price.volume': inf is not a finite number"):
        _build(url, tmp_path)


@pytest.mark.parametrize(
    ("stored", "shown"),
    [(4.47, "infinite"), (0.0447, "1.14e\\+170, above 1000%")],
    ids=["percent", "fraction"],
)
def test_a_yield_in_another_unit_is_refused_not_masked_whole(
    stored: float, shown: str, tmp_path: Path
) -> None:
    """4.47 (percent) or 0.0447 (a yearly fraction) where ln(1 + 0.0447) / 8760 belongs: the first
    overflowed to inf, the second to 1e170 (finite, so the scaler's std was inf and the feature all 0)."""
    import sqlalchemy as sa

    url = write_db(tmp_path / "db", _frames())
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'UPDATE "US_Bond_Yield" SET yield = {stored}'))
    engine.dispose()
    with pytest.raises(
        DataError, match=rf"column 'yield' of symbol AAAUSDT holds {stored} .*yearly yield is {shown}"
    ):
        _build(url, tmp_path)


def test_a_column_too_large_to_scale_is_named(tmp_path: Path) -> None:
    """Values near float64's limit: the train mean and std overflow, every scaled value would be 0/NaN."""
    import sqlalchemy as sa

    url = write_db(tmp_path / "db", _frames())
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE crypto_price SET open = open * 1e300 WHERE crypto_symbol = 'AAAUSDT'"))
    engine.dispose()
    with pytest.raises(
        DataError, match=r"symbol AAAUSDT: column 'open' holds values up to .*too large to scale"
    ):
        _build(url, tmp_path)
