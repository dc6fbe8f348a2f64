"""A CSV file that a build's task cannot open (moved or deleted after the plan read it, a folder put in its
place) ends the build with one line naming its path and what to do, not a hint at a damaged file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from seqsweep.data import DatasetSpec, build
from seqsweep.data.csv_header import unreadable
from seqsweep.data.sources import plan_source
from seqsweep.errors import DataError


def _candles(path: Path) -> None:
    rows = [f"2024-01-01 00:{m:02d},1,2,0.5,1.5,{m}" for m in range(30)]
    path.write_text(
        "date,open_price,highest_price,lowest_price,closing_price,volume\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )


@pytest.mark.parametrize(
    ("replace", "fix"), [("delete", "moved or deleted"), ("folder", "it is a folder: name the file in it")]
)
def test_a_dataset_csv_gone_before_its_task_reads_it_is_one_line_with_its_path(
    ray_cluster: Any, tmp_path: Path, replace: str, fix: str
) -> None:
    csv = tmp_path / "candles.csv"
    _candles(csv)
    spec = DatasetSpec(join="ohlcv", csv=str(csv), lookback=2, horizon=1)
    plan = plan_source(spec, None)
    csv.unlink()
    if replace == "folder":
        csv.mkdir()
    with pytest.raises(DataError) as error:
        build._ray_batches(spec, plan)
    message = str(error.value)
    assert message.startswith(f"dataset.csv: {csv}: cannot open {csv}: ")
    assert fix in message and "damaged" not in message and "\n" not in message


def test_an_unreadable_file_names_its_path_and_a_damaged_one_keeps_its_hint(tmp_path: Path) -> None:
    missing = tmp_path / "gone.csv"
    with pytest.raises(OSError) as gone:
        missing.open(encoding="utf-8")
    assert str(unreadable("load-csv: gone.csv", gone.value)) == (
        f"load-csv: gone.csv: cannot open {missing}: No such file or directory; it was moved or deleted: "
        "put it back, or name the file where it is now"
    )
    damaged = unreadable("load-csv: x.csv.gz", OSError("Not a gzipped file (b'ab')"))
    assert str(damaged).endswith("(a file cut short or damaged?)")


def test_a_task_error_carrying_a_file_it_could_not_open_becomes_one_line_naming_the_path(
    tmp_path: Path,
) -> None:
    """Any file a per-symbol task cannot open, not only a `dataset.csv` its reader names: the OSError Ray
    carries (as `cause`, or as the instance-of-cause class it raises) is one DataError line with its path,
    exit 2, where it ended as an unexpected error (exit 3)."""
    from ray.exceptions import RayTaskError

    gone = tmp_path / "gone" / "rates.db"
    with pytest.raises(OSError) as opened:
        gone.open("rb")
    wrapped = RayTaskError("load_and_featurize_symbol", "Traceback ...", opened.value)
    for error in (wrapped, wrapped.as_instanceof_cause()):
        found = build._user_error(error)
        assert isinstance(found, DataError)
        assert str(found) == (
            f"a per-symbol task of the dataset build: cannot open {gone}: No such file or directory; it was "
            "moved or deleted: put it back, or name the file where it is now"
        )
    assert build._user_error(RayTaskError("f", "Traceback ...", ConnectionResetError("peer"))) is None
