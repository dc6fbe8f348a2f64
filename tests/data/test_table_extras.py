"""A load replaces a table whole: what the old table held besides its rows (the user's indexes and
constraints, triggers, PostgreSQL's grants) is named in one warning, never dropped without a word."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from seqsweep.data.load_csv import load_csv
from tests.databases import run_sql

TRIGGER_SETUP = {
    "sqlite": [
        "CREATE TABLE audit (n INTEGER)",
        "CREATE TRIGGER audit_insert AFTER INSERT ON aaa BEGIN INSERT INTO audit VALUES (1); END",
    ],
    "mariadb": ["CREATE TRIGGER audit_insert BEFORE INSERT ON aaa FOR EACH ROW SET NEW.close = NEW.close"],
    "postgresql": [
        "CREATE FUNCTION keep_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
        "CREATE TRIGGER audit_insert BEFORE INSERT ON aaa FOR EACH ROW EXECUTE FUNCTION keep_row()",
    ],
}
"""A trigger `audit_insert` on table `aaa`, in each database's dialect."""


def _files(folder: Path, symbol: str, rows: int) -> Path:
    """`folder/aaa.csv`: `rows` hourly rows of `symbol` with a `close` column."""
    folder.mkdir()
    lines = [f"2024-01-01 {hour:02d}:00:00,{symbol},{hour + 1}" for hour in range(rows)]
    (folder / "aaa.csv").write_text("\n".join(["date,crypto_symbol,close", *lines]) + "\n")
    return folder


def _catalog(url: str) -> tuple[list[list[str]], list[str]]:
    """Table `aaa`'s indexes (their columns) and its triggers' names."""
    engine = sa.create_engine(url)
    try:
        indexes = sorted([c for c in ix["column_names"] if c] for ix in sa.inspect(engine).get_indexes("aaa"))
        triggers = {
            "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger'",
            "mysql": "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()",
            "postgresql": "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal",
        }["mysql" if engine.dialect.name == "mariadb" else engine.dialect.name]
        with engine.connect() as conn:
            names = sorted(str(name) for name in conn.execute(sa.text(triggers)).scalars())
    finally:
        engine.dispose()
    return indexes, names


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


@pytest.mark.parametrize("database", ["sqlite", "mariadb", "postgresql"], indirect=True)
def test_what_a_reload_drops_is_named_in_one_warning(
    database: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A user's index and unique index, and a trigger, on a loaded table: loading the folder again used to
    drop them without a word (the load replaces the table). Now one warning names each; the new table has
    the new rows and the project's own index only, and a load after that (nothing else left) warns of
    nothing."""
    backend = database.split(":")[0].split("+")[0]
    backend = "mariadb" if backend == "mysql" else backend
    load_csv(_files(tmp_path / "old", "OLD", 2), database)
    run_sql(
        database,
        "CREATE INDEX ix_by_close ON aaa (close)",
        "CREATE UNIQUE INDEX ux_row ON aaa (crypto_symbol, date)",
        *TRIGGER_SETUP[backend],
    )
    with caplog.at_level(logging.INFO, logger="seqsweep"):
        assert load_csv(_files(tmp_path / "new", "NEW", 3), database) == {"aaa": 3}
    (warning,) = _warnings(caplog)
    assert warning.startswith("table aaa was replaced; not made again on it: ")
    assert warning.endswith(": create them again")
    for item in ("index ix_by_close (close)", "trigger audit_insert"):
        assert item in warning, item
    # MariaDB's catalog reads a unique index as a unique constraint (it is one there)
    assert re.search(r"unique (index|constraint) ux_row \(crypto_symbol, date\)", warning), warning
    assert "ix_aaa" not in warning  # the project's own index is made again, so never named
    assert _catalog(database) == ([["crypto_symbol", "date"]], [])

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="seqsweep"):
        assert load_csv(_files(tmp_path / "again", "AGAIN", 2), database) == {"aaa": 2}
    assert _warnings(caplog) == []


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_postgresql_grants_and_constraints_are_named(
    database: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL ties privileges to the table itself (MariaDB keeps them by name): a grant to PUBLIC, a
    primary key and a CHECK constraint go with the old table and are named; the owner's own privileges
    are not a grant to name."""
    load_csv(_files(tmp_path / "old", "OLD", 2), database)
    run_sql(
        database,
        "GRANT SELECT, UPDATE ON aaa TO PUBLIC",
        "ALTER TABLE aaa ADD PRIMARY KEY (crypto_symbol, date)",
        "ALTER TABLE aaa ADD CONSTRAINT close_positive CHECK (close > 0)",
    )
    with caplog.at_level(logging.INFO, logger="seqsweep"):
        load_csv(_files(tmp_path / "new", "NEW", 2), database)
    (warning,) = _warnings(caplog)
    items = warning.split(": ", 1)[1].split(" (a load makes again")[0].split("; ")
    assert sorted(items) == sorted(
        [
            "primary key (crypto_symbol, date)",
            "check constraint close_positive",
            "SELECT, UPDATE granted to PUBLIC",
        ]
    )


def test_the_command_prints_the_warning_and_exits_0(tmp_path: Path) -> None:
    """`seqsweep data load-csv`, a process of its own as a user runs it: one warning line on stderr, and
    the load itself succeeds (exit 0)."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    load_csv(_files(tmp_path / "old", "OLD", 2), url)
    run_sql(url, "CREATE INDEX ix_by_close ON aaa (close)")
    command = [sys.executable, "-m", "seqsweep", "data", "load-csv", str(_files(tmp_path / "new", "NEW", 2))]
    done = subprocess.run([*command, "--db", url], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines() if "warning" in line] == [
        "seqsweep: warning: table aaa was replaced; not made again on it: index ix_by_close (close) (a load "
        "makes again only the rows, the project's (crypto_symbol, date) index and the views over the "
        "table): create them again"
    ]
