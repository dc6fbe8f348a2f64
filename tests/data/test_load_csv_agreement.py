"""What one load's files and chunks must agree on, refused at load time rather than stored as two things:
dates with a UTC offset in one file and without one in another (the naive ones were taken as UTC, and the
join matched rows hours apart), and one symbol spelled two ways in a table (`ETH/USDT` beside `ETHUSDT`,
stored as two symbols; only a later build asking for one of them refused it)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from seqsweep.cli import main
from seqsweep.data.load_csv import load_csv
from seqsweep.errors import DataError


def _write(path: Path, header: str, rows: list[str]) -> None:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


def _tables(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        return sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_a_file_with_offsets_beside_a_file_without_is_refused_naming_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    _write(folder / "crypto_price.csv", "date,crypto_symbol,close", [
        "2024-01-01 00:00+02:00,ETHUSDT,1", "2024-01-01 01:00+02:00,ETHUSDT,2",
    ])  # fmt: skip
    _write(folder / "US_Bond_Yield.csv", "date,yield", ["2024-01-01 00:00,0.1", "2024-01-01 01:00,0.2"])
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert main(["data", "load-csv", str(folder), "--db", url]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "crypto_price.csv writes its dates with a UTC offset ('2024-01-01 00:00+02:00')" in err
    assert "US_Bond_Yield.csv without one ('2024-01-01 00:00')" in err
    assert _tables(url) == []  # nothing written


def test_files_that_agree_on_offsets_load(tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    _write(folder / "crypto_price.csv", "date,crypto_symbol,close", ["2024-01-01T00:00Z,ETHUSDT,1"])
    _write(folder / "US_Bond_Yield.csv", "date,yield", ["2024-01-01 02:00+02:00,0.1"])
    _write(folder / "ohlcv.csv", "date,close", ["1704067200,5"])  # epoch seconds: UTC by definition
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert load_csv(folder, url) == {"US_Bond_Yield": 1, "crypto_price": 1, "ohlcv": 1}


@pytest.mark.parametrize(
    ("first", "second", "how"),
    [
        ("ETHUSDT", "eth/usdt", "differ only in separators"),
        ("ETH-USDT", "ETH_USDT", "differ only in separators"),
        ("ETHUSDT", "ＥTHUSDT", "print alike but differ in Unicode form"),
    ],
)
def test_one_symbol_spelled_two_ways_in_a_file_is_refused_across_chunks(
    tmp_path: Path, first: str, second: str, how: str
) -> None:
    csv = tmp_path / "prices.csv"
    rows = [f"2024-01-01 0{h}:00,{first},{h}" for h in range(3)] + [f"2024-01-01 00:00,{second},9"]
    _write(csv, "date,crypto_symbol,close", rows)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with pytest.raises(DataError) as error:
        load_csv(csv, url, chunk_rows=2)  # the second spelling comes in a later chunk
    message = str(error.value)
    assert message.startswith("load-csv: prices.csv: column 'crypto_symbol': symbols ")
    assert how in message and "\n" not in message
    assert _tables(url) == []


def test_symbols_of_other_pairs_and_case_variants_load(tmp_path: Path) -> None:
    csv = tmp_path / "prices.csv"
    _write(csv, "date,crypto_symbol,close", [
        "2024-01-01 00:00,ETHUSDT,1", "2024-01-01 01:00,ethusdt,2", "2024-01-01 00:00,ETHUSDC,3",
    ])  # fmt: skip
    assert load_csv(csv, f"sqlite:///{tmp_path / 'db.sqlite'}") == {"prices": 3}
