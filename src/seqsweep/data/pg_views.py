"""PostgreSQL views over tables that load-csv replaces: found, dropped and made again.

PostgreSQL names a table in a view by its identity and refuses to drop a table a view reads, so a swap
(`seqsweep.data.tables.write_tables`) drops the views over the tables first, inside its transaction,
and makes them again from their definitions after, with their grants, owner and comments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa

from seqsweep.errors import DataError

PG_VIEWS: Final = """
WITH RECURSIVE dependent(oid, depth) AS (
    SELECT r.ev_class, 1
    FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
    WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
      AND r.ev_class <> d.refobjid
      AND d.refobjid IN (SELECT to_regclass(t) FROM unnest(CAST(:tables AS text[])) AS t)
    UNION
    SELECT r.ev_class, dependent.depth + 1
    FROM dependent
    JOIN pg_depend d ON d.refobjid = dependent.oid AND d.refclassid = 'pg_class'::regclass
      AND d.classid = 'pg_rewrite'::regclass
    JOIN pg_rewrite r ON r.oid = d.objid AND r.ev_class <> d.refobjid
)
SELECT format('%I.%I', n.nspname, c.relname) AS name, c.relkind, max(dependent.depth) AS depth,
       pg_get_viewdef(c.oid) AS definition, array_to_string(c.reloptions, ', ') AS options,
       EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid) AS triggers,
       ARRAY(
           SELECT format('GRANT %s ON %s TO %s%s', a.privilege_type, format('%I.%I', n.nspname, c.relname),
                         CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                         CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
           FROM aclexplode(c.relacl) AS a
       ) || ARRAY(
           SELECT format('ALTER VIEW %s OWNER TO %I', format('%I.%I', n.nspname, c.relname),
                         pg_get_userbyid(c.relowner))
           WHERE c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user)
       ) || ARRAY(
           SELECT format('COMMENT ON VIEW %s IS %L', format('%I.%I', n.nspname, c.relname), s.description)
           FROM pg_description s
           WHERE s.objoid = c.oid AND s.classoid = 'pg_class'::regclass AND s.objsubid = 0
       ) || ARRAY(
           SELECT format('COMMENT ON COLUMN %s.%I IS %L', format('%I.%I', n.nspname, c.relname),
                         a.attname, s.description)
           FROM pg_description s JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = s.objsubid
           WHERE s.objoid = c.oid AND s.classoid = 'pg_class'::regclass AND s.objsubid > 0
       ) AS afterwards
FROM dependent JOIN pg_class c ON c.oid = dependent.oid JOIN pg_namespace n ON n.oid = c.relnamespace
GROUP BY c.oid, n.nspname, c.relname, c.relkind, c.reloptions, c.relacl, c.relowner
ORDER BY depth, name
"""
"""Every view over the tables (`:tables`, quoted names), directly or through other views: its
schema-qualified name, kind, depth (1: over a table; the deepest count wins), definition, options and
the statements that give it back its grants, owner and comments, the shallowest first."""


@dataclass(frozen=True)
class PostgresView:
    """A PostgreSQL view to drop before the swap and make again after it (`PG_VIEWS`' row)."""

    name: str
    definition: str
    options: str | None
    afterwards: tuple[str, ...]

    def create(self, conn: sa.Connection, tables: Sequence[str]) -> None:
        """Make the view again over the swapped-in tables, with its grants, owner and comments.
        Raises DataError (one line) when its definition fails on the new tables (a column it reads gone);
        the transaction is rolled back then, every table as it was."""
        options = f" WITH ({self.options})" if self.options else ""
        try:
            conn.execute(literal_sql(f"CREATE VIEW {self.name}{options} AS {self.definition}"))
        except sa.exc.DBAPIError as exc:
            reason = " ".join(str(exc.orig).split("\n")[0].split())
            raise DataError(
                f"view {self.name} (over the tables {', '.join(tables)}) cannot be made over the new rows "
                f"({reason}); "
                f"nothing was loaded, every table keeps its rows: drop or change the view and load again"
            ) from None
        for statement in self.afterwards:
            conn.execute(literal_sql(statement))


def literal_sql(statement: str) -> sa.TextClause:
    """`statement` as SQLAlchemy text without a bind parameter: a `:name` or `%` of a view's definition or
    comment is SQL (the driver's `%` placeholders are escaped by `text`; even `exec_driver_sql` without
    parameters hands psycopg2 an empty mapping, and `'a%:x'` then failed)."""
    return sa.text(statement.replace(":", "\\:"))


def postgresql_views(
    conn: sa.Connection, tables: list[str], quote: Callable[[str], str]
) -> list[PostgresView]:
    """The views over `tables` (through other views too), the shallowest first (`PG_VIEWS`). Raises
    DataError (one line) for a materialized view or a view with triggers, which the swap would not make
    again as they were: nothing is replaced then."""
    rows = conn.execute(sa.text(PG_VIEWS), {"tables": [quote(t) for t in tables]}).mappings().all()
    for row in rows:
        if row["relkind"] != "v" or row["triggers"]:
            kind = "materialized view" if row["relkind"] == "m" else "view with triggers"
            raise DataError(
                f"{kind} {row['name']} is over the tables {', '.join(tables)}, and load-csv would not make "
                f"it again as it was; drop it, load, and create it again (every table keeps its rows)"
            )
    return [
        PostgresView(
            row["name"], row["definition"].rstrip().rstrip(";"), row["options"], tuple(row["afterwards"])
        )
        for row in rows
    ]
