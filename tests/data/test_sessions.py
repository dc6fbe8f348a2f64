"""Every connection seqsweep opens runs its session in UTC, whatever the URL's driver, and keeps what the
URL itself asks of the session (PostgreSQL's `options`, such as a `search_path`)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from seqsweep.data.engines import open_engine
from tests.databases import fresh_database


def _scalar(url: str, query: str) -> str:
    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(sa.text(query)).scalar())
    finally:
        engine.dispose()


@pytest.mark.parametrize("scheme", ["mysql+pymysql", "mariadb+pymysql"])
def test_every_mariadb_url_form_gets_a_utc_session(scheme: str) -> None:
    """`mariadb+pymysql://` (SQLAlchemy's own MariaDB form) got no UTC session: its TIMESTAMP dates came
    back in the server's zone and joined the yield of another hour."""
    with fresh_database("mariadb", "seqsweep_session") as url:
        url = url.replace("mysql+pymysql", scheme, 1)
        assert _scalar(url, "SELECT @@session.time_zone") == "+00:00"


@pytest.mark.parametrize("scheme", ["postgresql+psycopg2", "postgresql+psycopg", "postgresql"])
def test_every_postgresql_driver_gets_a_utc_session_in_a_database_set_to_another_zone(scheme: str) -> None:
    """Only psycopg2 was given `timezone=UTC`: through psycopg (v3, plain `postgresql://`'s default driver)
    a timestamptz joined a naive timestamp five hours off in a database set to New York time."""
    with fresh_database("postgresql", "seqsweep_session") as url:
        name = url.rsplit("/", 1)[1]
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"ALTER DATABASE \"{name}\" SET timezone TO 'America/New_York'"))
        admin.dispose()
        url = url.replace("postgresql+psycopg2", scheme, 1)
        assert _scalar(url, "SHOW timezone") == "UTC"
        engine = open_engine(url)
        with engine.connect() as conn:  # a rolled-back transaction keeps the session's zone
            conn.rollback()
            assert conn.execute(sa.text("SHOW timezone")).scalar() == "UTC"
        engine.dispose()


def test_a_search_path_in_the_url_is_kept() -> None:
    """`?options=-csearch_path=corrected` was overwritten by seqsweep's own `options`: the build read the
    `public` schema's rows (and their cache key) without a word."""
    with fresh_database("postgresql", "seqsweep_session") as url:
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("CREATE SCHEMA corrected"))
            conn.execute(sa.text("CREATE TABLE public.t (v integer)"))
            conn.execute(sa.text("CREATE TABLE corrected.t (v integer)"))
            conn.execute(sa.text("INSERT INTO public.t VALUES (1)"))
            conn.execute(sa.text("INSERT INTO corrected.t VALUES (1000)"))
        admin.dispose()
        schema_url = f"{url}?options=-csearch_path%3Dcorrected"
        assert _scalar(schema_url, "SELECT v FROM t") == "1000"
        assert _scalar(schema_url, "SHOW timezone") == "UTC"
