"""Database URLs: which one a command uses, and how a password is kept out of every output.

Resolution (the README's rule, for every command that reads rows): `--db`, else the sweep's (or
bundle's) `dataset.db`, else `$SEQSWEEP_DB_URL`, else the generated sample at
`~/.cache/seqsweep/sample.db` (made on first use). `load-csv` writes, so it never falls back to the
sample: `resolve(..., allow_sample=False)`.

Hiding: a password is shown as `***`, the way SQLAlchemy's `URL.render_as_string(hide_password=True)`
renders it. `mask(url)` is that rendering of one URL; `scrub(text, *urls)` hides the passwords of the
given URLs wherever they occur in a message (a driver's error text quotes them bare) and those of any
`scheme://user:password@` written in it. A stored or submitted sweep carries `***` instead of its
password, which `fill_hidden_password` takes back from `--db` or `$SEQSWEEP_DB_URL`.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Final

from seqsweep.constants import DB_URL_ENV, DEFAULT_SAMPLE_DB
from seqsweep.errors import ConfigError

HIDDEN: Final = "***"
"""What a shown, stored or submitted database URL carries instead of its password."""
UNPARSEABLE: Final = "<unparseable database URL>"
"""What `mask` shows for a value that is not a SQLAlchemy URL (it might still hold a secret)."""

_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
"""`scheme://user:` + password + `@` in free text."""


def mask(url: str) -> str:
    """`url` with its password shown as `***` (`render_as_string(hide_password=True)`): the only form
    of a database URL that may appear in any output."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return UNPARSEABLE


def password(url: object) -> str | None:
    """The password `url` holds (hidden `***` included); None without one or for a non-URL."""
    if not isinstance(url, str):
        return None
    from sqlalchemy.engine import make_url

    with contextlib.suppress(Exception):
        value = make_url(url).password
        return str(value) if value else None
    return None


def has_password(url: object, *, count_hidden: bool = False) -> bool:
    """Whether `url` holds a real password (or, with `count_hidden`, any password, `***` included).

    A string that is not a SQLAlchemy URL counts as holding one (it cannot be shown safely).
    """
    if url is None or url == "":
        return False
    if not isinstance(url, str):
        return False
    from sqlalchemy.engine import make_url

    try:
        value = make_url(url).password
    except Exception:
        return True
    if not value:
        return False
    return count_hidden or value != HIDDEN


def scrub(text: str, *urls: str | None) -> str:
    """`text` with the password of each of `urls` and of every `scheme://user:password@` in it as `***`."""
    for url in urls:
        secret = password(url)
        if secret and secret != HIDDEN:
            text = text.replace(secret, HIDDEN)
    return _URL_PASSWORD.sub(rf"\1{HIDDEN}@", text)


def sample_db_url() -> str:
    """The URL of the generated sample database, generating it on first use."""
    from seqsweep.data.sample import ensure_sample_db

    return ensure_sample_db(Path(DEFAULT_SAMPLE_DB).expanduser())


def resolve(
    db: str | None = None, stored: str | None = None, *, allow_sample: bool = True, command: str = "seqsweep"
) -> str:
    """`db` (`--db`), else `stored` (`dataset.db`), else $SEQSWEEP_DB_URL, else the sample database.

    With `allow_sample=False` (a command that writes) the last step is a ConfigError naming `command`.
    """
    for candidate in (db, stored, os.environ.get(DB_URL_ENV)):
        if candidate:
            return candidate
    if not allow_sample:
        raise ConfigError(f"{command}: pass --db URL (or set ${DB_URL_ENV})")
    return sample_db_url()


def fill_hidden_password(
    stored: str | None, db: str | None = None, *, env: str = DB_URL_ENV, what: str = "database"
) -> str | None:
    """The URL to use for a stored one: `db` if given; else, for a stored URL whose password is hidden
    (`***`), the environment variable `env` (ConfigError without it); else `stored` unchanged.

    `what` names the URL in the error: `database` (`--db` or $SEQSWEEP_DB_URL) or `study storage`
    (`search.storage`, from $SEQSWEEP_STUDY_URL).
    """
    if db:
        return db
    if stored and password(stored) == HIDDEN:
        from_env = os.environ.get(env)
        if not from_env:
            flag = "pass --db URL or set" if env == DB_URL_ENV else "set"
            raise ConfigError(
                f"the sweep's {what} password is never stored or sent with it: {flag} "
                f"${env} (on the head node, for a submitted sweep)"
            )
        return from_env
    return stored
