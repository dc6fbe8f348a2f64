"""A value float64 cannot hold as written is never changed without a word: a nonzero value below float64's
range, which read as 0 (`1e-400`), is refused, naming file, column, row and value; an integer beyond 2^53,
whose last digits the reading drops (9007199254740993 → 9007199254740992), is named in a warning once per
column (a relative change below 1e-16, as for any decimal fraction; Aave's 27-digit indices are such
integers). Tiny values float64 holds (1e-12, a subnormal 1e-310) are kept as they are."""

from __future__ import annotations

import decimal
import logging
from pathlib import Path

import pandas as pd
import pytest

from seqsweep.cli import main
from seqsweep.data.number_reading import parse_numeric
from seqsweep.errors import DataError


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        (pd.Series(["2", "1e-400"]), "row 2: '1e-400' is nonzero but below the smallest float64"),
        (pd.Series(["-3.5E-999"]), "row 1: '-3.5E-999' is nonzero"),
        (pd.Series([decimal.Decimal("1E-400")], dtype=object), "row 1: '1E-400' is nonzero"),
    ],
)
def test_a_nonzero_value_below_float64_is_refused_naming_column_row_and_value(
    values: pd.Series, shown: str
) -> None:
    with pytest.raises(DataError, match="column 'volume', row ") as error:
        parse_numeric(values, "volume")
    assert shown in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        (pd.Series(["9007199254740993", "9007199254740995"]), "row 1: 9007199254740993 → 9007199254740992.0: 2 integers"),
        (pd.Series(["9,007,199,254,740,993"]), "row 1: 9007199254740993 → 9007199254740992.0: an integer"),
        (pd.Series([1, 9007199254740993], dtype="int64"), "row 2: 9007199254740993 → 9007199254740992.0"),
        (pd.Series([decimal.Decimal(12345678901234567890)], dtype=object), "12345678901234567890 → 1.2345678901234567e+19"),
    ],
)  # fmt: skip
def test_an_integer_that_loses_digits_is_named_in_a_warning(
    values: pd.Series, shown: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="seqsweep.data.number_reading"):
        read = parse_numeric(values, "volume")
    assert read.notna().all()  # read, not refused
    warnings = [r.getMessage() for r in caplog.records if "beyond 2^53" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].startswith("column 'volume', ") and shown in warnings[0]


def test_values_that_float64_holds_are_read_as_they_are(caplog: pytest.LogCaptureFixture) -> None:
    text = [
        "1e-12",
        "1e-310",
        "5e-324",
        "0",
        "-0.0",
        "0e5",
        "0.000",
        "9007199254740992",
        "1152921504606846976",
    ]
    with caplog.at_level(logging.WARNING):
        read = parse_numeric(pd.Series(text), "volume").tolist()
        assert parse_numeric(pd.Series([2**60, 7], dtype="int64"), "volume").tolist() == [2.0**60, 7.0]
    assert read == [1e-12, 1e-310, 5e-324, 0.0, 0.0, 0.0, 0.0, 2.0**53, 2.0**60]
    assert parse_numeric(pd.Series([1e-300, 0.0]), "volume").tolist() == [1e-300, 0.0]
    assert not [r for r in caplog.records if "2^53" in r.getMessage()]


def test_load_csv_names_the_file_column_and_row_of_a_value_below_float64(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # pandas reads the column as floats, 1e-400 as 0.0: the text is read again to tell
    csv = tmp_path / "prices.csv"
    csv.write_text(
        "date,crypto_symbol,close\n2024-01-01 00:00,ETHUSDT,1\n2024-01-01 01:00,ETHUSDT,2\n"
        "2024-01-01 02:00,ETHUSDT,1e-400\n",
        encoding="utf-8",
    )
    db = tmp_path / "db.sqlite"
    code = main(["data", "load-csv", str(csv), "--db", f"sqlite:///{db}", "--chunk-rows", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("seqsweep: error: load-csv: prices.csv: column 'close', row 3: '1e-400'")


def test_load_csv_names_digits_lost_in_a_column_pandas_read_as_floats_and_keeps_true_zeros(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from seqsweep.data.load_csv import load_csv

    # 1.5 makes pandas read the column as floats, where 9007199254740993 becomes 9007199254740992
    csv = tmp_path / "prices.csv"
    csv.write_text(
        "date,crypto_symbol,close,volume\n2024-01-01 00:00,ETHUSDT,1.5,0\n"
        "2024-01-01 01:00,ETHUSDT,9007199254740993,0.0\n2024-01-01 02:00,ETHUSDT,1e-12,-0.0\n",
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING):
        assert load_csv(csv, f"sqlite:///{tmp_path / 'db.sqlite'}") == {"prices": 3}
    warnings = [r.getMessage() for r in caplog.records if "2^53" in r.getMessage()]
    assert warnings == [
        "prices.csv: column 'close', row 2: 9007199254740993 → 9007199254740992.0: an integer beyond 2^53 read "
        "as the nearest float64, which drops the last digits (a relative change below 1e-16); store the "
        "column in a larger unit if its values must be exact"
    ]


def test_a_dataset_csv_value_below_float64_is_refused_naming_the_file(tmp_path: Path) -> None:
    from seqsweep.data import DatasetSpec
    from seqsweep.data.sources import plan_source
    from seqsweep.data.symbol_rows import load_symbol_rows

    csv = tmp_path / "candles.csv"
    rows = [f"2024-01-01 00:{m:02d},1,2,0.5,1.5,{'1e-400' if m == 7 else m}" for m in range(12)]
    csv.write_text(
        "date,open_price,highest_price,lowest_price,closing_price,volume\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    plan = plan_source(DatasetSpec(join="ohlcv", csv=str(csv), lookback=2, horizon=1), None)
    with pytest.raises(DataError, match=r"dataset.csv: .*candles.csv: column 'volume', row 8: '1e-400'"):
        load_symbol_rows(plan, plan.symbols[0])
