"""Data-plane fixtures: edited copies of the sample database and the real tables loaded once per session."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.databases import fresh_database, run_sql

EditDb = Callable[..., str]


def sqlite_path(url: str) -> Path:
    return Path(sa.engine.make_url(url).database or "")


@pytest.fixture
def edited_db(sample_db_url: str, tmp_path: Path) -> EditDb:
    """`edited_db(*sql)`: the URL of a copy of the sample database with `sql` statements applied."""
    counter = iter(range(1_000))

    def make(*statements: str) -> str:
        path = tmp_path / f"edited_{next(counter)}.db"
        shutil.copy(sqlite_path(sample_db_url), path)
        url = f"sqlite:///{path}"
        run_sql(url, *statements)
        return url

    return make


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "datasets"


@pytest.fixture(scope="session")
def real_mariadb_url(shared_data: Path, mariadb_url: str) -> str:
    """`shared/data/seed_schema/` loaded into this session's MariaDB database once."""
    from seqsweep.data.load_csv import load_csv

    load_csv(shared_data / "seed_schema", mariadb_url)
    return mariadb_url


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, uniquely named database on `request.param` (sqlite, mariadb, postgresql), dropped after;
    skips if the server is down."""
    backend: str = request.param
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'case.db'}"
        return
    with fresh_database(backend, "seqsweep_case") as url:
        yield url
