"""Database-URL resolution and password hiding (`seqsweep.db_url`), and the atomic writes (`seqsweep._fs`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqsweep import db_url
from seqsweep._fs import atomic_dir, atomic_write_json, atomic_write_text
from seqsweep.constants import DB_URL_ENV
from seqsweep.errors import ConfigError

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


def test_a_hidden_password_comes_from_db_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    hidden = db_url.mask(SECRET)
    monkeypatch.delenv(DB_URL_ENV, raising=False)
    with pytest.raises(ConfigError, match="never stored or sent"):
        db_url.fill_hidden_password(hidden)
    assert db_url.fill_hidden_password(hidden, "sqlite:///other.db") == "sqlite:///other.db"
    monkeypatch.setenv(DB_URL_ENV, SECRET)
    assert db_url.fill_hidden_password(hidden) == SECRET
    assert db_url.fill_hidden_password("sqlite:///x.db") == "sqlite:///x.db"


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
