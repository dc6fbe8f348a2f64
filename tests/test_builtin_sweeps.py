"""Every built-in sweep validates and runs on the embedded default database, as shipped.

`validate` checks each file unchanged (schema, every corner of its space, a dry build on the generated
database). The run uses the same file made small (1 trial, 1 epoch, small layers, fewer rows): what it
proves is that the tables, symbols, columns and windows each sweep asks for exist in the generated data
and that its family trains on them through Ray Tune. The trials' TensorBoard event files are read back
with TensorBoard's own reader.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from seqsweep.cli import main
from seqsweep.search_spaces.sweep import BUILTIN_DIR

BUILTINS = sorted(path.stem for path in BUILTIN_DIR.glob("*.yaml"))

SMALL_FIXED = {"cell_size": 16, "hidden_size": 16, "epochs": 1, "batch_size": 64}
"""Fixed values that keep one trial to seconds on 2 cores (only keys the sweep already has)."""

SMALL_ROWS = {"ohlcv": 1500}
"""Latest rows per symbol for the run (the 5-minute table has 14,400); hourly joins keep all theirs."""


def small_copy(name: str, storage: Path) -> dict[str, Any]:
    """The built-in sweep `name` as one trial of one epoch with small layers, storing under `storage`."""
    sweep: dict[str, Any] = yaml.safe_load((BUILTIN_DIR / f"{name}.yaml").read_text())
    if isinstance(sweep.get("model"), dict):  # several families: each block (and `common`) made small
        for block in sweep["params"].values():
            _shrink(block)
    else:
        _shrink(sweep["params"])
    search = sweep["search"]
    search["max_concurrent"] = 1
    if search["algorithm"] != "grid":
        search["num_samples"] = 1
    if "n_startup_trials" in search:
        search["n_startup_trials"] = 1
    if sweep.get("scheduler", {}).get("type") == "asha":
        sweep["scheduler"]["grace_period"] = 1
    rows = SMALL_ROWS.get(sweep["dataset"].get("join", "notebook"))
    if rows is not None:
        sweep["dataset"]["max_rows_per_symbol"] = rows
    sweep["failure"] = {"max_retries": 0}
    sweep["storage_path"] = str(storage)
    return sweep


def _shrink(params: dict[str, Any]) -> None:
    """One `params` mapping (or one family's block) made small, in place: choices to their first value,
    the SMALL_FIXED keys fixed."""
    for key, value in params.items():
        if isinstance(value, dict) and value.get("type") == "choice":
            value["values"] = value["values"][:1]  # still searched: a one-point grid, or TPE's only choice
        elif isinstance(value, dict) and value.get("type") == "int":
            value["high"] = value["low"]
        elif key in SMALL_FIXED:
            params[key] = SMALL_FIXED[key]
    for key, value in SMALL_FIXED.items():
        if isinstance(params.get(key), dict) and params[key].get("type") != "choice":
            params[key] = value


@pytest.fixture(scope="module")
def default_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The embedded default exactly as `seqsweep data sample` writes it (default seed and size)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('default') / 'sample.db'}"
    assert main(["data", "sample", "--db", url]) == 0
    return url


@pytest.fixture(scope="module")
def small_runs(
    ray_cluster: object, default_db: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[int, Path]]:
    """Each built-in sweep, made small, run through the CLI on the session's Ray: exit code, experiment."""
    folder = tmp_path_factory.mktemp("builtin_runs")
    outcomes: dict[str, tuple[int, Path]] = {}
    for name in BUILTINS:
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(small_copy(name, folder / "runs"), sort_keys=False))
        code = main(["run", str(path), "--db", default_db])
        outcomes[name] = (code, folder / "runs" / name)
    return outcomes


def test_there_are_seven_builtin_sweeps() -> None:
    assert BUILTINS == [
        "demo",
        "gru_ow",
        "lstm_base",
        "lstm_vae_grid",
        "lstm_vae_tpe",
        "mixed",
        "sklearn_gbm",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_sweep_validates_on_the_embedded_default(
    ray_cluster: object, name: str, default_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["validate", name, "--db", default_db]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"{name}: sweep file valid" in out
    assert f"{name}: dataset dry build ok" in out


@pytest.mark.slow
@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_sweep_runs_a_trial_on_the_embedded_default(
    name: str, small_runs: dict[str, tuple[int, Path]]
) -> None:
    code, experiment = small_runs[name]
    assert code == 0
    results = list(experiment.glob("*/result.json"))
    assert len(results) == 1
    reports = [json.loads(line) for line in results[0].read_text().splitlines() if line.strip()]
    assert [r["epoch"] for r in reports] == [1]
    metric = "val_mse" if name == "gru_ow" else "val_macro_f1"
    assert isinstance(reports[0][metric], float)


def test_small_copy_keeps_every_search_valid(tmp_path: Path) -> None:
    """The shrinking above only narrows the built-ins: each copy is still a valid sweep file."""
    from seqsweep.search_spaces.sweep import load_sweep

    for name in BUILTINS:
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(small_copy(name, tmp_path / "runs"), sort_keys=False))
        spec = load_sweep(path)
        assert spec.searched, name
        assert spec.num_samples == 1, name


@pytest.mark.slow
def test_trial_event_files_open_in_tensorboard(small_runs: dict[str, tuple[int, Path]]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, experiment = small_runs["demo"]
    events = sorted(experiment.glob("*/events.out.tfevents.*"))
    assert events, f"no TensorBoard event file under {experiment}"
    accumulator = EventAccumulator(str(events[0].parent))
    accumulator.Reload()
    tags = accumulator.Tags()["scalars"]
    tag = next(t for t in tags if t.endswith("val_macro_f1"))
    values = [event.value for event in accumulator.Scalars(tag)]
    assert len(values) == 1 and 0.0 <= values[0] <= 1.0
