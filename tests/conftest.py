"""Fixtures shared by every test package: real parts only (a local Ray, SQLite files, MariaDB)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from seqsweep.testing.sweeps import tiny_dataset
from tests.databases import fresh_database

HELPERS = Path(__file__).parent / "tuning" / "helpers"
"""Test-only user families (`barrier_family`, ...), importable by the driver and, through PYTHONPATH, by
the Ray processes the tests start (they inherit this environment)."""
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HELPERS), os.environ.get("PYTHONPATH")]))
sys.path.insert(0, str(HELPERS))

TEST_HOME = Path(tempfile.mkdtemp(prefix="seqsweep-test-home-"))
"""`HOME` of this test process and of every process it starts: the default sample database and dataset
cache (`~/.cache/seqsweep`) are its own, neither the user's nor another pytest-xdist worker's (a test
that regenerates the default database would pull it from under the other worker's reads)."""
os.environ["HOME"] = str(TEST_HOME)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(TEST_HOME, ignore_errors=True)


SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
"""The real public data fixtures beside the repository (read there, never copied in)."""


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[object]:
    """A local Ray with 2 CPUs for the whole session (the one already running, if any)."""
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture
def command_signal_handlers() -> Iterator[None]:
    """SIGINT and SIGTERM as a command starts with them (KeyboardInterrupt; the default action, which `main`
    turns into `Terminated`), whatever an earlier test or Ray left in place; restored after."""
    import signal

    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
        signal.SIGTERM: signal.signal(signal.SIGTERM, signal.SIG_DFL),
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


@pytest.fixture
def seqsweep_here(
    ray_cluster: object, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Callable[..., tuple[int, str]]:
    """`seqsweep ARGS` in this process on the session's Ray: `seqsweep_here(*args)` → (exit code, all it
    said) (`sweep_driver.run_here`). For the steps of a test that are not about the process or its signals."""
    from sweep_driver import run_here

    return lambda *args: run_here(capsys, caplog, *args)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data`; tests that need it are skipped with the reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"needs the real data fixtures at {SHARED_DATA}, which is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def real_sqlite_url(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """`shared/data/seed_schema/` loaded into a SQLite file once per session."""
    from seqsweep.data.load_csv import load_csv

    url = f"sqlite:///{tmp_path_factory.mktemp('real') / 'seed_schema.db'}"
    load_csv(shared_data / "seed_schema", url)
    return url


@pytest.fixture(scope="session")
def sample_db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small generated sample database (16 symbols × 400 hours) in a session temp folder."""
    from seqsweep.data.sample import write_sample

    url = f"sqlite:///{tmp_path_factory.mktemp('sample') / 'sample.db'}"
    write_sample(url, seed=7, hours=400)
    return url


@pytest.fixture(scope="session")
def fold_bundle(sample_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A 3-fold walk-forward dataset (gap 8) of two sample symbols, built in-process once per session."""
    from seqsweep.data import DatasetSpec, build_dataset
    from seqsweep.data.spec import SplitSpec

    spec = DatasetSpec(
        symbols=("LINKUSDT", "UNIUSDT"),
        targets=("close", "lending_rate"),
        lookback=6,
        horizon=2,
        pca_components=2,
        db=sample_db_url,
        split=SplitSpec(folds=3, gap=8),
    )
    return build_dataset(spec, cache_dir=tmp_path_factory.mktemp("fold_data"), in_process=True)


@pytest.fixture(scope="session")
def mariadb_url() -> Iterator[str]:
    """URL of a fresh, uniquely named MariaDB database, dropped after the session; skips if the server is down."""
    with fresh_database("mariadb", "seqsweep_test") as url:
        yield url


def tiny_sweep_dict(db_url: str, storage: Path, **sections: Any) -> dict[str, Any]:
    sweep: dict[str, Any] = {
        "name": "tiny",
        "model": "lstm",
        "dataset": tiny_dataset(db_url),
        "params": {
            "cell_size": {"type": "choice", "values": [4, 8]},
            "dropout_rate_1": {"type": "uniform", "low": 0.0, "high": 0.3},
            "batch_size": 64,
            "epochs": 3,
        },
        "search": {"algorithm": "tpe", "num_samples": 6, "max_concurrent": 1, "seed": 1},
        "scheduler": {"type": "asha", "grace_period": 1, "reduction_factor": 3},
        "resources": {"cpu": 1},
        "failure": {"max_retries": 0},
        "storage_path": str(storage),
    }
    for key, value in sections.items():
        if key != "params" and isinstance(value, dict) and isinstance(sweep.get(key), dict):
            sweep[key] = {**sweep[key], **value}
        else:
            sweep[key] = value
    return sweep


@pytest.fixture
def write_sweep(tmp_path: Path, sample_db_url: str) -> Callable[..., Path]:
    """Write a tiny sweep file (sections override the defaults) and return its path."""

    def write(**sections: Any) -> Path:
        data = tiny_sweep_dict(sample_db_url, tmp_path / "runs", **sections)
        path = tmp_path / f"{data['name']}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return write
