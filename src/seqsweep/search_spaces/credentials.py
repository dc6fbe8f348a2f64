"""A sweep's database password stays with the user: never in a stored sweep, never in a submitted job.

Stored and submitted sweeps carry the URL with `***` for its password; whoever runs them again (a
resume, a job's driver on the head node) supplies the real URL with `--db` or `$SEQSWEEP_DB_URL`.
The URL rules themselves (resolution, hiding) live in `seqsweep.db_url`; this module applies them
to a `SweepSpec`.
"""

from __future__ import annotations

import dataclasses

from seqsweep import db_url
from seqsweep.constants import STUDY_URL_ENV
from seqsweep.search_spaces.sweep import SweepSpec

HIDDEN_PASSWORD = db_url.HIDDEN
"""What a stored or submitted database URL carries instead of its password."""


def replace_db(spec: SweepSpec, db: str) -> SweepSpec:
    """The same sweep reading another database URL (`--db`)."""
    dataset = dataclasses.replace(spec.file.dataset, db=db)
    return dataclasses.replace(spec, file=dataclasses.replace(spec.file, dataset=dataset))


def without_password(spec: SweepSpec) -> SweepSpec:
    """The sweep as it may be written down or sent: the database URL and the study storage
    (`search.storage`) with their passwords hidden."""
    if has_password(spec):
        spec = replace_db(spec, db_url.mask(str(spec.file.dataset.db)))
    storage = spec.file.search.storage
    if db_url.has_password(storage):
        spec = replace_storage(spec, db_url.mask(str(storage)))
    return spec


def replace_storage(spec: SweepSpec, storage: str) -> SweepSpec:
    """The same sweep keeping its Optuna study in another storage URL (`search.storage`)."""
    search = dataclasses.replace(spec.file.search, storage=storage)
    return dataclasses.replace(spec, file=dataclasses.replace(spec.file, search=search))


def has_password(spec: SweepSpec) -> bool:
    """Whether the sweep's database URL holds a real (not hidden) password."""
    return db_url.has_password(spec.file.dataset.db)


def with_database(spec: SweepSpec, db: str | None) -> SweepSpec:
    """`spec` with a usable database URL: `db` if given, else `$SEQSWEEP_DB_URL` for a hidden password
    (ConfigError without it); and a study storage with a hidden password filled from
    `$SEQSWEEP_STUDY_URL`, which must name the same storage (`db_url.fill_from_same_storage`)."""
    stored = spec.file.dataset.db
    url = db_url.fill_hidden_password(stored, db)
    if url != stored and url is not None:
        spec = replace_db(spec, url)
    storage = spec.file.search.storage
    if storage is None:
        return spec
    # the variable must name the very storage the sweep names (as on `resume`): another one would put the
    # study in another database without a word
    filled = db_url.fill_from_same_storage(storage, STUDY_URL_ENV)
    return spec if filled == storage else replace_storage(spec, filled)
