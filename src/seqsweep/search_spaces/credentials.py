"""A sweep's database password stays with the user: never in a stored sweep, never in a submitted job.

Stored and submitted sweeps carry the URL with `***` for its password; whoever runs them again (a
resume, a job's driver on the head node) supplies the real URL with `--db` or `$SEQSWEEP_DB_URL`.
"""

from __future__ import annotations

import dataclasses
import os

from sqlalchemy.engine import make_url

from seqsweep.constants import DB_URL_ENV
from seqsweep.errors import ConfigError
from seqsweep.search_spaces.sweep import SweepSpec

HIDDEN_PASSWORD = "***"
"""What a stored or submitted database URL carries instead of its password."""


def replace_db(spec: SweepSpec, db: str) -> SweepSpec:
    """The same sweep reading another database URL (`--db`)."""
    dataset = dataclasses.replace(spec.file.dataset, db=db)
    return dataclasses.replace(spec, file=dataclasses.replace(spec.file, dataset=dataset))


def without_password(spec: SweepSpec) -> SweepSpec:
    """The sweep as it may be written down or sent: the database URL with its password hidden."""
    from seqsweep.data.sources import masked_url

    if not has_password(spec):
        return spec
    return replace_db(spec, masked_url(str(spec.file.dataset.db)))


def has_password(spec: SweepSpec) -> bool:
    """Whether the sweep's database URL holds a real (not hidden) password."""
    db = spec.file.dataset.db
    return db is not None and db != "" and make_url(db).password not in (None, "", HIDDEN_PASSWORD)


def with_database(spec: SweepSpec, db: str | None) -> SweepSpec:
    """`spec` with a usable database URL: `db` if given, else `$SEQSWEEP_DB_URL` for a hidden password."""
    if db:
        return replace_db(spec, db)
    stored = spec.file.dataset.db
    if stored and make_url(stored).password == HIDDEN_PASSWORD:
        from_env = os.environ.get(DB_URL_ENV)
        if not from_env:
            raise ConfigError(
                f"the sweep's database password is never stored or sent with it: pass --db URL or set "
                f"${DB_URL_ENV} (on the head node, for a submitted sweep)"
            )
        return replace_db(spec, from_env)
    return spec
