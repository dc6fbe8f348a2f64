"""Database-URL resolution and password hiding (`seqsweep.db_url`), and the atomic writes (`seqsweep._fs`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from seqsweep import db_url
from seqsweep._fs import atomic_dir, atomic_write_json, atomic_write_text
from seqsweep.cluster.jobs import job_request
from seqsweep.constants import DB_URL_ENV, STUDY_URL_ENV
from seqsweep.errors import ConfigError
from seqsweep.search_spaces.credentials import with_database, without_password
from seqsweep.search_spaces.sweep import SweepSpec, parse_sweep

SECRET = "mysql+pymysql://alice:hunter2@db.example:3306/crypto"


def test_mask_renders_the_password_as_sqlalchemy_does() -> None:
    assert db_url.mask(SECRET) == "mysql+pymysql://alice:***@db.example:3306/crypto"
    assert db_url.mask("sqlite:///x.db") == "sqlite:///x.db"
    assert db_url.mask("not a url") == db_url.UNPARSEABLE


def test_scrub_hides_a_known_password_and_any_url_password_in_text() -> None:
    text = f"connect failed: Access denied for 'alice' using password hunter2 at {SECRET}"
    scrubbed = db_url.scrub(text, SECRET)
    assert "hunter2" not in scrubbed
    assert "alice:***@db.example" in scrubbed
    assert db_url.scrub("postgresql://bob:pw@h/db failed") == "postgresql://bob:***@h/db failed"


def test_has_password_tells_real_from_hidden() -> None:
    hidden = db_url.mask(SECRET)
    assert db_url.has_password(SECRET) and not db_url.has_password(hidden)
    assert db_url.has_password(hidden, count_hidden=True)
    assert not db_url.has_password("sqlite:///x.db", count_hidden=True)
    assert not db_url.has_password(None) and not db_url.has_password(3, count_hidden=True)


def test_resolve_follows_the_readme_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DB_URL_ENV, "sqlite:///env.db")
    assert db_url.resolve("sqlite:///arg.db", "sqlite:///stored.db") == "sqlite:///arg.db"
    assert db_url.resolve(None, "sqlite:///stored.db") == "sqlite:///stored.db"
    assert db_url.resolve() == "sqlite:///env.db"
    monkeypatch.delenv(DB_URL_ENV)
    with pytest.raises(ConfigError, match=r"load-csv: pass --db URL \(or set \$SEQSWEEP_DB_URL\)"):
        db_url.resolve(allow_sample=False, command="load-csv")


@pytest.mark.parametrize(
    ("db", "stored", "env", "named"),
    [
        ("", None, None, "--db"),
        ("  ", "sqlite:///stored.db", None, "--db"),
        (None, "", "sqlite:///env.db", "dataset.db"),
        (None, None, "", "$SEQSWEEP_DB_URL"),
    ],
)
def test_a_blank_database_source_is_refused_not_skipped(
    monkeypatch: pytest.MonkeyPatch, db: str | None, stored: str | None, env: str | None, named: str
) -> None:
    """`--db "$URL"` with URL unset must not fall through to the next source (the sample at the end)."""
    if env is None:
        monkeypatch.delenv(DB_URL_ENV, raising=False)
    else:
        monkeypatch.setenv(DB_URL_ENV, env)
    with pytest.raises(ConfigError, match=rf"^{re.escape(named)} is empty"):
        db_url.resolve(db, stored)


def test_a_hidden_password_comes_from_db_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    hidden = db_url.mask(SECRET)
    monkeypatch.delenv(DB_URL_ENV, raising=False)
    with pytest.raises(ConfigError, match="never stored or sent"):
        db_url.fill_hidden_password(hidden)
    assert db_url.fill_hidden_password(hidden, "sqlite:///other.db") == "sqlite:///other.db"
    monkeypatch.setenv(DB_URL_ENV, SECRET)
    assert db_url.fill_hidden_password(hidden) == SECRET
    assert db_url.fill_hidden_password("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.parametrize(
    "other",
    [
        "sqlite:////tmp/other.db",
        "mysql+pymysql://alice:hunter2@db2.example:3306/crypto",
        "mysql+pymysql://alice:hunter2@db.example:3306/another",
        "mysql+pymysql://bob:hunter3@db.example:3306/crypto",
    ],
    ids=["another backend", "another host", "another database", "another user"],
)
def test_a_hidden_password_is_not_taken_from_a_variable_naming_another_database(
    other: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A $SEQSWEEP_DB_URL left over from other work was read in place of the stored database, without a
    word (predict gave another database's predictions): only the password may come from it."""
    hidden = db_url.mask(SECRET)
    monkeypatch.setenv(DB_URL_ENV, other)
    with pytest.raises(ConfigError, match=r"names another database \(") as info:
        db_url.fill_hidden_password(hidden)
    message = str(info.value)
    assert hidden in message and db_url.mask(other) in message
    assert all(secret not in message for secret in db_url.secret_values(SECRET) + db_url.secret_values(other))
    assert db_url.fill_hidden_password(hidden, other) == other  # --db reads another database on purpose


QUERY_SECRETS = [
    ("mysql+pymysql://root@127.0.0.1:3306/test?password=TopSecret42", "TopSecret42"),
    ("postgresql+psycopg2://postgres@127.0.0.1/db?sslmode=require&password=TopSecret42", "TopSecret42"),
    ("mysql+mysqldb://root@h/db?PASSWD=Top%26Secret42&charset=utf8mb4", "Top&Secret42"),
    ("mysql+pymysql://root@h/db?Pwd=TopSecret42", "TopSecret42"),
    ("postgresql+psycopg2://u:TopSecret42@h/db?sslpassword=TopSecret42", "TopSecret42"),
    ("mysql+pymysql://root@h/db?ssl_key=/k.pem&ssl_key_password=TopSecret42", "TopSecret42"),
    (
        "mssql+pyodbc:///?odbc_connect=DRIVER%3D%7BODBC%7D%3BSERVER%3Dh%3BPWD%3DTopSecret42%3BUID%3Du",
        "TopSecret42",
    ),
]
"""(URL with a secret in its query, that secret as the driver receives it)."""


@pytest.mark.parametrize(("url", "secret"), QUERY_SECRETS)
def test_mask_hides_every_secret_query_parameter(url: str, secret: str) -> None:
    shown = db_url.mask(url)
    assert secret not in shown and "TopSecret42" not in shown and "Top%26Secret42" not in shown
    assert db_url.mask(shown) == shown  # hiding twice changes nothing
    assert db_url.has_password(url) and not db_url.has_password(shown)
    assert db_url.has_password(shown, count_hidden=True)
    assert db_url.password(url) == secret and db_url.password(shown) == db_url.HIDDEN


def test_mask_shows_a_hidden_query_value_as_stars_and_keeps_the_rest() -> None:
    url = "postgresql+psycopg2://postgres@127.0.0.1/db?password=x&sslmode=require"
    assert db_url.mask(url) == "postgresql+psycopg2://postgres@127.0.0.1/db?password=***&sslmode=require"
    plain = "mysql+pymysql://root@h/db?charset=utf8mb4&ssl_ca=/ca.pem"
    assert not db_url.has_password(plain, count_hidden=True) and db_url.password(plain) is None
    assert not db_url.has_password("postgresql://u@h/db?password=", count_hidden=True)
    assert all(key == key.lower() for key in db_url.SECRET_QUERY_KEYS)
    assert db_url.is_secret_key("PassWord") and not db_url.is_secret_key("ssl_key")


@pytest.mark.parametrize(("url", "secret"), QUERY_SECRETS)
def test_scrub_hides_query_secrets_in_a_driver_error(url: str, secret: str) -> None:
    error = (
        f"(pymysql.err.OperationalError) (1045, \"Access denied for user 'root'@'h' (using password: YES)\") "
        f"while connecting to {url}"
    )
    for scrubbed in (db_url.scrub(f"{error} (password {secret})", url), db_url.scrub(error)):
        assert secret not in scrubbed and "TopSecret42" not in scrubbed
        assert "(using password: YES)" in scrubbed and "***" in scrubbed


def test_scrub_hides_secrets_quoted_in_any_form() -> None:
    text = (
        "url mysql://r@h/d?charset=utf8&password=p1&x=1 dsn PWD={p2;x}; kwargs {'passwd': 'p3', \"pwd\": \"p4\"} "
        "conninfo sslpassword = 'p5' quoted Top%26Secret42"
    )
    scrubbed = db_url.scrub(text, "mysql://r@h/d?password=Top%26Secret42")
    for secret in ("p1", "p2", "p3", "p4", "p5", "Top%26Secret42", "Top&Secret42"):
        assert secret not in scrubbed
    assert "charset=utf8&password=***&x=1" in scrubbed and "'passwd': '***'" in scrubbed


@pytest.mark.parametrize(("url", "_secret"), QUERY_SECRETS)
def test_a_hidden_query_password_is_filled_back_from_the_environment(
    url: str, _secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hidden = db_url.mask(url)
    monkeypatch.delenv(DB_URL_ENV, raising=False)
    with pytest.raises(ConfigError, match="never stored or sent") as info:
        db_url.fill_hidden_password(hidden)
    assert "TopSecret42" not in str(info.value)
    monkeypatch.setenv(DB_URL_ENV, url)
    filled = db_url.fill_hidden_password(hidden)
    assert filled == url and db_url.mask(filled) == hidden  # the stored form names the env's URL


def _sweep(db: str, storage: str) -> SweepSpec:
    return parse_sweep(
        {
            "name": "q",
            "model": "lstm",
            "dataset": {"db": db, "symbols": ["ETHUSDT"]},
            "search": {"storage": storage},
            "params": {"cell_size": {"type": "choice", "values": [8, 16]}},
        }
    )


def test_stored_and_submitted_sweeps_hide_query_passwords_and_get_them_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = "mysql+pymysql://root@127.0.0.1:3306/test?password=TopSecret42"
    storage = "postgresql+psycopg2://postgres@127.0.0.1/optuna?password=StudySecret7"
    spec = _sweep(db, storage)
    stored = without_password(spec)
    written = stored.to_yaml() + json.dumps(job_request(spec, "/shared/runs"))
    assert "TopSecret42" not in written and "StudySecret7" not in written
    assert stored.file.dataset.db == "mysql+pymysql://root@127.0.0.1:3306/test?password=***"
    monkeypatch.setenv(DB_URL_ENV, db)
    monkeypatch.setenv(STUDY_URL_ENV, storage)
    back = with_database(parse_sweep(yaml.safe_load(stored.to_yaml())), None)
    assert back.file.dataset.db == db and back.file.search.storage == storage


def test_atomic_writes_replace_and_leave_nothing_behind(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    atomic_write_text(path, "old\n")
    atomic_write_json(path, {"key": 1})
    assert json.loads(path.read_text()) == {"key": 1} and path.read_text().endswith("\n")
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "bundle") as folder:
        (folder / "half").write_text("x")
        raise RuntimeError("writer died")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
    for content in ("one", "two"):
        with atomic_dir(tmp_path / "bundle") as folder:
            (folder / "file").write_text(content)
    assert (tmp_path / "bundle" / "file").read_text() == "two"
    with atomic_dir(tmp_path / "bundle", replace=False) as folder:
        (folder / "file").write_text("three")
    assert (tmp_path / "bundle" / "file").read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "state.json"]


def test_a_password_with_an_unescaped_at_is_refused_without_showing_any_of_it() -> None:
    """`root:Tr0ub4dor@horse-battery@host`: SQLAlchemy read `horse-battery@host` as the host, and every
    error showed that part of the password."""
    from seqsweep.data.engines import create_engine

    url = "mysql+pymysql://root:Tr0ub4dor@horse-battery@127.0.0.1:3306/x"
    assert db_url.mask(url) == db_url.UNPARSEABLE
    assert db_url.has_password(url)
    with pytest.raises(ConfigError, match=r"holds '@', which a URL must write as %40") as raised:
        create_engine(url)
    assert "horse" not in str(raised.value) and "Tr0ub4dor" not in str(raised.value)
    db_url.check_unescaped_at(
        "mysql+pymysql://root:Tr0ub4dor%40horse-battery@127.0.0.1:3306/x"
    )  # escaped: fine


@pytest.mark.parametrize(("value", "where"), [("9999-12-31", "--at"), ("1000-01-01", "dataset.start")])
def test_a_date_bound_rows_cannot_hold_is_named(value: str, where: str) -> None:
    """`end: 9999-12-31` on epoch-number dates, or `predict --at 2262-04-12`, overflowed (exit 3)."""
    from seqsweep.data.spec import naive_utc

    with pytest.raises(
        ConfigError, match=rf"^{re.escape(where)}: '{value}' lies outside the dates rows can hold"
    ):
        naive_utc(value, where)
    assert naive_utc("2262-04-11", where) == naive_utc("2262-04-11 00:00", where)


def test_an_at_rows_cannot_hold_is_not_called_a_bound() -> None:
    """`predict --at 1500-01-01` said "leave the bound out for an open end": --at is no bound; its way out
    is to leave it out, which predicts from the latest rows. A dataset bound keeps its own hint."""
    from seqsweep.data.spec import naive_utc

    with pytest.raises(ConfigError) as raised:
        naive_utc("1500-01-01", "--at", instant=True)
    assert str(raised.value).endswith("; leave it out to predict from the latest rows"), raised.value
    with pytest.raises(ConfigError, match=r"; leave the bound out for an open end$"):
        naive_utc("1500-01-01", "dataset.start")


def test_a_malformed_database_url_in_the_environment_is_named_as_such(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(DB_URL_ENV, "mysql+pymysql//root:pw-55@db/x")
    with pytest.raises(ConfigError, match=r"^\$SEQSWEEP_DB_URL is not a SQLAlchemy database URL") as raised:
        db_url.resolve()
    assert "pw-55" not in str(raised.value)
    assert db_url.resolve("sqlite:///given.db") == "sqlite:///given.db"  # not read when --db is given
