"""Each experiment owns its Optuna study: a second experiment with the same study name in the same
storage is refused before anything is written, the owner still resumes, warm_start finds the study
where the earlier sweep.yaml says it is. SQLite and a real MariaDB."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
import yaml

from seqsweep import cli
from seqsweep.errors import ConfigError
from seqsweep.layout import SWEEP_COPY
from seqsweep.search_spaces.sweep import SweepSpec, load_sweep
from seqsweep.tuning import run_sweep
from seqsweep.tuning.runner import _write_experiment_id, read_experiment_id
from seqsweep.tuning.searchers import make_searcher
from seqsweep.tuning.study_owner import OWNER_ATTR, check_study_owner, claim_study
from seqsweep.tuning.warm_start import warm_start_points


def _owned_experiment(spec: SweepSpec, url: str) -> Path:
    """What `run` leaves: the experiment directory, its identity, its sweep copy, and its study."""
    experiment = Path(spec.file.storage_path) / spec.name
    experiment.mkdir(parents=True)
    experiment_id = uuid.uuid4().hex
    _write_experiment_id(experiment, experiment_id)
    (experiment / SWEEP_COPY).write_text(spec.to_yaml())
    claim_study(url, spec, experiment_id, experiment)
    return experiment


def _finished_trial(url: str, name: str, cell_size: int, value: float) -> None:
    study = optuna.load_study(study_name=name, storage=url)
    dist = optuna.distributions.CategoricalDistribution([4, 8])
    study.add_trial(
        optuna.trial.create_trial(
            params={"cell_size": cell_size}, distributions={"cell_size": dist}, value=value
        )
    )


def _clash(
    write_sweep: Callable[..., Path], tmp_path: Path, url: str, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    space = {"cell_size": {"type": "choice", "values": [4, 8]}, "epochs": 1}
    first = load_sweep(write_sweep(name=name, params=space, search={"storage": url}))
    experiment = _owned_experiment(first, url)
    _finished_trial(url, name, 8, 0.4)

    # Another sweep, same name and storage, its own storage path and space: refused, nothing written.
    other_root = tmp_path / "other_runs"
    other = write_sweep(
        name=name,
        params={"cell_size": {"type": "choice", "values": [16, 32]}, "epochs": 2},
        search={"storage": url},
        storage_path=str(other_root),
    )
    assert cli.main(["run", str(other)]) == 2
    err = capsys.readouterr().err
    assert f"study {name!r}" in err and f"belongs to the experiment {experiment}" in err
    assert not other_root.exists(), "a refused start left something behind"
    study = optuna.load_study(study_name=name, storage=url)
    assert len(study.trials) == 1 and study.user_attrs[OWNER_ATTR] == read_experiment_id(experiment)

    # The owner resumes; another directory claiming to be it does not.
    check_study_owner(url, name, read_experiment_id(experiment), experiment, resuming=True)
    with pytest.raises(ConfigError, match="cannot resume with another experiment's study"):
        check_study_owner(url, name, uuid.uuid4().hex, tmp_path / "impostor", resuming=True)

    # warm_start reads the earlier experiment's study where its sweep.yaml says it lives.
    later = load_sweep(write_sweep(name=f"{name}_ws", params=space, warm_start=str(experiment)))
    (tmp_path / "ws_experiment").mkdir()
    searcher = make_searcher(later, str(tmp_path / "ws_experiment"))
    assert warm_start_points(searcher, str(experiment), "val_macro_f1") == 1


def test_sqlite_study_of_another_experiment_is_refused(
    write_sweep: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _clash(write_sweep, tmp_path, f"sqlite:///{tmp_path / 'shared_optuna.db'}", "shared", capsys)


@pytest.mark.mysql
def test_mariadb_study_of_another_experiment_is_refused(
    write_sweep: Callable[..., Path], tmp_path: Path, mariadb_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _clash(write_sweep, tmp_path, mariadb_url, f"shared_{uuid.uuid4().hex[:8]}", capsys)


@pytest.mark.mysql
def test_a_study_name_matching_another_only_by_case_names_the_stored_study(
    write_sweep: Callable[..., Path], tmp_path: Path, mariadb_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """MariaDB finds the study `CaseS_…` for the name `cases_…` (its collation ignores case and accents):
    the refusal named only `cases_…`, a study that is not stored under that spelling."""
    tag = uuid.uuid4().hex[:8]
    stored, asked = f"CaseS_{tag}", f"cases_{tag}"
    first = load_sweep(write_sweep(name=stored, search={"storage": mariadb_url}))
    experiment = _owned_experiment(first, mariadb_url)
    other_root = tmp_path / "other_runs"
    other = write_sweep(name=asked, search={"storage": mariadb_url}, storage_path=str(other_root))
    assert cli.main(["run", str(other)]) == 2
    err = capsys.readouterr().err
    assert f"study {asked!r} in " in err and f"matches the stored study {stored!r}" in err
    assert f"which belongs to the experiment {experiment}" in err
    assert not other_root.exists(), "a refused start left something behind"
    # a start that made it past the check (another start claimed the name meanwhile) names it alike
    with pytest.raises(ConfigError, match=rf"study {asked!r} in .* matches the stored study {stored!r}"):
        claim_study(mariadb_url, load_sweep(other), uuid.uuid4().hex, tmp_path / "racer")


@pytest.mark.mysql
def test_a_deleted_experiments_study_is_refused_saying_so_and_how_to_free_the_name(
    write_sweep: Callable[..., Path], tmp_path: Path, mariadb_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An experiment deleted from disk leaves its study in the RDB: a new run of its name was refused
    naming a folder that no longer exists, with no way on. The line now says the folder is not here and
    how to free the name; doing so lets the run claim a study of its own."""
    name = f"deleted_{uuid.uuid4().hex[:8]}"
    first = load_sweep(write_sweep(name=name, search={"storage": mariadb_url}))
    experiment = _owned_experiment(first, mariadb_url)
    shutil.rmtree(experiment)
    again = write_sweep(name=name, search={"storage": mariadb_url})
    assert cli.main(["run", str(again)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert (
        f"belongs to the experiment {experiment}, which is not on this machine (if it was deleted, its study "
        f"was not: `optuna delete-study --study-name {name!r} --storage <search.storage>` frees the name)"
    ) in err
    optuna.delete_study(study_name=name, storage=mariadb_url)  # what the line says, as the library call
    check_study_owner(mariadb_url, name, None, experiment)  # nothing in the way now


def test_a_study_no_experiment_owns_is_refused_and_nothing_is_created(
    write_sweep: Callable[..., Path], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    optuna.create_study(study_name="legacy", storage=url)  # e.g. made by an older seqsweep
    spec = load_sweep(write_sweep(name="legacy", search={"storage": url}))
    with pytest.raises(ConfigError, match=r"study 'legacy' in sqlite:///.*legacy.db holds 0 trials"):
        run_sweep(spec)
    assert not Path(spec.file.storage_path).exists()

    # Checking a storage that does not exist yet creates nothing.
    missing = tmp_path / "nowhere.db"
    check_study_owner(f"sqlite:///{missing}", "x", None, tmp_path / "x")
    assert not missing.exists()


def test_an_unreachable_study_storage_is_one_line_with_the_password_hidden(
    write_sweep: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url = "mysql+pymysql://root:s3cret@127.0.0.1:1/nothing"
    assert cli.main(["run", str(write_sweep(name="unreachable", search={"storage": url}))]) == 2
    err = capsys.readouterr().err
    assert "cannot open the study storage mysql+pymysql://root:***@127.0.0.1:1/nothing" in err
    assert "s3cret" not in err


def test_warm_start_without_a_study_names_where_it_looked(
    write_sweep: Callable[..., Path], tmp_path: Path
) -> None:
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / SWEEP_COPY).write_text(yaml.safe_dump({"name": "earlier"}))
    spec = load_sweep(write_sweep(name="later"))
    (tmp_path / "later_experiment").mkdir()
    searcher = make_searcher(spec, str(tmp_path / "later_experiment"))
    with pytest.raises(ConfigError, match=r"warm_start: .* has no study earlier in sqlite:///"):
        warm_start_points(searcher, str(earlier), "val_macro_f1")


def _latin1(url: str) -> None:
    import sqlalchemy as sa

    name = url.rsplit("/", 1)[1]
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"ALTER DATABASE `{name}` CHARACTER SET latin1 COLLATE latin1_swedish_ci"))
    engine.dispose()


@pytest.mark.mysql
def test_a_study_name_the_storage_cannot_hold_is_one_line_and_leaves_nothing(
    write_sweep: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`exp_α` in a latin1 MariaDB storage: exit 3 ("Incorrect string value") after the build, with a
    half-made experiment folder left; once Optuna's tables were there, exit 3 ("Illegal mix of
    collations") at once."""
    from tests.databases import fresh_database

    with fresh_database("mariadb", "seqsweep_study_latin1") as url:
        _latin1(url)
        root = tmp_path / "latin1_runs"
        path = write_sweep(name="exp_α", search={"storage": url}, storage_path=str(root))
        assert cli.main(["run", str(path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith(
            "seqsweep: error: search.storage: the study name 'exp_α' cannot be stored in"
        )
        assert "Incorrect string value" in err[-1]
        assert not (root / "exp_α").exists(), "a refused start left its experiment folder"
        # Optuna's tables are there now: refused by the owner check, before the build
        assert cli.main(["run", str(path)]) == 2
        assert "Illegal mix of collations" in capsys.readouterr().err


def test_a_refused_warm_start_leaves_nothing_another_sweep_of_its_name_adopts(
    write_sweep: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A warm start from a folder with two studies and no sweep.yaml was refused only after the study
    was claimed (mode max); the leftover identity was then adopted by a `val_loss`/min sweep of the same
    name, whose TPE maximised val_loss."""
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    for name in ("s1", "s2"):
        optuna.create_study(
            study_name=name, storage=f"sqlite:///{earlier / 'optuna.db'}", direction="maximize"
        )
    first = write_sweep(name="adopted", warm_start=str(earlier))
    assert cli.main(["run", str(first)]) == 2
    assert "has no sweep.yaml to say which of the 2 studies" in capsys.readouterr().err
    experiment = Path(load_sweep(first).file.storage_path) / "adopted"
    assert not experiment.exists(), "the refused start left its folder"

    # an own leftover study made for the other mode, and no trial in it, is made again for this mode
    spec = load_sweep(write_sweep(name="adopted", search={"metric": "val_loss", "mode": "min"}))
    experiment.mkdir(parents=True)
    experiment_id = uuid.uuid4().hex
    url = f"sqlite:///{experiment / 'optuna.db'}"
    optuna.create_study(study_name="adopted", storage=url, direction="maximize").set_user_attr(
        OWNER_ATTR, experiment_id
    )
    claim_study(url, spec, experiment_id, experiment)
    assert (
        optuna.load_study(study_name="adopted", storage=url).direction == optuna.study.StudyDirection.MINIMIZE
    )
    _finished_trial(url, "adopted", 4, 0.9)
    maximising = load_sweep(write_sweep(name="adopted", search={"metric": "val_macro_f1", "mode": "max"}))
    with pytest.raises(ConfigError, match="holds 1 trial made for mode min, and this sweep's mode is max"):
        claim_study(url, maximising, experiment_id, experiment)


def test_a_ray_setting_that_drops_the_checkpoints_epoch_is_refused(
    write_sweep: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With TUNE_ONLY_STORE_CHECKPOINT_SCORE_ATTRIBUTE=1 the pruning could not tell the latest checkpoint
    (no `training_iteration` stored with it) and deleted it; `results` then had no test scores."""
    monkeypatch.setenv("TUNE_ONLY_STORE_CHECKPOINT_SCORE_ATTRIBUTE", "1")
    path = write_sweep(name="only_score")
    assert cli.main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "$TUNE_ONLY_STORE_CHECKPOINT_SCORE_ATTRIBUTE is set" in err and err.count("\n") == 1
    assert not (Path(load_sweep(path).file.storage_path) / "only_score").exists()
    assert cli.main(["resume", str(tmp_path / "runs" / "only_score")]) == 2
    assert "$TUNE_ONLY_STORE_CHECKPOINT_SCORE_ATTRIBUTE is set" in capsys.readouterr().err


def test_a_sqlite_study_storage_that_cannot_be_made_is_refused_before_the_build(tmp_path: Path) -> None:
    """`search.storage: sqlite:///<a file>/o.db` passed the storage checks (the file did not exist yet), the
    dataset was built, then Optuna failed to open it ("unable to open database file")."""
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder")
    url = f"sqlite:///{blocker / 'o.db'}"
    with pytest.raises(
        ConfigError, match=r"cannot make the study storage .*notes.txt is a file; give a folder"
    ):
        check_study_owner(url, "x", None, tmp_path / "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("mariadb", marks=pytest.mark.mysql), "postgresql"]
)
def test_a_sweep_making_the_study_tables_while_another_does_is_not_refused(
    backend: str, write_sweep: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two sweeps of different names starting together on a fresh study storage: Optuna checks which of
    its tables exist, then creates the others, so the slower one met "table studies already exists" and
    was refused ("cannot use the study storage"; on MariaDB both could be). The other process is played
    here, deterministically, by making every table between the slower one's check and its creation."""
    import contextlib
    import gc

    import sqlalchemy as sa
    from optuna.storages._rdb import models

    from tests.databases import fresh_database

    with contextlib.ExitStack() as stack:
        url = (
            f"sqlite:///{tmp_path / 'fresh_optuna.db'}"
            if backend == "sqlite"
            else stack.enter_context(fresh_database(backend, "seqsweep_study_race"))
        )
        metadata = models.BaseModel.metadata
        create_all = type(metadata).create_all
        raced = []

        def racing(self: sa.MetaData, bind: sa.engine.Engine, **kwargs: object) -> None:
            if not raced:  # the other sweep makes every table after this one saw none
                raced.append(True)
                other = sa.create_engine(url)
                create_all(self, other)
                other.dispose()
                kwargs["checkfirst"] = False
            create_all(self, bind, **kwargs)

        monkeypatch.setattr(type(metadata), "create_all", racing)
        spec = load_sweep(write_sweep(name="second", search={"storage": url}))
        experiment = Path(spec.file.storage_path) / spec.name
        claim_study(url, spec, "second-id", experiment)
        assert raced, "the storage's tables were not made by this claim"
        study = optuna.load_study(study_name="second", storage=url)
        assert study.user_attrs[OWNER_ATTR] == "second-id"
        del study
        gc.collect()  # Optuna's engines keep connections open: PostgreSQL would not drop the database
