"""The CLI: an unforeseen exception is one line without any password; quiet by default, `-v` shows all."""

from __future__ import annotations

import argparse
import ast
import functools
import os
import re
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from seqsweep import cli


def test_unexpected_exception_is_one_line_without_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(args: argparse.Namespace) -> int:
        raise RuntimeError("cannot reach mysql+pymysql://analyst:hunter2@db:3306/crypto\nsecond line")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(parser, "parse_args", lambda argv: argparse.Namespace(func=boom, verbose=False))
    assert cli.main([]) == cli.EXIT_UNEXPECTED
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "hunter2" not in err and "analyst:***@db" in err


def test_an_unforeseen_error_inside_a_ray_task_is_one_line_without_its_traceback(
    ray_cluster: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ray's RayTaskError text carries the task's traceback frames; the line shows the task's own error."""
    import ray

    @ray.remote
    def fail() -> None:
        raise ZeroDivisionError("the task divided by zero")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    run = argparse.Namespace(func=lambda args: ray.get(fail.remote()), verbose=False)
    monkeypatch.setattr(parser, "parse_args", lambda argv: run)
    assert cli.main([]) == cli.EXIT_UNEXPECTED
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err]
    assert "unexpected error: ZeroDivisionError: the task divided by zero (run with -v" in err
    assert 'File "' not in err and "line " not in err


def test_ray_datas_retry_advice_is_cut_from_an_unforeseen_errors_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ray Data appends its retry advice to the error of a task that failed in a dataset's transform
    (the text below is what a build printed for a date out of range); the line keeps the error's own."""
    advice = (
        "Out of bounds nanosecond timestamp: 9999-12-31 00:00:00\nFailed to apply UDF transform after 1/1 "
        "attempts (total backoff 0.0s). To change retry attempts, configure "
        "`ray.data.DataContext.get_current()`"
    )

    def boom(args: argparse.Namespace) -> int:
        raise OverflowError(advice)

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(parser, "parse_args", lambda argv: argparse.Namespace(func=boom, verbose=False))
    assert cli.main([]) == cli.EXIT_UNEXPECTED
    err = capsys.readouterr().err.strip()
    assert err == (
        "seqsweep: unexpected error: OverflowError: Out of bounds nanosecond timestamp: 9999-12-31 00:00:00 "
        "(run with -v for the traceback)"
    )


# --- quiet by default: seqsweep's own lines only ------------------------------------------------

CHATTER = re.compile(
    r"E0000|W0000|I0000|oneDNN|absl|Token authentication|Started a local Ray|Traceback|"
    r"\b(?:INFO|WARNING|ERROR)\b|ray-data|streaming_executor|Progress bars|tensorflow/|it/s\]"
)
"""Lines only a library prints (Ray's logger format, Ray Data, TF/XLA's C++ log, tqdm bars)."""

DEADLINE_S = 300
"""Per CLI subprocess: far above its need on a busy 2-core machine; a hang fails instead of blocking."""


def _seqsweep(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEQSWEEP_", "RAY_", "TF_"))}
    env["HF_HUB_OFFLINE"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "seqsweep.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
    )


@pytest.fixture(scope="module")
def hourly_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Two symbols of plain hourly prices (and the yield): a 2-hour grid is bad input a Ray task detects."""
    from seqsweep.data.engines import open_engine
    from seqsweep.data.sample import generate_tables
    from seqsweep.data.tables import PRICE_TABLE, YIELD_TABLE, write_table

    tables = generate_tables(seed=3, hours=300, symbols=("AAAUSDT", "BBBUSDT"), candles=False)
    url = f"sqlite:///{tmp_path_factory.mktemp('hourly') / 'p.db'}"
    engine = open_engine(url, must_exist=False)
    for name in (PRICE_TABLE, YIELD_TABLE):
        write_table(engine, name, [tables[name]])
    engine.dispose()
    return url


BUILD = ("data", "build", "--join", "prices", "--symbols", "AAAUSDT,BBBUSDT", "--lookback", "12")
BUILD_MORE = ("--horizon", "2", "--no-cache")


@pytest.mark.slow
def test_an_error_inside_a_ray_data_task_is_one_line(hourly_db: str, tmp_path: Path) -> None:
    done = _seqsweep(*BUILD, *BUILD_MORE, "--frequency", "2h", "--db", hourly_db, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("seqsweep: error: dataset.frequency: 2h is coarser than the data of")


@pytest.mark.slow
def test_verbose_shows_what_quiet_hides(hourly_db: str, tmp_path: Path) -> None:
    done = _seqsweep("-v", *BUILD, *BUILD_MORE, "--frequency", "2h", "--db", hourly_db, cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) > 1
    assert lines[-1].startswith("seqsweep: error: dataset.frequency")
    assert any(CHATTER.search(line) for line in lines)  # Ray's own lines are back


@pytest.mark.slow
def test_a_successful_build_prints_seqsweep_lines_only(hourly_db: str, tmp_path: Path) -> None:
    done = _seqsweep(*BUILD, *BUILD_MORE, "--db", hourly_db, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("dataset ")
    chatter = [line for line in (done.stdout + done.stderr).splitlines() if CHATTER.search(line)]
    assert not chatter
    assert all(line.startswith("seqsweep: ") for line in done.stderr.strip().splitlines())


def test_data_build_accepts_a_builtin_sweep_name(
    sample_db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from seqsweep.commands.data import spec_mapping
    from seqsweep.search_spaces.sweep import load_sweep

    args = cli.build_parser().parse_args(["data", "build", "demo", "--lookback", "6"])
    mapping = spec_mapping(args)
    assert mapping["symbols"] == list(load_sweep("demo").file.dataset.symbols)
    assert mapping["lookback"] == 6
    assert cli.main(["data", "build", "no_such_sweep"]) == cli.EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert err.startswith("seqsweep: error: sweep file 'no_such_sweep' not found (built-in sweeps: demo,")


def test_data_build_names_the_ohlcv_instrument_by_a_flag(capsys: pytest.CaptureFixture[str]) -> None:
    """`--join ohlcv --symbols BTCUSDT` is refused (the join reads one instrument, `ohlcv_symbol`); the
    refusal names the flag that sets it, and the flag does."""
    from seqsweep.commands.data import spec_mapping
    from seqsweep.data.spec import DatasetSpec

    args = cli.build_parser().parse_args(["data", "build", "--join", "ohlcv", "--ohlcv-symbol", "BTCUSDT"])
    mapping = spec_mapping(args)
    assert mapping["ohlcv_symbol"] == "BTCUSDT"
    assert DatasetSpec(**mapping).ohlcv_symbol == "BTCUSDT"
    assert cli.main(["data", "build", "--join", "ohlcv", "--symbols", "BTCUSDT"]) == cli.EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert "write ohlcv_symbol: BTCUSDT (--ohlcv-symbol on the command line)" in err and "\n" not in err


def test_the_quiet_environment_is_set_for_the_command_and_removed_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in cli.QUIET_ENVIRONMENT:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")  # a user's own setting wins
    seen: dict[str, str | None] = {}

    def look(args: argparse.Namespace) -> int:
        seen.update({key: os.environ.get(key) for key in cli.QUIET_ENVIRONMENT})
        return 0

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(parser, "parse_args", lambda argv: argparse.Namespace(func=look, verbose=False))
    assert cli.main([]) == 0
    assert seen["RAY_LOGGER_LEVEL"] == "error" and seen["TF_CPP_MIN_LOG_LEVEL"] == "1"
    assert Path(str(seen["RAY_DATA_LOGGING_CONFIG"])).is_file()
    assert "RAY_LOGGER_LEVEL" not in os.environ and os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"

    monkeypatch.setattr(parser, "parse_args", lambda argv: argparse.Namespace(func=look, verbose=True))
    assert cli.main([]) == 0
    assert seen["RAY_LOGGER_LEVEL"] is None  # -v: every library at its own defaults


def test_a_warning_filter_a_library_adds_inside_the_quiet_block_shows_nothing() -> None:
    """Importing Ray inside a command puts its own filter first ("module" for RayDeprecationWarning), which
    won over the block's "ignore": `data build` and `run` printed Ray Data's deprecation warning."""
    with warnings.catch_warnings(record=True) as shown:
        with cli.quiet_environment(verbose=False):
            warnings.filterwarnings("module", category=DeprecationWarning)
            warnings.warn("library chatter", DeprecationWarning, stacklevel=1)
        assert shown == []
        with cli.quiet_environment(verbose=True):
            warnings.filterwarnings("module", category=DeprecationWarning)
            warnings.warn("library chatter", DeprecationWarning, stacklevel=1)
        assert [str(w.message) for w in shown] == ["library chatter"]  # -v shows it


def test_native_stderr_is_silenced_only_inside_the_block(tmp_path: Path) -> None:
    script = (
        "import os\n"
        "from seqsweep.cli import native_stderr_silenced\n"
        "with native_stderr_silenced():\n"
        "    os.write(2, b'hidden\\n')\n"
        "os.write(2, b'shown\\n')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=DEADLINE_S, cwd=tmp_path
    )
    assert done.returncode == 0
    assert done.stderr == "shown\n"


def test_the_final_progress_line_is_printed_once() -> None:
    import io
    from types import SimpleNamespace

    from seqsweep.tuning.progress import SweepProgress

    stream = io.StringIO()
    progress = SweepProgress("val_macro_f1", "max", total=2, stream=stream, log_every_s=3600)
    running = [SimpleNamespace(status="RUNNING", last_result={}) for _ in range(2)]
    done = [SimpleNamespace(status="TERMINATED", last_result={"val_macro_f1": 0.5}) for _ in range(2)]
    progress.on_step_end(1, running)
    progress.on_step_end(2, done)  # the last step already shows the final counts
    progress.on_experiment_end(done)
    lines = stream.getvalue().splitlines()
    assert [line.split(" | ")[0] for line in lines] == [
        "trials 0/2: running 2, done 0, errored 0",
        "trials 2/2: running 0, done 2, errored 0",
    ]
    assert "best val_macro_f1 0.5000" in lines[-1]


def test_a_storage_path_that_is_a_file_is_refused_before_ray_starts(
    write_sweep: object, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run --storage FILE` built the dataset on a started Ray, then ended in exit 3 (NotADirectoryError)."""
    import ray

    def no_ray(*args: object, **kwargs: object) -> None:
        raise AssertionError("Ray was started")

    monkeypatch.setattr(ray, "init", no_ray)
    sweep = write_sweep()  # type: ignore[operator]
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    assert cli.main(["run", str(sweep), "--storage", str(notes)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and "notes.txt is a file; give a folder" in err
    assert notes.read_text() == "mine"


def test_an_address_where_nothing_listens_is_one_line_not_a_hang(
    write_sweep: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run --address HOST:PORT` with no head there: `ray.init` retried for minutes, printing Ray's GCS
    warnings, with Ctrl-C ignored. A port just released by this test has nothing listening."""
    import socket

    import ray

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def no_ray(*args: object, **kwargs: object) -> None:
        raise AssertionError("ray.init was called")

    monkeypatch.setattr(ray, "init", no_ray)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    assert cli.main(["run", str(write_sweep()), "--address", f"127.0.0.1:{port}"]) == 2  # type: ignore[operator]
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and f"--address 127.0.0.1:{port}: cannot connect to a Ray cluster" in err


def test_sigterm_unwinds_a_command_so_its_clean_ups_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`export` stopped by SIGTERM left its hidden temporary bundle and refit folders beside `--out`:
    Python's default action ended the process without running its `finally` clean-ups."""
    import shutil
    import signal
    import time

    scratch = tmp_path / ".bundle.tmp"

    def command(args: argparse.Namespace) -> int:
        scratch.mkdir()
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(60)  # interrupted at once: the handler raises
        finally:
            shutil.rmtree(scratch)
        return 0

    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        parser = cli.build_parser()
        monkeypatch.setattr(cli, "build_parser", lambda: parser)
        monkeypatch.setattr(
            parser, "parse_args", lambda argv: argparse.Namespace(func=command, verbose=False)
        )
        assert cli.main([]) == 143
        assert not scratch.exists()
        assert "seqsweep: terminated (SIGTERM)" in capsys.readouterr().err
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored after the command
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_starting_ray_keeps_the_commands_sigterm_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    """`ray.init` sets its own SIGTERM handler (`sys.exit(15)` and a native stack dump): a `run` stopped
    during the dataset build, or after its sweep, exited 15 (or aborted) without its line."""
    import signal

    import ray

    from seqsweep.cluster.session import ray_session

    def ray_sets_its_handler(*args: object, **kwargs: object) -> None:
        signal.signal(signal.SIGTERM, lambda signum, frame: None)

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", ray_sets_its_handler)
    monkeypatch.setattr(ray, "shutdown", lambda: None)
    with cli.sigterm_unwinds():
        ours = signal.getsignal(signal.SIGTERM)
        with ray_session():
            assert signal.getsignal(signal.SIGTERM) is ours


LOUD_COMMAND = """
import argparse, sys
from seqsweep import cli

def command(args):
    for i in range(20_000):  # about 300 kB: more than a pipe holds
        print(f"row {i} 0.25 0.50 0.25")
    return 0

parser = cli.build_parser()
parser.parse_args = lambda argv: argparse.Namespace(func=command, verbose=False)
cli.build_parser = lambda: parser
sys.exit(cli.main([]))
"""


def test_a_reader_that_leaves_early_ends_the_command_quietly(tmp_path: Path) -> None:
    """`seqsweep predict ... | head` printed a `BrokenPipeError` as an unexpected error (exit 3) once
    `head` had read its lines; a closed stdout ends the command quietly with 141, as `yes | head` does."""
    script = tmp_path / "loud.py"
    script.write_text(LOUD_COMMAND)
    done = subprocess.run(
        ["bash", "-c", f'"{sys.executable}" "{script}" | head -n 2; echo "status=${{PIPESTATUS[0]}}"'],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.splitlines() == ["row 0 0.25 0.50 0.25", "row 1 0.25 0.50 0.25", "status=141"]
    assert done.stderr == ""


def test_a_broken_pipe_elsewhere_is_still_an_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only stdout's reader leaving is quiet: a `BrokenPipeError` from a socket or another pipe (a database
    connection dropped mid-query) is reported like any unforeseen failure."""

    def command(args: argparse.Namespace) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(parser, "parse_args", lambda argv: argparse.Namespace(func=command, verbose=False))
    assert cli.main([]) == cli.EXIT_UNEXPECTED
    assert "BrokenPipeError" in capsys.readouterr().err


def test_python_dash_m_seqsweep_runs_the_cli(tmp_path: Path) -> None:
    """`python -m seqsweep` is the console script (an environment without its entry point), exit codes
    included: a typo in a command's argument is one line and exit 2, as with `seqsweep`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEQSWEEP_", "RAY_", "TF_"))}
    run = functools.partial(
        subprocess.run, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=DEADLINE_S
    )
    version = run([sys.executable, "-m", "seqsweep", "--version"])
    assert version.returncode == 0 and version.stdout.startswith("seqsweep "), version
    missing = run([sys.executable, "-m", "seqsweep", "results", str(tmp_path / "runs" / "demoo")])
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.count("\n") == 1 and "no such experiment directory" in missing.stderr


def test_the_streams_escape_what_their_encoding_lacks_and_keep_file_name_bytes() -> None:
    """A character outside the encoding becomes its backslash escape (strict raised UnicodeEncodeError);
    a lone surrogate standing for an undecodable file-name byte is written as that byte."""
    text = "K\u00fcnsch \u2212 caf\udce9"
    assert text.encode("ascii", cli.ESCAPE_ERRORS) == b"K\\xfcnsch \\u2212 caf\xe9"
    assert text.encode("utf-8", cli.ESCAPE_ERRORS) == "K\u00fcnsch \u2212 caf".encode() + b"\xe9"


def _text_io_without_encoding(tree: ast.AST) -> Iterator[ast.Call]:
    """Calls of `open`, `.open`, `.read_text` or `.write_text` in text mode without `encoding=`
    (`os.open` and a constant binary mode are not text)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or any(k.arg == "encoding" for k in node.keywords):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name not in ("open", "read_text", "write_text"):
            continue
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "os":
            continue
        if name == "open":
            at = 1 if isinstance(func, ast.Name) else 0  # open(file, mode) / path.open(mode)
            given = [k.value for k in node.keywords if k.arg == "mode"] + node.args[at : at + 1]
            if given and isinstance(given[0], ast.Constant) and "b" in str(given[0].value):
                continue
        yield node


def test_files_are_written_as_utf_8_whatever_the_locale() -> None:
    """Without `encoding=`, Python reads and writes text in the locale's encoding: ASCII under `LC_ALL=C`
    without UTF-8 mode, where a `×` in the model card made `export` exit 3. Every text file of the
    package names UTF-8 (ruff's PLW1514 is preview only, and misses `(folder / NAME).read_text()`)."""
    package = Path(cli.__file__).parent
    found = [
        f"{path.relative_to(package)}:{call.lineno}: {ast.unparse(call)[:80]}"
        for path in sorted(package.rglob("*.py"))
        for call in _text_io_without_encoding(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert found == [], "give encoding='utf-8':\n" + "\n".join(found)


@pytest.mark.slow
def test_a_sweep_under_a_c_locale_prints_no_logging_error_and_ray_data_logs_keep_their_lines(
    write_sweep: object,
) -> None:
    """Ray's `SessionFileHandler` opened Ray Data's log files in the locale's encoding: under `LC_ALL=C`
    without UTF-8 mode (ASCII) the `✔️` of "Dataset ... execution finished" printed `--- Logging error
    ---` and a traceback, and the line was missing from `ray-data.log` and the dataset's own log."""
    import shutil
    import tempfile

    sweep = write_sweep(  # type: ignore[operator]
        params={"cell_size": {"type": "choice", "values": [4]}, "batch_size": 64, "epochs": 1},
        search={"num_samples": 1},
    )
    ray_tmp = Path(tempfile.mkdtemp(prefix="sqd", dir="/tmp"))  # short: Ray's socket paths < 107 chars
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEQSWEEP_", "RAY_", "TF_", "LC_"))}
    env = {k: v for k, v in env.items() if k not in ("LANG", "PYTHONIOENCODING", "PYTHONUTF8")}
    # the C locale alone turns Python's UTF-8 mode on, where files are UTF-8 anyway
    env.update(LC_ALL="C", LANG="C", PYTHONUTF8="0", RAY_TMPDIR=str(ray_tmp), HF_HUB_OFFLINE="1")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "seqsweep", "run", str(sweep)],
            env=env,
            capture_output=True,
            encoding="utf-8",
            timeout=DEADLINE_S,
        )
        assert done.returncode == 0, done.stderr
        assert "Logging error" not in done.stdout + done.stderr, done.stderr
        logs = sorted((ray_tmp / "ray" / "session_latest" / "logs" / "ray-data").glob("ray-data*.log"))
        assert [p.name.startswith("ray-data-dataset_") for p in logs] == [True, False], logs
        for log in logs:
            assert re.search(r"✔️ +Dataset \S+ execution finished", log.read_text(encoding="utf-8")), log
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)


@pytest.mark.parametrize(
    ("flag", "value", "meaning"),
    [
        ("--reseed", "0", "new seeds per configuration"),
        ("--reseed", "-1", "new seeds per configuration"),
        ("--top", "0", "the winners to list and test"),
    ],
)
def test_a_results_count_below_one_is_one_line_naming_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, meaning: str
) -> None:
    """`results DIR --reseed 0` reran nothing and said nothing (0 was the default); every count flag of
    `results` refuses a value below 1 before the experiment is read."""
    assert cli.main(["results", str(tmp_path), flag, value]) == cli.EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"seqsweep: error: {flag}: must be >= 1 ({meaning}")
    assert err.endswith(f"got {value}") and len(err.splitlines()) == 1
