"""A sweep's database password stays with the user: never in a stored sweep, never in a submitted job.

Stored and submitted sweeps carry the URL with `***` for its password; whoever runs them again (a
resume, a job's driver on the head node) supplies the real URL with `--db` or `$SEQSWEEP_DB_URL`.
The URL rules themselves (resolution, hiding) live in `seqsweep.db_url`; this module applies them
to a `SweepSpec`.
"""

from __future__ import annotations

import dataclasses

from seqsweep import db_url
from seqsweep.search_spaces.sweep import SweepSpec

HIDDEN_PASSWORD = db_url.HIDDEN
"""What a stored or submitted database URL carries instead of its password."""


def replace_db(spec: SweepSpec, db: str) -> SweepSpec:
    """The same sweep reading another database URL (`--db`)."""
    dataset = dataclasses.replace(spec.file.dataset, db=db)
    return dataclasses.replace(spec, file=dataclasses.replace(spec.file, dataset=dataset))


def without_password(spec: SweepSpec) -> SweepSpec:
    """The sweep as it may be written down or sent: the database URL with its password hidden."""
    if not has_password(spec):
        return spec
    return replace_db(spec, db_url.mask(str(spec.file.dataset.db)))


def has_password(spec: SweepSpec) -> bool:
    """Whether the sweep's database URL holds a real (not hidden) password."""
    return db_url.has_password(spec.file.dataset.db)


def with_database(spec: SweepSpec, db: str | None) -> SweepSpec:
    """`spec` with a usable database URL: `db` if given, else `$SEQSWEEP_DB_URL` for a hidden password
    (ConfigError without it)."""
    stored = spec.file.dataset.db
    url = db_url.fill_hidden_password(stored, db)
    return spec if url == stored or url is None else replace_db(spec, url)
