"""Database URLs: which one a command uses, and how a password is kept out of every output.

Resolution (the README's rule, for every command that reads rows): `--db`, else the sweep's (or
bundle's) `dataset.db`, else `$SEQSWEEP_DB_URL`, else the generated sample at
`~/.cache/seqsweep/sample.db` (made on first use). `load-csv` writes, so it never falls back to the
sample: `resolve(..., allow_sample=False)`.

Hiding: a password is shown as `***`, the way SQLAlchemy's `URL.render_as_string(hide_password=True)`
renders it. A URL's secrets are its `user:password@` and every query parameter named in
`SECRET_QUERY_KEYS` (`?password=...`, which PyMySQL and psycopg2 accept too), including such a
`KEY=value` inside a connection-string parameter (`?odbc_connect=...;PWD=...`). `mask(url)` is the
URL with all of them as `***`; `scrub(text, *urls)` hides the secrets of the given URLs wherever they
occur in a message (a driver's error text quotes them bare) and those of any `scheme://user:password@`
or `password=...` written in it. A stored or submitted sweep carries `***` instead of its secrets,
which `fill_hidden_password` takes back from `--db` or `$SEQSWEEP_DB_URL`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import quote, quote_plus

from seqsweep.constants import DB_URL_ENV, DEFAULT_SAMPLE_DB
from seqsweep.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

HIDDEN: Final = "***"
"""What a shown, stored or submitted database URL carries instead of its password and of each secret
query value (`SECRET_QUERY_KEYS`)."""
UNPARSEABLE: Final = "<unparseable database URL>"
"""What `mask` shows for a value that is not a SQLAlchemy URL (it might still hold a secret)."""

SECRET_QUERY_KEYS: Final = (
    "password",
    "passwd",
    "pwd",
    "sslpassword",
    "ssl_password",
    "ssl_key_password",
    "wallet_password",
    "private_key_password",
    "private_key_passphrase",
    "private_key_file_pwd",
    "passphrase",
    "client_secret",
    "access_token",
    "token",
    "aws_secret_access_key",
    "aws_session_token",
)
"""Query-parameter names (compared in lower case) whose value is a secret, hidden like `user:password@`.

SQLAlchemy hands a URL's query to the driver as keyword arguments, so `?password=` works with PyMySQL,
mysqlclient (`passwd`), psycopg2 (and `sslpassword`), ODBC (`PWD` inside `odbc_connect`), oracledb
(`wallet_password`), Snowflake (`private_key_file_pwd`) and others.
"""

_KEYS = "|".join(sorted(SECRET_QUERY_KEYS, key=len, reverse=True))
_VALUE = r"""'[^']*'|"[^"]*"|\{(?:[^}]|\}\})*\}|[^\s&;,'")]+"""
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
"""`scheme://user:` + password + `@` in free text."""
_TEXT_SECRET = re.compile(rf"(?i)(?<![\w.-])((?:{_KEYS})\s*=\s*)(?:{_VALUE})")
"""`password=secret` (quoted, `{braced}` or bare, as in a URL's query or a connection string) in free text."""
_ENCODED_SECRET = re.compile(
    rf"""(?i)(?:(?<![\w.-])|(?<=%3B|%26|%3F))((?:{_KEYS})%3D)(?:(?!%3B|%26)[^\s&;,'")])+"""
)
"""`PWD%3Dsecret` (a connection string or query quoted inside a URL, up to `%3B` or `%26`) in free text."""
_MAPPING_SECRET = re.compile(rf"""(?i)((['"])(?:{_KEYS})\2\s*:\s*)(['"])(?:(?!\3).)*\3""")
"""`'password': 'secret'` (a printed dict of connection arguments) in free text."""
_CONNECT_STRING_SECRET = re.compile(rf"(?i)((?:^|;)\s*(?:{_KEYS})\s*=\s*)(\{{(?:[^}}]|\}}\}})*\}}|[^;]*)")
"""`KEY=secret` in a `;`-separated connection string (an ODBC `odbc_connect` value); group 2 the secret."""
_HIDDEN_QUOTED = re.compile(r"=%2A%2A%2A(?=&|$)")
"""A hidden query value as `render_as_string` quotes it (`%2A%2A%2A`), shown as `***` instead."""


def is_secret_key(key: str) -> bool:
    """Whether the query parameter `key` carries a secret (`SECRET_QUERY_KEYS`, any case)."""
    return key.lower() in SECRET_QUERY_KEYS


def _parse(url: str) -> URL | None:
    """`url` as a SQLAlchemy URL; None for a value that is not one."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return None
    if parsed.host is not None and "@" in parsed.host:  # `user:pa@ss@host`: part of the password reads as
        return None  # the host, and would be shown as such (`check_unescaped_at` names the fix)
    return parsed


def check_unescaped_at(url: str) -> None:
    """ConfigError when `url`'s host holds `@`: a password with an unescaped `@` (`user:pa@ss@host`), of
    which SQLAlchemy reads the part after the first `@` as the host, shown in every error. The URL is
    named masked as a whole (`UNPARSEABLE`)."""
    from sqlalchemy.engine import make_url

    try:
        host = make_url(url).host
    except Exception:
        return
    if host is not None and "@" in host:
        raise ConfigError(
            f"database URL {UNPARSEABLE}: its password (or user) holds '@', which a URL must write as %40 "
            f"(user:pa%40ss@host); the host it would name is not shown, as it holds part of the password"
        )


def _values(value: str | tuple[str, ...]) -> tuple[str, ...]:
    """A query value (one string, or a tuple for a repeated key) as a tuple."""
    return (value,) if isinstance(value, str) else tuple(value)


def _connect_string_secrets(value: str) -> list[str]:
    """The non-empty secrets of `KEY=secret` pairs in a connection string, `{braces}` taken off."""
    found = []
    for match in _CONNECT_STRING_SECRET.finditer(value):
        secret = match.group(2).strip()
        if secret.startswith("{") and secret.endswith("}"):
            secret = secret[1:-1].replace("}}", "}")
        if secret:
            found.append(secret)
    return found


def _secrets_of(parsed: URL) -> tuple[str, ...]:
    """The non-empty secrets of a parsed URL: its password, then its secret query values (key order)."""
    found = [str(parsed.password)] if parsed.password else []
    for key, value in parsed.query.items():
        for item in _values(value):
            if is_secret_key(key):
                found += [item] if item else []
            else:
                found += _connect_string_secrets(item)
    return tuple(found)


def secret_values(url: object) -> tuple[str, ...]:
    """Every secret `url` holds (hidden `***` included): its `user:password@` password, then the values
    of its secret query parameters (`SECRET_QUERY_KEYS`, also inside connection strings); `()` without
    one or for a value that is not a URL string."""
    parsed = _parse(url) if isinstance(url, str) else None
    return () if parsed is None else _secrets_of(parsed)


def _hide_connect_secret(match: re.Match[str]) -> str:
    """One `KEY=secret` of a connection string as `KEY=***` (an empty value kept)."""
    return match.group(1) + (HIDDEN if match.group(2).strip() else match.group(2))


def _hide_query(parsed: URL) -> URL:
    """`parsed` with every non-empty secret query value (connection strings' included) as `***`."""
    hidden: dict[str, str | tuple[str, ...]] = {}
    for key, value in parsed.query.items():
        items = _values(value)
        if is_secret_key(key):
            new = tuple(HIDDEN if item else item for item in items)
        else:
            new = tuple(_CONNECT_STRING_SECRET.sub(_hide_connect_secret, item) for item in items)
        if new != items:
            hidden[key] = new[0] if len(new) == 1 else new
    return parsed.update_query_dict(hidden) if hidden else parsed


def mask(url: str) -> str:
    """`url` with its password and every secret query value shown as `***` (the password as
    `render_as_string(hide_password=True)` shows it): the only form of a database URL that may appear
    in any output. A value that is not a SQLAlchemy URL is shown as `UNPARSEABLE`."""
    parsed = _parse(url)
    if parsed is None:
        return UNPARSEABLE
    try:
        rendered = _hide_query(parsed).render_as_string(hide_password=True)
    except Exception:
        return UNPARSEABLE
    head, sep, query = rendered.partition("?")
    return head + sep + _HIDDEN_QUOTED.sub(f"={HIDDEN}", query)


def password(url: object) -> str | None:
    """`***` if any secret of `url` is hidden, else its first secret (`secret_values`: the
    `user:password@` password before secret query values); None without one or for a non-URL."""
    found = secret_values(url)
    if HIDDEN in found:
        return HIDDEN
    return found[0] if found else None


def has_password(url: object, *, count_hidden: bool = False) -> bool:
    """Whether `url` holds a real secret, a password or a secret query value (or, with `count_hidden`,
    any, `***` included).

    A string that is not a SQLAlchemy URL counts as holding one (it cannot be shown safely).
    """
    if not isinstance(url, str) or url == "":
        return False
    parsed = _parse(url)
    if parsed is None:
        return True
    found = _secrets_of(parsed)
    return bool(found) if count_hidden else any(secret != HIDDEN for secret in found)


def scrub(text: str, *urls: str | None) -> str:
    """`text` with the secrets of each of `urls` (bare or URL-quoted) and every `scheme://user:password@`,
    `password=...`, `PWD%3D...` and `'password': '...'` in it (`SECRET_QUERY_KEYS`) as `***`.

    Without `urls` only those written forms are found: a secret quoted bare needs its URL."""
    known = {secret for url in urls for secret in secret_values(url) if secret != HIDDEN}
    for secret in sorted(known, key=len, reverse=True):
        for form in dict.fromkeys((secret, quote_plus(secret), quote(secret, safe=""))):
            text = text.replace(form, HIDDEN)
    text = _URL_PASSWORD.sub(rf"\1{HIDDEN}@", text)
    text = _TEXT_SECRET.sub(rf"\1{HIDDEN}", text)
    text = _ENCODED_SECRET.sub(rf"\1{HIDDEN}", text)
    return _MAPPING_SECRET.sub(rf"\1\3{HIDDEN}\3", text)


def fill_from_same_storage(stored: str, env: str, what: str = "study storage") -> str:
    """`stored` with its hidden (`***`) secrets taken back from the URL in `$env`, which must name the same
    storage (`mask` equal: driver, user, host, database); `stored` itself when nothing is hidden.

    Raises ConfigError (one line, secrets masked) when `$env` is unset or names another storage.
    """
    if password(stored) != HIDDEN:
        return stored
    shown = mask(stored)
    filled = os.environ.get(env)
    if not filled:
        raise ConfigError(
            f"its {what} {shown} is stored without its password; set ${env} to that URL with it"
        )
    if mask(filled) != shown:
        raise ConfigError(
            f"its {what} {shown} is stored without its password, and ${env} names another storage "
            f"({mask(filled)}); set ${env} to {shown} with the password"
        )
    return filled


def sample_db_url() -> str:
    """The URL of the generated sample database, generating it on first use."""
    from seqsweep.data.sample import ensure_sample_db

    return ensure_sample_db(Path(DEFAULT_SAMPLE_DB).expanduser())


EMPTY_URL_FIX = "give a SQLAlchemy database URL (e.g. sqlite:///prices.db)"
"""What to do about a blank database URL (`--db ""`, `dataset.db: ""`, an empty $SEQSWEEP_DB_URL)."""


def resolve(
    db: str | None = None, stored: str | None = None, *, allow_sample: bool = True, command: str = "seqsweep"
) -> str:
    """`db` (`--db`), else `stored` (`dataset.db`), else $SEQSWEEP_DB_URL, else the sample database.

    With `allow_sample=False` (a command that writes) the last step is a ConfigError naming `command`.
    A source that is given but blank (`--db ""`, `dataset.db: ""`, `SEQSWEEP_DB_URL=` set to nothing, as
    `--db "$URL"` gives with `URL` unset) is a ConfigError naming it: falling through to the next source,
    the sample database at the end, would train on other data without a word.
    """
    sources = ((db, "--db"), (stored, "dataset.db"), (os.environ.get(DB_URL_ENV), f"${DB_URL_ENV}"))
    for candidate, name in sources:
        if candidate is not None and not candidate.strip():
            raise ConfigError(f"{name} is empty: {EMPTY_URL_FIX}")
        if candidate and name == f"${DB_URL_ENV}" and _parse(candidate) is None:
            check_unescaped_at(candidate)  # its own line, before the generic one
            raise ConfigError(  # an error naming only "the database URL" did not say where it came from
                f"{name} is not a SQLAlchemy database URL (e.g. sqlite:///prices.db, "
                f"mysql+pymysql://user@host:3306/db); its value is not shown, as it may hold a password"
            )
        if candidate:
            return candidate
    if not allow_sample:
        raise ConfigError(f"{command}: pass --db URL (or set ${DB_URL_ENV})")
    return sample_db_url()


def fill_hidden_password(
    stored: str | None, db: str | None = None, *, env: str = DB_URL_ENV, what: str = "database"
) -> str | None:
    """The URL to use for a stored one: `db` if given; else, for a stored URL whose password or secret
    query value is hidden (`***`, see `password`), the environment variable `env` (ConfigError without
    it); else `stored` unchanged.

    `what` names the URL in the error: `database` (`--db` or $SEQSWEEP_DB_URL) or `study storage`
    (`search.storage`, from $SEQSWEEP_STUDY_URL). The variable must name the stored database (`mask`
    equal: driver, user, host, port, database; only the hidden secrets may differ), else ConfigError:
    a variable left over from other work read another database without a word. `db` is the way to read
    another database on purpose.
    """
    if db:
        return db
    if stored and password(stored) == HIDDEN:
        from_env = os.environ.get(env)
        flag = "pass --db URL or set" if env == DB_URL_ENV else "set"
        if not from_env:
            raise ConfigError(
                f"the sweep's {what} password is never stored or sent with it: {flag} "
                f"${env} (on the head node, for a submitted sweep)"
            )
        if mask(from_env) != mask(stored):
            raise ConfigError(
                f"the sweep's {what} {mask(stored)} is stored without its password, and ${env} names "
                f"another {what} ({mask(from_env)}): {flag} ${env} to {mask(stored)} with the password"
            )
        return from_env
    return stored


def absolute_sqlite(url: str) -> str:
    """`url` with a relative SQLite file path made absolute from the current folder (`sqlite:///x.db` →
    `sqlite:////work/x.db`); any other URL as it is. A relative path stored in an experiment would name
    another file from each folder a later `predict` runs in."""
    parsed = _parse(url)
    if parsed is None or parsed.get_backend_name() != "sqlite":
        return url
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:") or Path(database).is_absolute():
        return url
    return parsed.set(database=str(Path(database).expanduser().resolve())).render_as_string(
        hide_password=False
    )
