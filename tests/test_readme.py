"""The README is executable: every command in a ```` ```bash runnable ```` block runs as written.

The commands run in order, each in its own `bash -c`, in one scratch folder that is also `$HOME` (so
the generated sample database and the dataset cache start fresh), with `.venv/bin` first on `PATH`.
The only changes made to a command are listed in `PLACEHOLDERS` (the MariaDB URL becomes a SQLite
file, `../shared/data` the real data folder) and `SMALL` (extra `--set` flags that keep `run` to a
few seconds). Every command must exit 0 and print seqsweep's own lines only: no Ray, Ray Data,
TensorFlow, absl or oneDNN chatter, and every experiment path it prints is absolute.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RUNNABLE_TAG = "bash runnable"
"""The info string of a fenced block whose commands the test runs (it renders as a plain bash block)."""

SHARED_DATA = ROOT.parent / "shared" / "data"
"""`../shared/data` seen from the repository root, where the README's commands are written to run."""

PLACEHOLDERS: dict[str, str] = {
    "mysql+pymysql://root@127.0.0.1:3306/crypto": "sqlite:///crypto.db",
    "../shared/data": str(SHARED_DATA),
}
"""README text → what the test runs instead (the MariaDB server is another test's business)."""

SMALL: dict[str, str] = {
    "seqsweep run ": "--set params.epochs=1 --set search.num_samples=2",
}
"""Flags appended to a command that starts with the key: the same command, on a small size. The dataset
section is left as written: `run demo` then reads the dataset `data build demo` cached under the storage
path (as the README says it does) instead of building another on a started Ray."""

COMMAND_DEADLINE_S = 600
"""Per command: far above what any takes on a busy 2-core machine; a hung command fails, never blocks."""

CHATTER = re.compile(
    r"E0000|W0000|I0000|oneDNN|absl|Token authentication|Started a local Ray|Traceback|"
    r"\b(?:INFO|WARNING|ERROR)\b|ray-data|streaming_executor|Running Dataset|Progress bars|"
    r"tensorflow/|cuda|it/s\]"
)
"""Lines that only a library (never seqsweep) prints: Ray's logger format, TF/XLA's C++ log, tqdm bars."""

PRINTED_PATHS = (
    re.compile(r"^experiment: (\S+)$", re.MULTILINE),  # run
    re.compile(r"^report: (\S+)$", re.MULTILINE),  # results
    re.compile(r"^exported trial .* to (\S+)$", re.MULTILINE),  # export
    re.compile(r"^bundle (\S+): ", re.MULTILINE),  # predict
)
"""Where a command prints a path the user may hand to Ray's or TensorBoard's own tools."""


def runnable_commands(text: str) -> list[str]:
    """The commands of every ```` ```bash runnable ```` block, in order (continuation lines joined)."""
    commands: list[str] = []
    for block in re.findall(r"^```" + RUNNABLE_TAG + r"[ \t]*\n(.*?)^```", text, re.DOTALL | re.MULTILINE):
        pending = ""
        for line in block.splitlines():
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            line = pending + line
            pending = ""
            if line.strip() and not line.lstrip().startswith("#"):
                commands.append(line.strip())
    return commands


def prepared(command: str) -> str:
    """`command` with the placeholders filled in and small sizes added (before its trailing comment)."""
    for text, replacement in PLACEHOLDERS.items():
        command = command.replace(text, replacement)
    code, comment = re.match(r"^(.*?)(\s+#[^'\"]*)?$", command).groups()  # type: ignore[union-attr]
    for prefix, flags in SMALL.items():
        if code.startswith(prefix):
            code = f"{code} {flags}"
    return code + (comment or "")


def test_the_readme_has_runnable_blocks_for_the_first_hour() -> None:
    commands = runnable_commands(README.read_text())
    for expected in (
        "seqsweep data sample",
        "seqsweep data load-csv ../shared/data/seed_schema",
        "seqsweep data load-csv ../shared/data/eth_usdt_5min_gruow",
        "seqsweep data build",
        "seqsweep validate",
        "seqsweep run demo",
        "seqsweep results",
        "seqsweep export",
        "seqsweep predict",
    ):
        assert any(c.startswith(expected) for c in commands), (
            f"no runnable README command starts with {expected!r}"
        )


def test_prepared_fills_placeholders_and_keeps_the_comment() -> None:
    line = "seqsweep run demo --db mysql+pymysql://root@127.0.0.1:3306/crypto   # a private local Ray"
    assert prepared(line) == (
        f"seqsweep run demo --db sqlite:///crypto.db {SMALL['seqsweep run ']}   # a private local Ray"
    )


@pytest.mark.slow
@pytest.mark.realdata
def test_every_runnable_readme_command_works_as_written(shared_data: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEQSWEEP_", "RAY_", "TF_"))}
    env |= {
        "HOME": str(tmp_path),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "HF_HUB_OFFLINE": "1",
        "PYTHONWARNINGS": "ignore",  # the README's `python -c` lines are the user's, not seqsweep's
    }
    paths: list[str] = []
    for command in runnable_commands(README.read_text()):
        ran = prepared(command)
        started = time.monotonic()
        done = subprocess.run(
            ["bash", "-c", ran],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_DEADLINE_S,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"README command failed ({done.returncode}): {ran}\n{output[-3000:]}"
        chatter = [line for line in output.splitlines() if CHATTER.search(line)]
        assert not chatter, f"{ran} printed library chatter:\n" + "\n".join(chatter[:10])
        print(f"{time.monotonic() - started:6.1f} s  {ran}")  # shown with -rP: where the minutes go
        for pattern in PRINTED_PATHS:
            paths += pattern.findall(done.stdout)
    assert len(paths) >= 4  # run, results, export and predict each printed theirs
    relative = [path for path in paths if not Path(path).is_absolute()]
    assert not relative, f"printed relative paths: {relative}"
    assert (tmp_path / "runs" / "demo").is_dir()
    assert (tmp_path / "demo-bundle" / "README.md").is_file()
    assert "{this folder}" not in (tmp_path / "demo-bundle" / "README.md").read_text()
