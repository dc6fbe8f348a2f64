"""Fresh databases on the test servers (MariaDB, PostgreSQL), made and dropped by the tests themselves."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import pytest

MARIADB_SERVER = "mysql+pymysql://root@127.0.0.1:3306"
"""The test MariaDB server: root, empty password. Each run works in a uniquely named database."""

SERVERS = {
    "mariadb": (MARIADB_SERVER, "`{}`"),
    "postgresql": ("postgresql+psycopg2://postgres@127.0.0.1:5432", '"{}"'),
}
"""Database servers `fresh_database` makes a database on: URL without a database, identifier quoting."""


@contextlib.contextmanager
def fresh_database(backend: str, prefix: str) -> Iterator[str]:
    """URL of a fresh, uniquely named database on `backend` (a `SERVERS` key), dropped on exit; skips the
    test if the server is down."""
    import sqlalchemy as sa

    server_url, quote = SERVERS[backend]
    name = quote.format(f"{prefix}_{uuid.uuid4().hex[:12]}")
    server = sa.create_engine(
        f"{server_url}/{'postgres' if backend == 'postgresql' else ''}",
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 5},
    )
    try:
        with server.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    except (sa.exc.OperationalError, ImportError) as exc:
        server.dispose()
        pytest.skip(f"{backend} at {server_url} is unreachable ({getattr(exc, 'orig', exc)})")
    try:
        yield f"{server_url}/{name[1:-1]}"
    finally:
        with server.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        server.dispose()


def run_sql(url: str, *statements: str) -> None:
    """Run `statements` on the database at `url` in one transaction (a test's setup: views, updates)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()
