"""`dataset.exclude_columns`, and the gaps report (masked rows and cells per split and symbol) of `data build`.

Builds read a tiny SQLite file the test writes (`tiny_prices`), in this process (`in_process=True`);
the CLI is run with `build_dataset` pinned to in-process too, so no test here starts Ray.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from tiny_prices import INPUTS, price_frame, write_db

from seqsweep.cli import main
from seqsweep.data import DatasetSpec, build_dataset
from seqsweep.data import build as build_module
from seqsweep.data.spec import SplitSpec
from seqsweep.data.summary import render_text
from seqsweep.errors import ConfigError, DataError

VALID_START, TEST_START = "2024-01-07 00:00:00", "2024-01-09 00:00:00"
MISSING_HOURS = pd.date_range("2024-01-02 10:00", periods=3, freq="1h")
"""AAAUSDT lacks these train hours: 3 masked rows, each with all 6 input cells masked."""
BLANK_VOLUME = pd.Timestamp("2024-01-08 06:00")
"""AAAUSDT's volume is NULL here (valid split): 1 masked cell, no masked row."""


def _spec(symbols: tuple[str, ...] = ("AAAUSDT", "BBBUSDT"), **changes: Any) -> DatasetSpec:
    base = DatasetSpec(
        join="prices",
        symbols=symbols,
        targets=("close",),
        lookback=4,
        horizon=2,
        pca_components=1,
        split=SplitSpec(valid_start=VALID_START, test_start=TEST_START),
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    a = price_frame("AAAUSDT", seed=1)
    a = a[~a["date"].isin(MISSING_HOURS)].reset_index(drop=True)
    a.loc[a["date"] == BLANK_VOLUME, "volume"] = None
    silent = price_frame("SILENTUSDT", seed=4)
    silent["volume"] = None  # a symbol whose volume is NULL in every row
    return write_db(tmp_path_factory.mktemp("gaps"), [a, price_frame("BBBUSDT", seed=2), silent])


def test_an_all_null_column_names_exclude_columns_as_the_way_out(url: str, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"symbol SILENTUSDT: column 'volume' is all NaN \(NULL\); fill it, leave "
                       r"the column out \(dataset.exclude_columns: \[volume\]\) or drop the symbol") as info:  # fmt: skip
        build_dataset(_spec(("SILENTUSDT",)), db_url=url, cache_dir=tmp_path, in_process=True)
    assert "\n" not in str(info.value)


def test_excluding_the_column_builds_the_only_symbol_without_it(url: str, tmp_path: Path) -> None:
    kept = build_dataset(
        _spec(("SILENTUSDT",), exclude_columns=("volume",)), db_url=url, cache_dir=tmp_path, in_process=True
    )
    assert "volume" not in kept.feature_names and "volume" not in kept.preprocessing.raw_columns
    assert kept.preprocessing.raw_columns == tuple(c for c in INPUTS if c != "volume")
    assert kept.summary()["exclude_columns"] == ["volume"]
    assert "excluded columns: volume" in render_text(kept.summary())
    # on a symbol with volume, leaving it out is another dataset (another cache key)
    with_volume = build_dataset(_spec(("BBBUSDT",)), db_url=url, cache_dir=tmp_path, in_process=True)
    without = build_dataset(
        _spec(("BBBUSDT",), exclude_columns=("volume",)), db_url=url, cache_dir=tmp_path, in_process=True
    )
    assert with_volume.cache_key != without.cache_key
    assert with_volume.features.shape[1] == without.features.shape[1] + 1


@pytest.mark.parametrize(
    ("mapping", "match"),
    [
        ({"targets": ["close"], "exclude_columns": ["close"]}, r"'close' is a target \(dataset.targets: close\)"),
        ({"exclude_columns": ["date"]}, r"'date' is a key column of every join and cannot be left out"),
        ({"exclude_columns": ["crypto_symbol"]}, r"'crypto_symbol' is a key column"),
        ({"exclude_columns": ["volume"], "transform": {"volume": "log1p"}}, r"'volume' also has a dataset.transform"),
    ],
)  # fmt: skip
def test_excluding_a_target_or_key_column_is_refused(mapping: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        DatasetSpec.from_dict({"join": "prices", **mapping})
    assert "\n" not in str(info.value) and "dataset.exclude_columns" in str(info.value)


def test_excluding_a_column_the_join_lacks_names_the_columns(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"dataset.exclude_columns: 'lending_rate' is not a column of the prices "
                       r"join \(columns: open, high, low, close, volume, yield\)"):  # fmt: skip
        build_dataset(
            _spec(exclude_columns=("lending_rate",)), db_url=url, cache_dir=tmp_path, in_process=True
        )


def _expected_gaps() -> dict[str, dict[str, dict[str, int]]]:
    r = len(INPUTS)
    # 240 hours per symbol, on the grid (the missing hours are grid rows): train 6 days, valid 2, test 2
    rows = {"train": 144, "valid": 48, "test": 48}
    a = {
        "train": {"rows": rows["train"], "masked_rows": 3, "masked_cells": 3 * r},
        "valid": {"rows": rows["valid"], "masked_rows": 0, "masked_cells": 1},
        "test": {"rows": rows["test"], "masked_rows": 0, "masked_cells": 0},
    }
    b = {name: {"rows": n, "masked_rows": 0, "masked_cells": 0} for name, n in rows.items()}
    return {"AAAUSDT": a, "BBBUSDT": b}


def test_gaps_count_masked_rows_and_cells_per_split_and_symbol(url: str, tmp_path: Path) -> None:
    bundle = build_dataset(_spec(), db_url=url, cache_dir=tmp_path, in_process=True)
    gaps = bundle.summary()["gaps"]
    expected = _expected_gaps()
    assert gaps["inputs"] == len(INPUTS) and gaps["splits"] == ["train", "valid", "test"]
    assert gaps["per_symbol"] == expected
    totals = {
        name: {key: sum(expected[s][name][key] for s in expected) for key in expected["AAAUSDT"][name]}
        for name in gaps["splits"]
    }
    assert gaps["per_split"] == totals
    text = render_text(bundle.summary())
    assert "gaps (masked rows / masked cells of the 6 inputs, per split and symbol):" in text
    line = next(row for row in text.splitlines() if row.strip().startswith("AAAUSDT"))
    assert line.split() == ["AAAUSDT", "3", "/", "18", "0", "/", "1", "0", "/", "0"]


def test_gaps_with_an_embargo_and_a_transform(url: str, tmp_path: Path) -> None:
    split = SplitSpec(valid_start=VALID_START, test_start=TEST_START, gap=6)
    bundle = build_dataset(
        _spec(split=split, transform={"close": "diff"}), db_url=url, cache_dir=tmp_path, in_process=True
    )
    gaps = bundle.summary()["gaps"]
    assert gaps["splits"] == ["train", "valid", "test", "embargo"]
    a = gaps["per_symbol"]["AAAUSDT"]
    # diff masks close on the symbol's first row and on the row after the missing hours, besides the rows
    assert a["train"] == {"rows": 144, "masked_rows": 3, "masked_cells": 3 * len(INPUTS) + 2}
    assert a["embargo"] == {"rows": 12, "masked_rows": 0, "masked_cells": 0}
    assert a["valid"]["rows"] == 42 and a["valid"]["masked_cells"] == 1


def test_data_build_json_reports_the_gaps(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        build_module, "build_dataset", functools.partial(build_module.build_dataset, in_process=True)
    )
    spec_file = tmp_path / "dataset.yaml"
    spec_file.write_text(yaml.safe_dump({**_spec().to_dict(), "db": None}))
    args = ["data", "build", str(spec_file), "--db", url, "--cache-dir", str(tmp_path / "cache")]
    assert main([*args, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["gaps"]["per_symbol"] == _expected_gaps()
    assert summary["split"]["by"] == "dates"
    assert main(args) == 0
    assert "gaps (masked rows / masked cells" in capsys.readouterr().out
    # the flags say the same as the file's keys
    flags = ["--join", "prices", "--symbols", "AAAUSDT,BBBUSDT", "--targets", "close", "--lookback", "4",
             "--horizon", "2", "--valid-start", VALID_START, "--test-start", TEST_START,
             "--exclude-columns", "yield", "--transform", "close=log_return,volume=log1p"]  # fmt: skip
    assert main(["data", "build", "--db", url, "--cache-dir", str(tmp_path / "cache"), "--json", *flags]) == 0
    by_flags = json.loads(capsys.readouterr().out)
    assert by_flags["transforms"] == {"close": "log_return", "volume": "log1p"}
    assert by_flags["exclude_columns"] == ["yield"] and "yield" not in by_flags["feature_names"]
    assert by_flags["valid_starts"] == VALID_START


def test_data_build_of_a_sweep_file_caches_where_run_reads(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`data build my_sweep.yaml` cached under ~/.cache/seqsweep/datasets, and the `run` that followed built
    the same dataset again into the sweep's `<storage_path>/datasets`."""
    monkeypatch.setattr(
        build_module, "build_dataset", functools.partial(build_module.build_dataset, in_process=True)
    )
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    sweep = {
        "name": "cached_here",
        "model": "gru",
        "storage_path": "./st",
        "dataset": {**_spec().to_dict(), "db": None},
        "params": {"hidden_size": {"type": "choice", "values": [4]}},
    }
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(sweep))
    assert main(["data", "build", "sweep.yaml", "--db", url, "--json"]) == 0
    key = json.loads(capsys.readouterr().out)["cache_key"]
    assert (tmp_path / "st" / "datasets" / key / "manifest.json").is_file()
    assert not (tmp_path / "home" / ".cache").exists()
    (tmp_path / "dataset.yaml").write_text(yaml.safe_dump(sweep["dataset"]))  # a dataset section alone
    assert main(["data", "build", "dataset.yaml", "--db", url, "--json"]) == 0
    assert (tmp_path / "home" / ".cache" / "seqsweep" / "datasets" / key).is_dir()
