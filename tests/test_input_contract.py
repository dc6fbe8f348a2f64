"""Bad input of every kind is one line and exit 2, and no sweep-file value is read otherwise than
written: argparse's own errors, parameter bounds YAML reads as text, flags of the wrong kind, a merge
key written twice, a name too long for a folder, a sample seed out of range, a write the disk or the
folder refuses, and a trial that asks for more CPUs than any node has."""

from __future__ import annotations

import argparse
import errno
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from seqsweep import cli
from seqsweep._yaml import AmbiguousScalarError, DuplicateKeyError, load_strict
from seqsweep.errors import ConfigError
from seqsweep.search_spaces.params import IntRange, parse_param
from seqsweep.search_spaces.settings import check_sweep_name
from seqsweep.search_spaces.sweep import apply_override


def test_an_argparse_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """`--top abc` printed the usage block and then the error: four lines."""
    with pytest.raises(SystemExit) as exited:
        cli.main(["results", "runs/x", "--top", "abc"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "seqsweep: error: argument --top: invalid int value: 'abc' (see `seqsweep results --help`)"
    ]


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"type": ["choice"], "values": [8, 16]}, r"params\.p\.type: must be one of"),
        ({"type": "uniform", "low": "1e-3", "high": 0.5}, r"params\.p\.low: .*\(YAML reads 1e-3 as text"),
        ({"type": "loguniform", "low": "1e-4", "high": "1e-2"}, r"params\.p\.low: must be a finite number"),
        (
            {"type": "quniform", "low": 0.0, "high": float("inf"), "q": 0.1},
            r"params\.p\.high: must be a finite",
        ),
        ({"type": "int", "low": 1, "high": 9, "log": "false"}, r"params\.p\.log: must be true or false"),
        ({"type": "int", "low": 1, "high": 9, "step": 2.5}, r"params\.p\.step: must be a whole number"),
    ],
)
def test_parameter_fields_of_the_wrong_kind_are_refused(raw: dict[str, Any], match: str) -> None:
    """These ended in exit 3 (`str - str`, OverflowError, unhashable type) or were read otherwise than
    written: `log: 'false'` is a true string to Optuna (a log scale), `step: 2.5` was cut to 2."""
    with pytest.raises(ConfigError, match=match):
        parse_param("p", raw)
    assert parse_param("p", {"type": "int", "low": 1, "high": 9, "step": 2}) == IntRange(1, 9, step=2)


def test_a_merge_key_written_twice_is_refused() -> None:
    """PyYAML took both `<<:` entries, the later one's values winning, without a word."""
    text = "a: &x {lookback: 4}\nb: &y {lookback: 6}\ndataset:\n  <<: *x\n  <<: *y\n"
    with pytest.raises(DuplicateKeyError, match=r"the merge key '<<' is written twice \(first at line 4\)"):
        load_strict(text)
    assert load_strict("a: &x {l: 4}\nb: &y {l: 6}\nc:\n  <<: [*x, *y]\n")["c"] == {"l": 4}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("epochs: 010", r"'010' is an octal number in YAML 1\.1"),
        ("lookback: -017", r"'-017' is an octal number"),
        ("time_budget_s: 1:30", r"'1:30' is a base-60 number"),
        ("dropout: 0:30.5", r"'0:30.5' is a base-60 number"),
        ("symbols: [ETHUSDT, NO]", r"'NO' is a boolean in YAML 1\.1 and text in YAML 1\.2"),
        ("log: yes", r"'yes' is a boolean"),
    ],
)
def test_scalars_yaml_1_1_and_1_2_read_differently_are_refused(text: str, match: str) -> None:
    """PyYAML (YAML 1.1) read `010` as 8, `1:30` as 90 and `NO` as False without a word."""
    with pytest.raises(AmbiguousScalarError, match=match):
        load_strict(text)


def test_plain_numbers_booleans_and_quoted_text_still_read_as_written() -> None:
    text = "a: 10\nb: 0\nc: -3\nd: 0.05\ne: true\nf: False\ng: '010'\nh: 'ON'\ni: 0x1f\nj: 1_000\nk: '1:30'"
    assert load_strict(text) == {
        "a": 10, "b": 0, "c": -3, "d": 0.05, "e": True, "f": False,
        "g": "010", "h": "ON", "i": 31, "j": 1000, "k": "1:30",
    }  # fmt: skip


def test_a_set_override_reads_its_value_as_strictly_as_the_file(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"--set 'params\.epochs=010': the value is not valid YAML: '010' is an octal"
    ):
        apply_override({"params": {}}, "params.epochs=010")
    assert apply_override({"params": {}}, "params.epochs=10") == {"params": {"epochs": 10}}


@pytest.mark.parametrize(
    ("override", "line"),
    [
        ("dataset.split.train=abc", "sweep.dataset.split.train: expected a number, got 'abc'"),
        ("resources.cpu=abc", "sweep.resources.cpu: expected a number, got 'abc'"),
        ("resources.gpu=[1]", "sweep.resources.gpu: expected a number, got [1]"),
        (
            "dataset.labels.dead_band=1e-3",
            "sweep.dataset.labels.dead_band: expected a number, got '1e-3' (YAML",
        ),
    ],
)
def test_text_where_a_number_belongs_names_the_field(
    override: str, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sweep.dataset: '<' not supported between instances of 'int' and 'str'` named no field."""
    assert cli.main(["validate", "demo", "--no-data", "--set", override]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"seqsweep: error: {line}"), err


def test_an_error_message_of_several_lines_is_printed_as_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A user module failing at import with torch's multi-line message printed two lines."""

    def command(args: argparse.Namespace) -> int:
        raise ConfigError("trainable mypkg.m:train: Error(s) in loading state_dict:\n\tMissing key(s): w")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(parser, "parse_args", lambda argv: argparse.Namespace(func=command, verbose=False))
    assert cli.main([]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "seqsweep: error: trainable mypkg.m:train: Error(s) in loading state_dict: Missing key(s): w"
    ]


def test_a_name_too_long_for_a_folder_is_refused() -> None:
    """`validate` passed a 300-character name; `run` died on `File name too long` (exit 3)."""
    with pytest.raises(ConfigError, match=r"sweep\.name: at most 100 bytes"):
        check_sweep_name("x" * 300)


def test_a_negative_sample_seed_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["data", "sample", "--db", f"sqlite:///{tmp_path / 's.db'}", "--seed", "-1"]) == 2
    assert "--seed: must be between 0 and 2**32 - 1, got -1" in capsys.readouterr().err
    assert not (tmp_path / "s.db").exists()


@pytest.mark.parametrize(
    ("code", "fix"),
    [
        (errno.ENOSPC, "free space or choose another folder"),
        (errno.EROFS, "choose a folder on a writable file system"),
        (errno.ENAMETOOLONG, "choose a shorter path or name"),
        (errno.EACCES, "give yourself access to it or choose another path"),
        (errno.EPERM, "choose a folder you may write"),  # an immutable folder: exit 3 before
    ],
)
def test_an_os_error_the_user_can_fix_is_one_line_saying_what_to_do(
    code: int, fix: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A full disk ended `results`, `export` and `data build` with exit 3; then every such error, a read
    refused included, said "cannot write ...; free space"."""

    def command(args: argparse.Namespace) -> int:
        raise OSError(code, "refused", "/data/report/index.html")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(parser, "parse_args", lambda argv: argparse.Namespace(func=command, verbose=False))
    assert cli.main([]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"seqsweep: error: /data/report/index.html: refused; {fix}"
    ]


def test_validate_refuses_a_storage_path_that_is_a_file_as_run_does(
    write_sweep: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`validate` dry-built the dataset and then failed writing its cache under the file: exit 3."""
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    path = write_sweep(name="filed", storage_path=str(blocker))
    assert cli.main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"seqsweep: error: storage_path (--storage) {blocker}: {blocker} is a file; give a folder"
    ]


def test_a_trial_asking_for_more_cpus_than_any_node_has_is_refused(
    write_sweep: Callable[..., Path], ray_cluster: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """`resources.cpu: 64` on a 2-CPU machine printed `running 0, done 0` every 30 s, for ever."""
    path = write_sweep(name="too_big", resources={"cpu": 64})
    assert cli.main(["run", str(path)]) == 2
    assert "resources.cpu: the sweep asks for 64 CPUs per trial but the cluster's largest node has" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize("given", ["", " , "])
def test_predict_symbols_naming_no_symbol_is_refused(
    given: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`predict --symbols "$LIST"` with LIST unset predicted every symbol of the bundle without a word."""
    assert cli.main(["predict", str(tmp_path), "--symbols", given]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "seqsweep: error: --symbols names no symbol: give one or more (e.g. --symbols ETHUSDT,BTCUSDT), or leave it out"
    ]


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["validate", "demo", "--no-data", "--set", "params.epochs=[1,2]"],
            "params.epochs: expected a whole number of epochs, got [1, 2]",
        ),
        (
            ["validate", "demo", "--no-data", "--set", "params.epochs=null"],
            "params.epochs: expected a whole number of epochs, got None",
        ),
        (["export", "runs/x", "--out", "b", "--trial", ""], "--trial is empty: name a trial id"),
        (
            ["data", "sample", "--db", "sqlite:///never.db", "--hours", "99999999999"],
            "--hours: must be between 48 and 1,000,000",
        ),
    ],
    ids=[
        "epochs a list (ASHA read it first)",
        "epochs null",
        "export --trial ''",
        "sample --hours past 2262",
    ],
)
def test_more_bad_input_is_one_line(argv: list[str], line: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Each ended in an unexpected error (exit 3) or, for `--trial ''`, exported the winner without a word."""
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"seqsweep: error: {line}"), err


def test_a_closed_stdout_is_no_traceback(tmp_path: Path) -> None:
    """`seqsweep validate demo --no-data >&-` ended in `AttributeError: 'NoneType' object has no attribute
    'flush'` (exit 1)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", "import sys; from seqsweep.cli import main; sys.exit(main())", "validate", "demo", "--no-data"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120, close_fds=True,
        preexec_fn=lambda: __import__("os").close(1),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "error",
    [OSError("26400 requested and 16352 written"), OSError(errno.ENOSPC, "No space left on device")],
    ids=["numpy short write", "write without a file name"],
)
def test_a_full_disk_met_while_writing_names_the_folder(error: OSError, tmp_path: Path) -> None:
    """A full disk met by numpy's `np.save` (an OSError with no errno) ended the dataset cache's save in
    exit 3; met by a plain `write` (no file name) `results --out` and `export --out` said only "No space
    left on device", without the folder."""
    from seqsweep._fs import naming_path

    target = tmp_path / "report"
    with pytest.raises(OSError) as raised, naming_path(target):
        raise error
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(target)
    assert cli.os_error_line(raised.value).startswith(f"{target}: ")
    assert cli.os_error_line(raised.value).endswith("; free space or choose another folder")


def _day_first_ohlcv(path: Path, rows: int = 6000) -> str:
    """A SQLite `ohlcv` table whose `date` is day-first text (01/01/2024 00:00), 5-minute rows over 20
    days (a day past the 12th tells day-first from month-first)."""
    import sqlite3

    import numpy as np
    import pandas as pd

    times = pd.date_range("2024-01-01", periods=rows, freq="5min")
    close = 100 + np.cumsum(np.random.default_rng(0).normal(0, 1, rows))
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE ohlcv(date TEXT, open_price REAL, highest_price REAL, lowest_price REAL, "
            "closing_price REAL, volume REAL)"
        )
        conn.executemany(
            "INSERT INTO ohlcv VALUES (?, ?, ?, ?, ?, ?)",
            zip(
                times.strftime("%d/%m/%Y %H:%M"),
                close,
                close + 1,
                close - 1,
                close + 0.5,
                close * 0 + 500.0,
                strict=True,
            ),
        )
    return f"sqlite:///{path}"


def test_validate_agrees_with_run_on_dates_sql_cannot_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`validate` cut the rows by date for its dry build (the latest rows), which day-first text dates
    cannot be cut by, and refused naming `max_rows_per_symbol`, a setting the sweep never had, while `run`
    reads the table whole and builds it. A sweep that does set a cut is refused by both."""
    url = _day_first_ohlcv(tmp_path / "dayfirst.db")
    storage = f"storage_path={tmp_path / 'runs'}"
    assert cli.main(["validate", "gru_ow", "--db", url, "--set", storage]) == 0
    out = capsys.readouterr().out
    assert "the dates are text SQL cannot cut by time, so the dry build reads every row" in out
    assert "dataset dry build ok" in out
    cut = ["--set", "dataset.max_rows_per_symbol=2000"]
    assert cli.main(["validate", "gru_ow", "--db", url, "--set", storage, *cut]) == 2
    assert (
        "dataset.max_rows_per_symbol (the latest rows): SQLite holds ohlcv.date as text"
        in capsys.readouterr().err
    )
