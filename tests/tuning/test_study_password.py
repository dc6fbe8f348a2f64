"""The study storage's password never reaches a pickle: Ray Tune saves the searcher (and the Optuna
study's storage inside it) into `tuner.pkl`, `searcher-state-*.pkl` and its session folder, and
Optuna's `RDBStorage` pickled its URL whole. PostgreSQL here trusts local connections, so any password
connects and the test needs no user of its own."""

from __future__ import annotations

import pickle
from pathlib import Path

import optuna
import pytest
from sqlalchemy.engine import make_url

from seqsweep.constants import STUDY_URL_ENV
from seqsweep.errors import ConfigError
from seqsweep.search_spaces.sweep import parse_sweep
from seqsweep.tuning.searchers import make_searcher
from seqsweep.tuning.study_owner import MaskedRDBStorage
from tests.databases import fresh_database

SECRET = "Sekret42-pw"


@pytest.fixture
def study_url() -> object:
    with fresh_database("postgresql", "seqsweep_study_pw") as url:
        yield make_url(url).set(password=SECRET).render_as_string(hide_password=False)


def test_the_searcher_pickles_without_the_password_and_takes_it_back_from_the_environment(
    study_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = parse_sweep(
        {
            "name": "pw",
            "model": "gru",
            "params": {"hidden_size": {"type": "choice", "values": [4, 8]}},
            "search": {"storage": study_url},
        }
    )
    searcher = make_searcher(spec, str(tmp_path))
    searcher.set_search_properties("val_macro_f1", "max", {})  # Ray's OptunaSearch makes its study here
    assert searcher.suggest("t0") is not None
    saved = pickle.dumps(searcher)
    assert SECRET.encode() not in saved and b"***" in saved

    monkeypatch.delenv(STUDY_URL_ENV, raising=False)
    with pytest.raises(ConfigError, match=rf"stored without its password; set \${STUDY_URL_ENV}"):
        pickle.loads(saved)
    monkeypatch.setenv(STUDY_URL_ENV, study_url.replace("127.0.0.1", "localhost"))
    with pytest.raises(ConfigError, match="names another storage"):
        pickle.loads(saved)
    monkeypatch.setenv(STUDY_URL_ENV, study_url)
    restored = pickle.loads(saved)
    try:
        assert [t.params for t in restored.study.trials] == [t.params for t in searcher.study.trials]
    finally:  # the database is dropped after the test: no connection may stay open
        for storage in (searcher._storage, restored._storage):
            storage.engine.dispose()


def test_a_storage_without_a_password_pickles_as_it_is(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    storage = pickle.loads(pickle.dumps(MaskedRDBStorage(url)))
    assert storage.url == url
    assert optuna.create_study(storage=storage, study_name="s").study_name == "s"


def test_a_storage_pickled_under_its_former_module_still_unpickles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`MaskedRDBStorage` moved from `searchers` to `study_owner`; a searcher an older release pickled into
    an experiment (`tuner.pkl`, `searcher-state-*.pkl`) names the old module, and `resume` unpickles it."""
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    monkeypatch.setattr(MaskedRDBStorage, "__module__", "seqsweep.tuning.searchers")
    data = pickle.dumps(MaskedRDBStorage(url))
    monkeypatch.undo()
    assert b"seqsweep.tuning.searchers" in data and b"study_owner" not in data
    storage = pickle.loads(data)
    assert type(storage) is MaskedRDBStorage and storage.url == url
    assert optuna.create_study(storage=storage, study_name="s").study_name == "s"
