"""Drive `seqsweep run` / `resume` as a subprocess: start it, wait on conditions, signal it (or, for a
step that is not about the process, run it in this process).

Every wait has a deadline and a message that says what did not happen; a wait also fails at once
(with the driver's output) when the driver has exited. Signalling a process group that is already
gone is not an error.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

EPOCHS = 3
"""Epochs of a `barrier_sweep` trial."""
BARRIER_EPOCH = 2
"""The epoch a `barrier_sweep` trial blocks in until the test releases it."""
WAIT_DEADLINE_S = 240.0
"""Generous: on a loaded 2-core machine a local Ray and the first trial take a while to start."""


def start(*args: str) -> subprocess.Popen[str]:
    """`python -m seqsweep.cli ARGS` in its own process group (signals reach it and its local Ray)."""
    return subprocess.Popen(
        [sys.executable, "-m", "seqsweep.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def run_here(capsys: Any, caplog: Any, *args: str) -> tuple[int, str]:
    """`seqsweep ARGS` in this process, on the session's local Ray (the `ray_cluster` fixture), and all it
    said: stdout, stderr and its log lines (`capsys`, `caplog`: pytest's fixtures; under pytest the
    command's log lines reach `caplog`, not stderr). For the steps of a test that are not about the
    process or its signals: it saves the start of a Python, a local Ray and a torch import."""
    from seqsweep import cli

    capsys.readouterr()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="seqsweep"):
        code = cli.main(list(args))
    captured = capsys.readouterr()
    return code, "\n".join([captured.out, captured.err, *caplog.messages])


def signal_group(proc: subprocess.Popen[str], sig: int) -> None:
    """Send `sig` to the driver's process group; a group that already exited is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def signal_driver(proc: subprocess.Popen[str], sig: int) -> None:
    """Send `sig` to the driver process only; a driver that already exited is fine."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, sig)


def finish(proc: subprocess.Popen[str], timeout_s: float = 600.0) -> str:
    """Wait for the driver to exit and return its output; kill its group if it overstays."""
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        signal_group(proc, signal.SIGKILL)
        out, _ = proc.communicate()
        raise AssertionError(f"the driver did not exit within {timeout_s} s:\n{out[-4000:]}") from None
    return out


def wait_for(
    what: str,
    ready: Callable[[], T | None],
    proc: subprocess.Popen[str] | None = None,
    timeout_s: float = WAIT_DEADLINE_S,
) -> T:
    """Poll `ready()` until it returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = ready()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"the driver exited ({proc.returncode}) before {what}:\n{out[-4000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s:.0f} s")
        time.sleep(0.1)


def result_rows(trial_dir: Path) -> list[dict]:
    path = trial_dir / "result.json"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def trial_dirs(experiment: Path) -> list[Path]:
    if not experiment.is_dir():
        return []
    return sorted(p for p in experiment.iterdir() if p.is_dir() and (p / "params.json").exists())


def trial_dir_of(experiment: Path, trial_id: str) -> Path:
    found = [d for d in trial_dirs(experiment) if f"_{trial_id}_" in d.name]
    assert len(found) == 1, f"trial {trial_id}: folders {found} in {experiment}"
    return found[0]


def checkpoints(trial_dir: Path) -> list[str]:
    return sorted(p.name for p in trial_dir.glob("checkpoint_*") if p.is_dir())


def barrier_sweep(barrier_dir: Path, cell_sizes: list[int], **sections: Any) -> dict[str, Any]:
    """Sweep sections (for `write_sweep`): a grid of `barrier_family` trials, one at a time, keep 1."""
    barrier_dir.mkdir(parents=True, exist_ok=True)
    return {
        "model": "barrier_family:build",
        "params": {
            "cell_size": {"type": "choice", "values": cell_sizes},
            "batch_size": 64,
            "epochs": EPOCHS,
            "barrier_dir": str(barrier_dir),
            "barrier_epoch": BARRIER_EPOCH,
        },
        "search": {"algorithm": "grid", "num_samples": None, "max_concurrent": 1, "seed": 1},
        "scheduler": {"type": "none"},
        "checkpoints": {"keep": 1},
        **sections,
    }


def assert_ray_checkpoints_exist(experiment: Path, trainable: Any = None) -> None:
    """Every checkpoint `ExperimentAnalysis`, `Tuner.restore` and the result rows name exists
    (`trainable`: the one the experiment ran, `train_trial` by default)."""
    from ray import tune

    from seqsweep.trainables.tune_reporter import train_trial

    analysis = tune.ExperimentAnalysis(str(experiment), default_metric="val_macro_f1", default_mode="max")
    handed_out = []
    for trial in analysis.trials:
        handed_out += [
            analysis.get_best_checkpoint(trial),
            analysis.get_best_checkpoint(trial, metric="val_loss", mode="min"),
            analysis.get_last_checkpoint(trial),
        ]
    assert all(c is not None and Path(c.path).is_dir() for c in handed_out), handed_out
    grid = tune.Tuner.restore(str(experiment), trainable=trainable or train_trial).get_results()
    listed = [c.path for result in grid for c, _ in result.best_checkpoints]
    assert listed and all(Path(p).is_dir() for p in listed), listed
    for trial_dir in trial_dirs(experiment):
        named = {r["checkpoint_dir_name"] for r in result_rows(trial_dir) if r.get("checkpoint_dir_name")}
        assert named == set(checkpoints(trial_dir)), trial_dir
    for trial in analysis.trials:  # Ray ranks trials by this summary: it must match the rows on disk
        scores = [r["val_macro_f1"] for r in result_rows(Path(trial.path)) if "val_macro_f1" in r]
        assert trial.metric_analysis["val_macro_f1"]["max"] == max(scores), trial.trial_id
