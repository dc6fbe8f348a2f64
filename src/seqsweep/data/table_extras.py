"""What a table holds besides its rows that `load-csv` does not make again when it replaces the table.

A load replaces a table whole (`seqsweep.data.tables.write_tables`: a staging table is swapped in). The
new table gets its rows, the project's (crypto_symbol, date) index, and the views over it read it
(`seqsweep.data.pg_views`); whatever else was defined on the old table goes with it: the user's own
indexes and constraints, its triggers and, on PostgreSQL, the privileges granted on it (PostgreSQL ties
them to the table itself; MariaDB and MySQL keep table privileges by name, so they apply to the new
table; SQLite has none). `not_kept` names each, and the load warns with them, so that nothing is dropped
without a word (pandas' `to_sql(if_exists="replace")` drops them silently).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

_TRIGGERS: Final[dict[str, str]] = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :table ORDER BY name",
    "postgresql": (
        "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON t.tgrelid = c.oid "
        "JOIN pg_namespace n ON c.relnamespace = n.oid "
        "WHERE c.relname = :table AND n.nspname = current_schema() AND NOT t.tgisinternal ORDER BY t.tgname"
    ),
    "mysql": (
        "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS "
        "WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = :table ORDER BY TRIGGER_NAME"
    ),
}
"""The names of the triggers on table `:table` (of the connection's schema), per dialect name
(`mariadb` reads as `mysql`)."""

_PG_GRANTS: Final = (
    "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee, "
    "string_agg(DISTINCT a.privilege_type, ', ') AS privileges "
    "FROM pg_class c JOIN pg_namespace n ON c.relnamespace = n.oid, aclexplode(c.relacl) a "
    "WHERE c.relname = :table AND n.nspname = current_schema() AND a.grantee <> c.relowner "
    "GROUP BY 1 ORDER BY 1"
)
"""PostgreSQL: the privileges on table `:table` granted to roles other than its owner (PUBLIC included),
one row per grantee (`aclexplode` of `pg_class.relacl`; the PostgreSQL manual, "System Information
Functions" and "Privileges")."""


def not_kept(engine: Engine, table: str, own_key: Sequence[str]) -> list[str]:
    """What replacing `table` drops besides its rows and the project's index, one phrase each
    ("index ix_close (close)", "trigger audit", "INSERT, SELECT granted to reader"); [] when the
    table does not exist or holds nothing else.

    `own_key`: the columns of the index the load makes again (`tables._index_key` of the old table's
    columns): a non-unique index on exactly them is the project's own, whatever its name. Reads the
    database's catalog only (SQLAlchemy's inspector for indexes and constraints); raises what the
    database raises."""
    inspector = sa.inspect(engine)
    if not inspector.has_table(table):
        return []
    items: list[str] = []
    primary = inspector.get_pk_constraint(table)
    if primary.get("constrained_columns"):
        items.append(f"primary key ({', '.join(primary['constrained_columns'])})")
    uniques = inspector.get_unique_constraints(table)
    items += [_named("unique constraint", unique, unique["column_names"]) for unique in uniques]
    # the indexes behind the key and the unique constraints are named once, as those
    named = {name for name in (primary.get("name"), *(unique["name"] for unique in uniques)) if name}
    for index in inspector.get_indexes(table):
        columns = [c for c in index["column_names"] if c is not None]
        if index["name"] in named or (not index["unique"] and columns == list(own_key)):
            continue
        items.append(_named("unique index" if index["unique"] else "index", index, columns))
    for check in _check_constraints(inspector, table):
        items.append(f"check constraint {check['name']}" if check.get("name") else "a check constraint")
    with engine.connect() as conn:
        dialect = "mysql" if engine.dialect.name == "mariadb" else engine.dialect.name
        if dialect in _TRIGGERS:
            items += [
                f"trigger {name}" for (name,) in conn.execute(sa.text(_TRIGGERS[dialect]), {"table": table})
            ]
        if dialect == "postgresql":
            grants = conn.execute(sa.text(_PG_GRANTS), {"table": table})
            items += [f"{privileges} granted to {grantee}" for grantee, privileges in grants]
    return items


def _named(kind: str, entry: Any, columns: Sequence[str]) -> str:
    """`kind name (columns)`, or `kind (columns)` for an unnamed one."""
    name = f" {entry['name']}" if entry.get("name") else ""
    return f"{kind}{name} ({', '.join(columns)})"


def _check_constraints(inspector: sa.Inspector, table: str) -> list[Any]:
    """The table's CHECK constraints, [] where the dialect cannot list them."""
    try:
        return list(inspector.get_check_constraints(table))
    except NotImplementedError:
        return []


def not_kept_warning(table: str, items: Sequence[str]) -> str:
    """The one warning line for a replaced `table` that lost `items` (non-empty)."""
    return (
        f"table {table} was replaced; not made again on it: {'; '.join(items)} (a load makes again only "
        f"the rows, the project's (crypto_symbol, date) index and the views over the table): create them again"
    )
