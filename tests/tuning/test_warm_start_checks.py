"""warm_start refuses what it cannot seed from: a study that now belongs to another experiment (its
name reused in a shared storage), an earlier sweep of another metric or direction, and a study storage
stored with its password hidden when $SEQSWEEP_STUDY_URL does not give it back. Passwords never show."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
import pytest

from seqsweep.constants import STUDY_URL_ENV
from seqsweep.errors import ConfigError
from seqsweep.layout import SWEEP_COPY
from seqsweep.search_spaces.credentials import without_password
from seqsweep.search_spaces.sweep import SweepSpec, load_sweep
from seqsweep.tuning.runner import _write_experiment_id
from seqsweep.tuning.searchers import make_searcher
from seqsweep.tuning.study_owner import claim_study
from seqsweep.tuning.warm_start import check_warm_start, warm_start_points

SPACE = {"cell_size": {"type": "choice", "values": [4, 8]}, "epochs": 1}


def _experiment(spec: SweepSpec, url: str) -> Path:
    """What `run` leaves: the directory, its identity, its sweep copy (password hidden), its study."""
    experiment = Path(spec.file.storage_path) / spec.name
    experiment.mkdir(parents=True)
    experiment_id = uuid.uuid4().hex
    _write_experiment_id(experiment, experiment_id)
    (experiment / SWEEP_COPY).write_text(without_password(spec).to_yaml())
    claim_study(url, spec, experiment_id, experiment)
    return experiment


def _add_trials(url: str, name: str, values: list[float]) -> None:
    study = optuna.load_study(study_name=name, storage=url)
    dist = optuna.distributions.CategoricalDistribution([4, 8])
    for cell_size, value in zip([4, 8], values, strict=False):
        study.add_trial(
            optuna.trial.create_trial(
                params={"cell_size": cell_size}, distributions={"cell_size": dist}, value=value
            )
        )


def _later(write_sweep: Callable[..., Path], tmp_path: Path, earlier: Path, **search: object) -> object:
    spec = load_sweep(write_sweep(name="later", params=SPACE, search=search, warm_start=str(earlier)))
    experiment = tmp_path / "later_experiment"
    experiment.mkdir(exist_ok=True)
    return make_searcher(spec, str(experiment))


def _seeded_values(searcher: object) -> list[float]:
    return sorted(t.value for t in searcher._ot_study.get_trials())  # type: ignore[attr-defined]


def test_a_study_whose_name_another_experiment_took_is_refused(
    write_sweep: Callable[..., Path], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    spec_a = load_sweep(write_sweep(name="shared", params=SPACE, search={"storage": url}))
    earlier = _experiment(spec_a, url)
    _add_trials(url, "shared", [0.28, 0.19])

    # While the study is the earlier experiment's own, warm start seeds exactly its values.
    seeded = _later(write_sweep, tmp_path, earlier)
    assert warm_start_points(seeded, str(earlier), "val_macro_f1") == 2
    assert _seeded_values(seeded) == [0.19, 0.28]

    # The study is deleted and its name reused by experiment B in the same storage.
    optuna.delete_study(study_name="shared", storage=url)
    spec_b = load_sweep(
        write_sweep(
            name="shared", params=SPACE, search={"storage": url}, storage_path=str(tmp_path / "runs_b")
        )
    )
    other = _experiment(spec_b, url)
    _add_trials(url, "shared", [0.29, 0.17])

    (tmp_path / "l2").mkdir()
    later = make_searcher(
        load_sweep(write_sweep(name="later2", params=SPACE, warm_start=str(earlier))), str(tmp_path / "l2")
    )
    expected = (
        rf"^warm_start: {earlier}: study 'shared' in sqlite:///.*shared.db now belongs to another "
        rf"experiment \({other}\); its trials are not the earlier experiment's, nothing was seeded$"
    )
    with pytest.raises(ConfigError, match=expected):
        check_warm_start(str(earlier))
    with pytest.raises(ConfigError, match=expected):
        warm_start_points(later, str(earlier), "val_macro_f1")
    assert later._ot_study.get_trials() == []


def test_a_study_replaced_by_one_no_experiment_owns_is_refused(
    write_sweep: Callable[..., Path], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    earlier = _experiment(load_sweep(write_sweep(name="shared", params=SPACE, search={"storage": url})), url)
    optuna.delete_study(study_name="shared", storage=url)
    optuna.create_study(study_name="shared", storage=url, direction="maximize")
    with pytest.raises(
        ConfigError, match=r"study 'shared' in sqlite:///.* is no longer the earlier experiment's"
    ):
        check_warm_start(str(earlier))


def test_an_earlier_sweep_of_another_metric_and_mode_is_refused(
    write_sweep: Callable[..., Path], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'vl.db'}"
    spec = load_sweep(write_sweep(name="vl", params=SPACE, search={"storage": url, "metric": "val_loss"}))
    assert spec.file.search.mode == "min"
    earlier = _experiment(spec, url)
    _add_trials(url, "vl", [1.12, 1.13])

    later = _later(write_sweep, tmp_path, earlier)  # val_macro_f1, max
    expected = (
        rf"^warm_start: {earlier} ranked its trials by val_loss \(min\), this sweep by val_macro_f1 \(max\): "
        r"its values cannot seed this search"
    )
    with pytest.raises(ConfigError, match=expected):
        warm_start_points(later, str(earlier), "val_macro_f1")
    assert later._ot_study.get_trials() == []  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=expected):
        check_warm_start(str(earlier), metric="val_macro_f1", mode="max")

    # Same metric, other direction: refused too, naming both modes.
    with pytest.raises(ConfigError, match=r"by val_loss \(min\), this sweep by val_loss \(max\)"):
        check_warm_start(str(earlier), metric="val_loss", mode="max")

    # Same metric and mode: seeded with the earlier values.
    same = _later(write_sweep, tmp_path, earlier, metric="val_loss", mode="min")
    assert warm_start_points(same, str(earlier), "val_loss") == 2
    assert _seeded_values(same) == [1.12, 1.13]


def test_a_hidden_password_without_the_variable_is_one_line_naming_it(
    write_sweep: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    url = "mysql+pymysql://ws_user:Sekret42@127.0.0.1:3306/nothing"
    spec = load_sweep(write_sweep(name="earlier", params=SPACE, search={"storage": url}))
    (earlier / SWEEP_COPY).write_text(without_password(spec).to_yaml())
    assert "Sekret42" not in (earlier / SWEEP_COPY).read_text()

    monkeypatch.delenv(STUDY_URL_ENV, raising=False)
    with pytest.raises(ConfigError) as missing:
        check_warm_start(str(earlier))
    message = str(missing.value)
    assert message.startswith(f"warm_start: {earlier}: its study storage mysql+pymysql://ws_user:***@")
    assert f"set ${STUDY_URL_ENV}" in message and "\n" not in message

    # A variable naming another storage is refused, not used: its password is not shown either.
    monkeypatch.setenv(STUDY_URL_ENV, "mysql+pymysql://other:Hush99@127.0.0.1:3306/elsewhere")
    with pytest.raises(ConfigError, match=r"names another storage \(mysql\+pymysql://other:\*\*\*@") as other:
        check_warm_start(str(earlier))
    assert "Hush99" not in str(other.value) and "Sekret42" not in str(other.value)


@pytest.fixture
def password_storage(mariadb_url: str) -> Iterator[str]:
    """The MariaDB test database reached as a user with a password (dropped afterwards)."""
    import sqlalchemy as sa

    user = f"ws_{uuid.uuid4().hex[:8]}"
    database = mariadb_url.rsplit("/", 1)[1]
    server = sa.create_engine(mariadb_url)
    with server.begin() as conn:
        conn.execute(sa.text(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'Sekret42'"))
        conn.execute(sa.text(f"GRANT ALL ON `{database}`.* TO '{user}'@'%'"))
    try:
        yield f"mysql+pymysql://{user}:Sekret42@127.0.0.1:3306/{database}"
    finally:
        with server.begin() as conn:
            conn.execute(sa.text(f"DROP USER IF EXISTS '{user}'@'%'"))
        server.dispose()


@pytest.mark.mysql
def test_a_hidden_password_is_filled_from_the_variable(
    write_sweep: Callable[..., Path],
    tmp_path: Path,
    password_storage: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    spec = load_sweep(write_sweep(name="early", params=SPACE, search={"storage": password_storage}))
    earlier = _experiment(spec, password_storage)
    _add_trials(password_storage, "early", [0.4, 0.5])
    assert "Sekret42" not in (earlier / SWEEP_COPY).read_text()

    monkeypatch.delenv(STUDY_URL_ENV, raising=False)
    with pytest.raises(ConfigError, match=rf"set \${STUDY_URL_ENV}") as refused:
        warm_start_points(_later(write_sweep, tmp_path, earlier), str(earlier), "val_macro_f1")
    assert "Sekret42" not in str(refused.value)

    monkeypatch.setenv(STUDY_URL_ENV, password_storage)
    later = _later(write_sweep, tmp_path, earlier)
    assert warm_start_points(later, str(earlier), "val_macro_f1") == 2
    assert _seeded_values(later) == [0.4, 0.5]
    assert "Sekret42" not in caplog.text
