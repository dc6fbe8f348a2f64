"""Every bad input from the issue: one line that names what to fix, exit code 2, nothing written."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from seqsweep.cli import main
from seqsweep.data import DatasetSpec, build_dataset
from seqsweep.errors import ConfigError, DataError, SeqsweepError

pytestmark = pytest.mark.usefixtures("ray_cluster")

PAIR = ("LINKUSDT", "UNIUSDT")


def _fails(spec: DatasetSpec, url: str, cache_dir: Path, error: type[SeqsweepError], match: str) -> str:
    with pytest.raises(error, match=match) as info:
        build_dataset(spec, db_url=url, cache_dir=cache_dir)
    message = str(info.value)
    assert "\n" not in message
    assert not cache_dir.exists() or not any(cache_dir.iterdir())  # nothing half-written
    return message


def test_unreachable_database_hides_the_password(cache_dir: Path) -> None:
    url = "mysql+pymysql://alice:s3cret-pw@127.0.0.1:1/crypto"
    message = _fails(
        DatasetSpec(), url, cache_dir, DataError, r"cannot connect to database .*alice:\*\*\*@127.0.0.1:1"
    )
    assert "s3cret-pw" not in message


@pytest.mark.parametrize(
    ("url", "error", "match"),
    [
        (
            "mysql+pymysql://alice:s3cret-pw@127.0.0.1:notaport/crypto",
            ConfigError,
            r"database URL .*: invalid literal for int\(\) .*'notaport' \(is the port a number\?\)",
        ),
        (
            "mysql+pymysql://alice:s3cret-pw@127.0.0.1:3306/crypto?charset=nosuch",
            DataError,
            r"cannot connect to database .*alice:\*\*\*@.*the driver refused the URL's options",
        ),
        (
            "sqlite://sample.db",
            ConfigError,
            r"database URL sqlite://sample.db: a SQLite URL takes three slashes .*: write sqlite:///sample.db ",
        ),
    ],
    ids=["port of letters", "unknown charset", "sqlite with two slashes"],
)
def test_a_url_the_driver_cannot_use_is_one_line(
    url: str, error: type[SeqsweepError], match: str, cache_dir: Path
) -> None:
    """These ended as `unexpected error: ValueError` / `AttributeError` / `ArgumentError` (exit 3)."""
    assert "s3cret-pw" not in _fails(DatasetSpec(), url, cache_dir, error, match)


@pytest.mark.mysql
def test_wrong_credentials_never_show_the_password(
    mariadb_url: str, cache_dir: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    url = mariadb_url.replace("root@", "root:Wr0ng-Passw0rd@")
    caplog.set_level(logging.DEBUG)
    message = _fails(
        DatasetSpec(),
        url,
        cache_dir,
        DataError,
        r"cannot connect to database .*root:\*\*\*@127\.0\.0\.1.*Access denied",
    )
    assert "Wr0ng-Passw0rd" not in message
    assert main(["data", "build", "--db", url, "--cache-dir", str(cache_dir)]) == 2
    captured = capsys.readouterr()
    assert "Wr0ng-Passw0rd" not in captured.out + captured.err + caplog.text
    errors = [line for line in captured.err.splitlines() if line.startswith("seqsweep: error:")]
    assert len(errors) == 1 and "root:***@" in errors[0]


@pytest.mark.parametrize(
    ("statements", "spec_args", "match"),
    [
        (["DROP TABLE crypto_lending_borrowing"], {}, "table 'crypto_lending_borrowing' not found in sqlite"),
        (
            ["ALTER TABLE crypto_lending_borrowing DROP COLUMN stable_borrow_rate"],
            {},
            "table 'crypto_lending_borrowing' has no column 'stable_borrow_rate'",
        ),
        (
            [],
            {"join": "prices", "targets": ("vwap",)},
            "dataset.targets: 'vwap' is not a column of the prices join",
        ),
        (
            [],
            {"symbols": ("LINKUSDT", "NOPEUSDT")},
            "unknown symbol 'NOPEUSDT': not in table 'crypto_lending_borrowing'",
        ),
        (
            [],
            {"start": "2030-01-01", "end": "2030-02-01"},
            "the notebook query returned no rows for LINKUSDT, UNIUSDT between start=2030-01-01",
        ),
        (
            [
                "UPDATE crypto_price SET date = strftime('%Y-%m-%d %H:%M:%S.000000', date, '+30 minutes') "
                "WHERE crypto_symbol = 'UNIUSDT'"
            ],
            {},
            # named at the plan, before any query: the 30 minutes between the tables, not just "no rows"
            r"table 'crypto_price': 396 dates of crypto_lending_borrowing \(UNIUSDT\) have no equal date there "
            r"but one less than 1h away \(crypto_lending_borrowing 2024-02-01 00:00:00 beside crypto_price "
            r"2024-02-01 00:30:00\)",
        ),
        (["UPDATE US_Bond_Yield SET yield = NULL"], {}, "symbol LINKUSDT: column 'yield' is all NaN"),
        (
            ["UPDATE crypto_price SET date = replace(datetime(date), ' ', 'T') WHERE date >= '2024-02-05'"],
            {},
            r"SQLite holds the dates written two ways \(.*'2024-02-05T00:00:00'.*compares them as text",
        ),
        (
            [
                "DELETE FROM crypto_lending_borrowing WHERE crypto_symbol = 'UNIUSDT' AND date >= '2024-02-01 20:00'"
            ],
            {},
            "symbol UNIUSDT: 20 rows, fewer than lookback \\+ horizon = 27",
        ),
        ([], {"max_rows_per_symbol": 40}, "dataset.split: the valid split has no windows"),
        (
            [
                "DELETE FROM crypto_price WHERE crypto_symbol = 'UNIUSDT' AND date >= '2024-02-05 04:00'",
                "DELETE FROM crypto_price WHERE crypto_symbol = 'LINKUSDT' AND date < '2024-02-07 00:00'",
            ],
            {"join": "prices"},
            "dataset.symbols: the symbols share no period",
        ),
        (
            [
                "UPDATE crypto_price SET open = NULL, high = NULL, low = NULL, close = NULL, volume = NULL "
                "WHERE crypto_symbol = 'UNIUSDT' AND date < '2024-02-05 04:00'",
                "DELETE FROM crypto_price WHERE crypto_symbol = 'UNIUSDT' "
                "AND date >= '2024-02-05 04:00' AND date < '2024-02-13 12:00'",
                "DELETE FROM US_Bond_Yield WHERE date < '2024-02-05 04:00'",
            ],
            {"join": "prices"},
            "symbol UNIUSDT: no rows in the train split",
        ),
    ],
    ids=[
        "missing-table",
        "missing-column",
        "missing-target-column",
        "unknown-symbol",
        "empty-query",
        "join-without-common-dates",
        "all-nan-column",
        "sqlite-dates-written-two-ways",
        "too-few-rows",
        "split-without-windows",
        "no-shared-period",
        "no-train-rows",
    ],
)
def test_bad_data_is_named(
    edited_db: Any, cache_dir: Path, statements: list[str], spec_args: dict[str, Any], match: str
) -> None:
    url = edited_db(*statements)
    _fails(DatasetSpec(**{"symbols": PAIR, **spec_args}), url, cache_dir, DataError, match)


def test_a_missing_sqlite_file_is_named_not_created(tmp_path: Path, cache_dir: Path) -> None:
    missing = tmp_path / "typo.db"
    _fails(
        DatasetSpec(), f"sqlite:///{missing}", cache_dir, DataError, f"database file {missing} does not exist"
    )
    assert not missing.exists()


def test_a_grid_coarser_than_the_data_is_reported_from_inside_the_ray_task(
    sample_db_url: str, cache_dir: Path
) -> None:
    spec = DatasetSpec(join="rates", symbols=PAIR, frequency="1D", lookback=2, horizon=1)
    _fails(
        spec,
        sample_db_url,
        cache_dir,
        ConfigError,
        "dataset.frequency: 1D is coarser than the data of LINKUSDT",
    )


@pytest.mark.parametrize(
    ("mapping", "match"),
    [
        ({"lookbak": 3}, "dataset: unknown key 'lookbak' \\(valid keys: "),
        (
            {"symbols": ["A", "B"], "pca_components": 3},
            "pca_components: must be between 1 and the number of symbols",
        ),
        ({"split": {"train": 0.9, "valid": 0.1}}, "no split is empty"),
        ({"frequency": "1MS"}, "dataset.frequency: must be a fixed pandas step"),
        ({"symbols": ["LINKUSDT", " "]}, "dataset.symbols: a symbol is blank"),
    ],
)
def test_bad_specs_are_named(
    mapping: dict[str, Any], match: str, sample_db_url: str, cache_dir: Path
) -> None:
    with pytest.raises(ConfigError, match=match):
        build_dataset(DatasetSpec.from_dict(mapping), db_url=sample_db_url, cache_dir=cache_dir)


def test_the_cli_prints_one_line_and_exits_2(
    tmp_path: Path, sample_db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "dataset.yaml"
    spec.write_text("dataset:\n  lookbak: 3\n")
    assert main(["data", "build", str(spec), "--db", sample_db_url]) == 2
    assert capsys.readouterr().err == (
        "seqsweep: error: dataset: unknown key 'lookbak' (valid keys: csv, db, embedding_model, end, "
        "exclude_columns, frequency, horizon, join, labels, lookback, max_rows_per_symbol, ohlcv_symbol, "
        "ohlcv_table, pca_components, split, start, symbols, targets, transform)\n"
    )
    assert main(["data", "build", "--db", sample_db_url, "--symbols", "LINKUSDT,NOPEUSDT"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown symbol 'NOPEUSDT'" in err


def test_a_missing_ohlcv_csv_is_named(tmp_path: Path, cache_dir: Path) -> None:
    missing = tmp_path / "candles.csv.gz"
    spec = DatasetSpec(join="ohlcv", csv=str(missing))
    _fails(spec, "sqlite:///unused.db", cache_dir, DataError, f"dataset.csv: file not found: {missing}")


def test_a_dataset_spec_with_a_key_written_twice_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """PyYAML keeps the last of two equal keys; the spec file must not silently build lookback 6."""
    spec_file = tmp_path / "dataset.yaml"
    spec_file.write_text("dataset:\n  lookback: 24\n  horizon: 2\n  lookback: 6\n")
    code = main(["data", "build", str(spec_file), "--db", f"sqlite:///{tmp_path / 'none.db'}"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.splitlines() == [err]
    assert "key 'lookback' is written twice (first at line 2) at line 4" in err


@pytest.mark.parametrize(
    "content",
    ["dataset:\n  symbols: [CAF\u00c9USDT]\n".encode("latin-1"), b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe"],
    ids=["latin-1", "binary"],
)
def test_a_dataset_spec_that_is_not_utf8_is_one_line(
    content: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`data build SPEC` read the file with the locale's codec and ended in exit 3 (UnicodeDecodeError)
    where `validate` names the file in one line."""
    spec = tmp_path / "spec.yaml"
    spec.write_bytes(content)
    assert main(["data", "build", str(spec), "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{spec}: not UTF-8 text (byte " in err
    assert "save the dataset spec as UTF-8 YAML" in err


def test_an_empty_dataset_spec_and_an_empty_table_name_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`data build empty.yaml` built the default dataset (exit 0) where `validate` refuses the empty file;
    `load-csv FILE --table ''` loaded the file under its own name."""
    spec = tmp_path / "empty.yaml"
    spec.write_text("# nothing yet\n")
    assert main(["data", "build", str(spec), "--no-cache"]) == 2
    assert "the file is empty" in capsys.readouterr().err
    file = tmp_path / "crypto_price.csv"
    file.write_text("date,crypto_symbol,close\n2024-01-01 00:00:00,AAAUSDT,1.0\n")
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert main(["data", "load-csv", str(file), "--db", url, "--table", ""]) == 2
    assert "table name '': use letters, digits and underscores" in capsys.readouterr().err
