"""Bad input of every kind is one line and exit 2, and no sweep-file value is read otherwise than
written: argparse's own errors, parameter bounds YAML reads as text, flags of the wrong kind, a merge
key written twice, a name too long for a folder, a sample seed out of range, a write the disk or the
folder refuses, and a trial that asks for more CPUs than any node has."""

from __future__ import annotations

import argparse
import errno
import re
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
    ("argv", "command"),
    [
        (["results", "runs/x", "--jsn"], "seqsweep results"),
        (["data", "build", "demo", "--lookbak", "3"], "seqsweep data build"),
        (["--nosuch"], "seqsweep"),
    ],
)
def test_an_unrecognized_flag_names_its_commands_help(
    argv: list[str], command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A mistyped flag of `results` pointed to `seqsweep --help`, which lists commands, not its flags."""
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    extra = " ".join(argv[argv.index(next(a for a in argv if a.startswith("--"))) :])
    assert capsys.readouterr().err.splitlines() == [
        f"seqsweep: error: unrecognized arguments: {extra} (see `{command} --help`)"
    ]
    assert not hasattr(cli.build_parser().parse_args(["results", "runs/x"]), "_seqsweep_command_prog")


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


def test_a_key_of_several_merged_mappings_takes_the_first_value_whatever_its_length() -> None:
    """YAML's merge key type: of `<<: [*x, *y]`, the first mapping's value. PyYAML 6 gave the first for a
    one-letter key and the last for `lookback` (it compared the keys' string objects, which Python shares
    for one letter only), so `lookback` read 6 where the file meant 4."""
    text = "a: &x {lookback: 4, cpu: 1}\nb: &y {lookback: 6, gpu: 2}\nc:\n  <<: [*x, *y]\n  cpu: 3\n"
    assert load_strict(text)["c"] == {"lookback": 4, "gpu": 2, "cpu": 3}
    # a merged mapping brings the values it reads as: its own over those merged into it
    nested = "a: &x {lookback: 4, <<: {lookback: 9, horizon: 2}}\nb: &y {lookback: 6}\nc: {<<: [*x, *y]}\n"
    assert load_strict(nested)["c"] == {"lookback": 4, "horizon": 2}


@pytest.mark.parametrize("text", ["r:\n  <<: {cpu: 1, cpu: 4}\n", "r:\n  <<: [{gpu: 0}, {cpu: 1, cpu: 4}]\n"])
def test_a_key_written_twice_inside_a_merged_mapping_is_refused(text: str) -> None:
    """A mapping written in place after `<<:` is never built on its own, so its repeated key passed."""
    with pytest.raises(DuplicateKeyError, match=r"key 'cpu' is written twice \(first at line 2\)"):
        load_strict(text)


def test_a_transform_flag_naming_a_column_twice_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """`--transform close=log_return,close=diff` built `close` as diff without a word."""
    args = ["data", "build", "--join", "prices", "--transform", "close=log_return,close=diff"]
    assert cli.main(args) == 2
    assert capsys.readouterr().err.splitlines() == [
        "seqsweep: error: --transform: column 'close' is given twice; give each column one transform"
    ]


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


@pytest.mark.parametrize(
    ("override", "line"),
    [
        (
            "dataset.symbols=[LINKUSDT, 0x10]",
            "sweep.dataset.symbols[1]: expected a string, got 16 (YAML reads the plain value as a number: quote "
            "it to keep the text as written)",
        ),
        (
            "dataset.symbols=[TRUE, LINKUSDT]",
            "sweep.dataset.symbols[0]: expected a string, got true (YAML reads the plain value as true or "
            "false: quote it to keep the text as written)",
        ),
    ],
)
def test_a_symbol_yaml_reads_as_a_number_or_boolean_says_to_quote_it(
    override: str, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ticker written 0x10 or TRUE is refused, never renamed '16' or 'True'; the line said "expected a
    string, got 16", a number the user never wrote, with no word on how to write the ticker."""
    assert _one_error_line(["validate", "demo", "--no-data", "--set", override], capsys) == line
    assert cli.main(["validate", "demo", "--no-data", "--set", "dataset.symbols=[LINKUSDT, '0x10']"]) == 0


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


def test_a_trial_asking_for_a_gpu_on_a_cluster_without_one_is_refused_before_it_starts(
    write_sweep: Callable[..., Path], ray_cluster: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """`resources.gpu: 1` where Ray has no GPU: Tune keeps every trial PENDING for ever. One line, exit 2,
    saying what to do, and nothing written."""
    import ray

    if ray.cluster_resources().get("GPU", 0):
        pytest.skip("the test's Ray has a GPU")
    path = write_sweep(name="gpu_less", resources={"gpu": 1})
    assert cli.main(["run", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "seqsweep: error: resources.gpu: the sweep asks for 1 GPU per trial but the cluster has no GPU, so every "
        "trial would wait for one forever; set resources.gpu: 0, or run it on a Ray cluster with GPUs (--address)"
    ]
    assert not (path.parent / "runs" / "gpu_less").exists()


@pytest.mark.parametrize(
    ("override", "warning"),
    [
        (
            "resources.gpu=1",
            "resources.gpu: the sweep asks for 1 GPU per trial but no GPU is available on this machine, so "
            "`seqsweep run` here refuses it: set resources.gpu: 0, or run it on a Ray cluster with GPUs "
            "(`seqsweep run --address ...` or `seqsweep submit`)",
        ),
        (
            "resources.cpu=4096",
            "resources.cpu: the sweep asks for 4096 CPUs per trial but this machine has {cpus}, so "
            "`seqsweep run` here refuses it: set resources.cpu, or run it on a bigger cluster",
        ),
        ("resources.gpu=0", None),
    ],
)
def test_validate_warns_of_trial_resources_this_machine_lacks(override: str, warning: str | None) -> None:
    """`validate` passed `gpu: 1` on a machine without a GPU in silence, and `run` then refused it (or, on
    a cluster, left the trials pending). A warning, not an error: the file may be meant for a GPU cluster.
    Run as the command it is (the warning is a log line on stderr); no GPU visible, as Ray counts them."""
    import os
    import re
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "seqsweep", "validate", "demo", "--no-data", "--set", override],
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["demo: sweep file valid (3 searched parameters, 6 trials)"]
    lines = done.stderr.splitlines()
    if warning is None:
        assert lines == []
    else:  # the machine's CPU count, as Ray counts them
        pattern = re.escape(f"seqsweep: warning: {warning}").replace(re.escape("{cpus}"), r"\d+")
        assert len(lines) == 1 and re.fullmatch(pattern, lines[0]), lines


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


@pytest.mark.parametrize("command", ["results", "resume", "predict"])
def test_a_folder_argument_that_is_a_file_or_missing_says_which(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`results run.out` said "no such experiment directory" of a file that exists, and `predict nosuch`
    "not a seqsweep bundle (no bundle.json)" of a folder that does not; `resume` said the latter too."""
    what = "a bundle folder" if command == "predict" else "an experiment directory"
    (tmp_path / "run.out").write_text("a log\n", encoding="utf-8")
    for name, problem in (
        ("run.out", f"a file, not {what}"),
        ("nosuch", f"no such {what[what.index(' ') + 1 :]}"),
    ):
        assert cli.main([command, str(tmp_path / name)]) == 2
        err = capsys.readouterr().err.splitlines()
        assert err[0].startswith(f"seqsweep: error: {tmp_path / name}: {problem}") and len(err) == 1, err


def test_a_list_written_as_comma_separated_text_shows_how_to_write_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`--set dataset.symbols=A,B` said "expected a list" without saying how one is written."""
    argv = ["validate", "demo", "--no-data", "--set", "dataset.symbols=LINKUSDT, UNIUSDT"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "seqsweep: error: sweep.dataset.symbols: expected a list, got 'LINKUSDT, UNIUSDT': "
        "write it as a list, [LINKUSDT, UNIUSDT]"
    ]


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


def _one_error_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The command's exit code is 2 and its stderr one `seqsweep: error: ...` line: that line."""
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("seqsweep: error: "), err
    return err[0].removeprefix("seqsweep: error: ")


NOT_A_DATE = "is not a date (YYYY-MM-DD, with an optional time)"


@pytest.mark.parametrize(
    ("override", "line"),
    [
        (
            "dataset.start=2024-13-01",
            f"'2024-13-01' {NOT_A_DATE} (month must be in 1..12): correct it, or quote it as text at line 1",
        ),
        (
            "dataset.split.valid_start=2024-02-30",
            f"'2024-02-30' {NOT_A_DATE} (day is out of range for month): correct it, or quote it as text "
            "at line 1",
        ),
        (
            'params.epochs=!!int "abc"',
            "'abc' is not an integer (invalid literal for int() with base 10: 'abc'): correct it, or quote it "
            "as text at line 1",
        ),
        (
            "params.epochs=!!float 'abc'",
            "'abc' is not a number (could not convert string to float: 'abc'): correct it, or quote it as "
            "text at line 1",
        ),
        ("dataset.end=!!timestamp 'abc'", f"'abc' {NOT_A_DATE}: correct it, or quote it as text at line 1"),
    ],
)
def test_a_value_its_yaml_tag_cannot_build_is_one_line(
    override: str, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An impossible calendar date, or an explicit tag PyYAML cannot construct, ended in exit 3
    ("unexpected error: ValueError: day is out of range for month"): PyYAML's constructors raise
    ValueError, TypeError or AttributeError, not a YAMLError."""
    error = _one_error_line(["validate", "demo", "--no-data", "--set", override], capsys)
    assert error == f"--set {override!r}: the value is not valid YAML: {line}"


def test_an_impossible_date_in_a_sweep_file_or_a_dataset_spec_names_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The sweep file (`validate`) and the dataset spec (`data build`) are read by the same strict reader."""
    sweep = tmp_path / "bad_date.yaml"
    sweep.write_text(
        "name: d\nmodel: lstm\ndataset:\n  symbols: [LINKUSDT]\n  start: 2024-02-30\n"
        "params: {cell_size: {type: choice, values: [8, 16]}}\n"
    )
    fault = f"'2024-02-30' {NOT_A_DATE} (day is out of range for month): correct it, or quote it as text"
    assert _one_error_line(["validate", str(sweep), "--no-data"], capsys) == (
        f"{sweep}: not valid YAML: {fault} at line 5"
    )
    spec = tmp_path / "spec.yaml"
    spec.write_text("symbols: [LINKUSDT]\nend: 2023-02-29 10:00:00\n")
    assert _one_error_line(["data", "build", str(spec)], capsys) == (
        f"{spec}: not valid YAML: '2023-02-29 10:00:00' {NOT_A_DATE} (day is out of range for month): "
        "correct it, or quote it as text at line 2"
    )


@pytest.mark.parametrize(
    ("override", "line"),
    [
        (
            "search={algorithm: tpe, 1: 2, sede: 3}",
            "sweep.search: unknown key 1 (a number, not a name) (valid keys: algorithm, max_concurrent, "
            "metric, mode, n_startup_trials, num_samples, seed, stop_at, storage, time_budget_s)",
        ),
        (
            "params.cell_size={type: choice, values: [8], 1: 2, vals: 3}",
            "params.cell_size: unknown key 1 (a number, not a name) for type choice (valid keys: type, values)",
        ),
        (
            "params.cell_size={type: choice, values: [8], null: 2, vals: 3}",
            "params.cell_size: unknown key null (not a name) for type choice (valid keys: type, values)",
        ),
        (
            "checkpoints={keep: 2, true: 1, zz: 3}",
            "sweep.checkpoints: unknown key true (a boolean, not a name) (valid keys: keep)",
        ),
        (
            "params={2: 1, cell_size: {type: choice, values: [8, 16]}}",
            "params: 2 (a number, not a name) cannot name a parameter; write its name",
        ),
    ],
)
def test_unknown_keys_of_mixed_types_name_the_key(
    override: str, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A number (or null, or a boolean) beside a misspelt name among a section's keys ended in exit 3:
    `sorted()` cannot compare an int with a str. The keys are ordered by their text."""
    assert _one_error_line(["validate", "demo", "--no-data", "--set", override], capsys) == line


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--set", "params.epochs=.nan"], "params.epochs: must be an integer >= 1, got nan"),
        (["--set", "params.epochs=.inf"], "params.epochs: must be an integer >= 1, got inf"),
        (
            ["--set", "dataset.frequency=99999999999999999999h"],
            "dataset.frequency: must be at most 3650 days (3650D), got '99999999999999999999h'",
        ),
        (
            ["--set", "dataset.max_rows_per_symbol=null", "--set", "dataset.lookback=99999999999999999999"],
            "dataset.lookback: must be from 1 to 1_000_000 steps, got 99999999999999999999",
        ),
        (
            ["--set", "dataset.max_rows_per_symbol=null", "--set", "dataset.horizon=1000001"],
            "dataset.horizon: must be from 1 to 1_000_000 steps, got 1000001",
        ),
        (
            ["--set", "dataset.max_rows_per_symbol=99999999999999999999"],
            "dataset.max_rows_per_symbol: must be from lookback + horizon (14) to 1_000_000_000_000, "
            "got 99999999999999999999",
        ),
        (
            ["--set", f"search.seed={'1' * 5000}"],
            f"--set 'search.seed={'1' * 5000}': the value is not valid YAML: '{'1' * 36}... is a number of "
            "5000 characters: too long to be a setting (at most 100) at line 1",
        ),
    ],
    ids=["epochs nan", "epochs inf", "frequency", "lookback", "horizon", "max rows", "seed of 5000 digits"],
)
def test_a_number_out_of_range_is_one_line_naming_its_bound(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """NaN or infinite epochs (`int(max(corners))`), a frequency or a window pandas or SQLite cannot hold
    (OverflowError), a seed of more digits than Python reads (ValueError) ended in exit 3."""
    assert _one_error_line(["validate", "demo", "--no-data", *argv], capsys) == line


@pytest.mark.parametrize(
    ("flag", "value", "line"),
    [
        (
            "--max-rows-per-symbol",
            "99999999999999999999",
            "dataset.max_rows_per_symbol: must be from lookback + horizon (27) to 1_000_000_000_000, "
            "got 99999999999999999999",
        ),
        (
            "--frequency",
            "99999999999999999999h",
            "dataset.frequency: must be at most 3650 days (3650D), got '99999999999999999999h'",
        ),
        (
            "--frequency",
            "-99999999999999999999h",
            "dataset.frequency: must be positive, got '-99999999999999999999h'",
        ),
    ],
)
def test_data_build_refuses_a_number_out_of_range(
    flag: str, value: str, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`data build --max-rows-per-symbol 99999999999999999999` met SQLite's INTEGER limit (exit 3)."""
    assert _one_error_line(["data", "build", "--symbols", "LINKUSDT", f"{flag}={value}"], capsys) == line


def test_a_dry_build_margin_past_what_timestamps_hold_reads_every_row() -> None:
    """The dry build's bound by dates (4 windows of steps around the split dates) overflowed pandas for a
    long window on a long step; a margin past the dates a timestamp holds bounds nothing."""
    from seqsweep.commands.run import dry_run_spec
    from seqsweep.search_spaces.sweep import load_sweep

    dates = "dataset.split={valid_start: '2024-01-01', test_start: '2024-02-01'}"
    spec = load_sweep(
        "demo",
        [dates, "dataset.max_rows_per_symbol=null", "dataset.frequency=3650D", "dataset.lookback=1000000"],
    )
    assert dry_run_spec(spec) == spec.file.dataset


EMPTY_DB = "--db is empty: give a SQLAlchemy database URL (e.g. sqlite:///prices.db)"
EMPTY_RAY = (
    "--address is empty: give auto, HOST:PORT or ray://HOST:10001, or leave it out for a private local Ray"
)
EMPTY_JOBS_API = (
    "--address is empty: give the cluster's Jobs API (http://HEAD:8265), or leave it out to use $RAY_ADDRESS"
)
EMPTY_STORAGE = (
    "--storage is empty: give a folder or a storage URI (e.g. ./runs, s3://bucket/runs), or leave it out"
)
NO_SAMPLES = ["--set", "search.num_samples=0"]
"""Refused before any trial (without the fix, `run` met this instead of the empty flag)."""


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["validate", "demo", "--no-data", "--db", ""], EMPTY_DB),
        (["validate", "demo", "--no-data", "--db", "  "], EMPTY_DB),
        (["run", "demo", "--db", "", *NO_SAMPLES], EMPTY_DB),
        (["run", "demo", "--storage", "", *NO_SAMPLES], EMPTY_STORAGE),
        (["run", "demo", "--address", "", *NO_SAMPLES], EMPTY_RAY),
        (["resume", "runs/none", "--address", ""], EMPTY_RAY),
        (["resume", "runs/none", "--db", ""], EMPTY_DB),
        (["submit", "demo", "--address", ""], EMPTY_JOBS_API),
        (["submit", "demo", "--address", "http://127.0.0.1:1", "--storage", "", *NO_SAMPLES], EMPTY_STORAGE),
        (["results", "runs/none", "--db", ""], EMPTY_DB),
        (["results", "runs/none", "--out", ""], "--out is empty: give a folder"),
        (["export", "runs/none", "--out", ""], "--out is empty: give a folder"),
        (["predict", "bundle/none", "--db", ""], EMPTY_DB),
        (["data", "sample", "--db", ""], EMPTY_DB),
        (["data", "build", "--db", "", "--symbols", "LINKUSDT"], EMPTY_DB),
        (
            ["validate", "demo", "--cache-dir", "", *NO_SAMPLES],
            "--cache-dir is empty: give a folder, or leave it out for the default cache",
        ),
    ],
)
def test_every_command_refuses_an_empty_flag_alike(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--db "$URL"` with URL unset: `data build` refused it, `validate` and `run` fell through to the file's
    `dataset.db` or the sample database; an empty --storage, --address, --cache-dir or --out was read as
    not given (the file's storage path, a private Ray, the current folder) without a word."""
    assert _one_error_line(argv, capsys) == line


def test_an_empty_ray_address_variable_is_named_as_unset(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """$RAY_ADDRESS set to nothing is the default of `--address`, not an empty flag the user wrote."""
    monkeypatch.setenv("RAY_ADDRESS", "")
    assert _one_error_line(["status", "job-1"], capsys) == (
        "--address: name the cluster's Jobs API (http://HEAD:8265) or set $RAY_ADDRESS"
    )


@pytest.mark.parametrize(
    ("override", "line"),
    [
        (
            "resources.cpu=1.5e2",
            "sweep.resources.cpu: expected a number, got '1.5e2' (YAML reads 1.5e2 as text: a number with an "
            "exponent needs a decimal point and a signed exponent; write 1.5e+2 or 150.0)",
        ),
        (
            "params.cell_size={type: uniform, low: 2.0, high: 1.5e2}",
            "params.cell_size.high: must be a finite number, got '1.5e2' (YAML reads 1.5e2 as text: a number "
            "with an exponent needs a decimal point and a signed exponent; write 1.5e+2 or 150.0)",
        ),
        (
            "dataset.labels.dead_band=1e-3",
            "sweep.dataset.labels.dead_band: expected a number, got '1e-3' (YAML reads 1e-3 as text: a number "
            "with an exponent needs a decimal point and a signed exponent; write 1.0e-3 or 0.001)",
        ),
    ],
)
def test_a_float_yaml_1_1_reads_as_text_is_told_how_to_write_it(
    override: str, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`1.5e2` has its decimal point: YAML 1.1 also needs the exponent's sign. The hint said "write it with
    a decimal point, e.g. 1.0e-3", which the value already had."""
    assert _one_error_line(["validate", "demo", "--no-data", "--set", override], capsys) == line
    assert cli.main(["validate", "demo", "--no-data", "--set", "resources.cpu=1.5e+2"]) == 0


@pytest.mark.parametrize(
    ("override", "line"),
    [
        (
            "params.iters_per_stage=1e1",
            "params.iters_per_stage: got the text '1e1', not a number (YAML reads 1e1 as text: a number with an "
            "exponent needs a decimal point and a signed exponent; write 1.0e+1 or 10.0)",
        ),
        (
            "params.max_leaf_nodes={type: choice, values: [7, 1.5e1]}",
            "params.max_leaf_nodes.values[1]: got the text '1.5e1', not a number (YAML reads 1.5e1 as text: a "
            "number with an exponent needs a decimal point and a signed exponent; write 1.5e+1 or 15.0)",
        ),
        (
            "params.iters_per_stage=[10, 1e1]",
            "params.iters_per_stage[1]: got the text '1e1', not a number (YAML reads 1e1 as text: a number with "
            "an exponent needs a decimal point and a signed exponent; write 1.0e+1 or 10.0)",
        ),
        (
            "params.iters_per_stage=0o12",
            "params.iters_per_stage: got the text '0o12', not a number (YAML reads 0o12 as text: it writes no "
            "0o octal numbers; write 10)",
        ),
        (
            "search.max_concurrent=0o2",
            "sweep.search.max_concurrent: expected an integer, got '0o2' (YAML reads "
            "0o2 as text: it writes no 0o octal numbers; write 2)",
        ),
    ],
)
def test_a_number_yaml_1_1_reads_as_text_never_reaches_a_training_function(
    override: str, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A training function (or a model builder) has no table of its keys: `iters_per_stage: 1e1` reached
    it as the string '1e1' (YAML 1.1 text; a number in YAML 1.2 and Python) without a word."""
    assert _one_error_line(["validate", "sklearn_gbm", "--no-data", "--set", override], capsys) == line
    assert cli.main(["validate", "sklearn_gbm", "--no-data", "--set", "params.iters_per_stage=1.0e+1"]) == 0


@pytest.mark.parametrize(
    ("override", "line"),
    [
        (
            "scheduler.max_t=-3",
            "scheduler.max_t: must be >= 1 epoch (leave it out to take the largest params.epochs), got -3",
        ),
        (
            "scheduler.max_t=0",
            "scheduler.max_t: must be >= 1 epoch (leave it out to take the largest params.epochs), got 0",
        ),
        ("params.epochs=-1", "params.epochs: must be an integer >= 1, got -1"),
        ("params.epochs={type: choice, values: [0, 2]}", "params.epochs: must be an integer >= 1, got 0"),
    ],
)
def test_max_t_and_epochs_below_one_are_named_before_the_grace_period(
    override: str, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`max_t: -3` and `epochs: -1` were blamed on scheduler.grace_period; `max_t: 0` was read as unset."""
    assert _one_error_line(["validate", "demo", "--no-data", "--set", override], capsys) == line


def test_a_null_model_beside_a_trainable_is_a_model_left_out(capsys: pytest.CaptureFixture[str]) -> None:
    """`model: null` was refused as a bad model where `model: ""` counted as absent."""
    function = "trainable=seqsweep.examples.sklearn_gbm:train"
    assert cli.main(["validate", "demo", "--no-data", "--set", "model=null", "--set", function]) == 0
    assert "demo: sweep file valid" in capsys.readouterr().out
    assert _one_error_line(["validate", "demo", "--no-data", "--set", "model=null"], capsys).endswith(
        "demo.yaml: missing required key `model` (or `trainable`: a training function package.module:function)"
    )


def test_a_stored_sweep_copy_edited_to_an_impossible_date_is_one_line(tmp_path: Path) -> None:
    """`results` reads the experiment's stored sweep.yaml with PyYAML's own reader, whose ValueError for
    `start: 2024-02-30` ended in exit 3."""
    from seqsweep.results.experiment import read_sweep_copy

    copy = tmp_path / "sweep.yaml"
    copy.write_text("name: d\nmodel: lstm\ndataset: {start: 2024-02-30}\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(copy))}: not valid YAML$"):
        read_sweep_copy(copy)
