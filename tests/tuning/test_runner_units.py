"""Runner pieces that need no cluster: the stored sweep never keeps a database password."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from seqsweep.cluster.jobs import SWEEP_ENV, job_request
from seqsweep.errors import ConfigError
from seqsweep.search_spaces.credentials import with_database, without_password
from seqsweep.search_spaces.sweep import parse_sweep
from seqsweep.tuning.runner import run_sweep, storage_root

SECRET_URL = "mysql+pymysql://analyst:s3cret-pw@db.internal:3306/crypto"


def _spec(db: str | None) -> object:
    return parse_sweep(
        {
            "name": "p",
            "model": "lstm",
            "dataset": {"db": db, "symbols": ["ETHUSDT"]},
            "params": {"cell_size": {"type": "choice", "values": [8, 16]}},
        }
    )


def test_stored_sweep_hides_the_password() -> None:
    stored = without_password(_spec(SECRET_URL))
    assert "s3cret-pw" not in stored.to_yaml()
    assert stored.file.dataset.db == "mysql+pymysql://analyst:***@db.internal:3306/crypto"


def test_url_without_password_is_kept_as_is() -> None:
    url = "sqlite:////tmp/x.db"
    assert without_password(_spec(url)).file.dataset.db == url


def test_resume_asks_for_the_password_it_never_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    stored = without_password(_spec(SECRET_URL))
    monkeypatch.delenv("SEQSWEEP_DB_URL", raising=False)
    with pytest.raises(ConfigError, match=r"pass --db URL or set \$SEQSWEEP_DB_URL") as info:
        with_database(stored, None)
    assert "s3cret" not in str(info.value)
    monkeypatch.setenv("SEQSWEEP_DB_URL", SECRET_URL)
    assert with_database(stored, None).file.dataset.db == SECRET_URL
    assert with_database(stored, "sqlite:///other.db").file.dataset.db == "sqlite:///other.db"


def test_relative_storage_becomes_absolute_and_uris_stay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = _spec(None)
    assert storage_root(spec) == str(tmp_path / "runs")
    assert storage_root(spec, "s3://bucket/sweeps") == "s3://bucket/sweeps"


def test_submitted_job_never_carries_the_password() -> None:
    request = job_request(_spec(SECRET_URL), "/shared/runs")
    sent = json.dumps(request)
    assert "s3cret-pw" not in sent
    # The job's driver gets the hidden form, which `with_database` completes on the head.
    sweep = request["runtime_env"]["env_vars"][SWEEP_ENV]
    assert (
        parse_sweep(yaml.safe_load(sweep)).file.dataset.db
        == without_password(_spec(SECRET_URL)).file.dataset.db
    )


def test_run_of_a_sweep_with_a_hidden_password_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEQSWEEP_DB_URL", raising=False)
    with pytest.raises(ConfigError, match=r"on the head node, for a submitted sweep"):
        run_sweep(without_password(_spec(SECRET_URL)))  # refused before Ray starts


def test_resume_on_changed_rows_is_refused(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from seqsweep.errors import DataError
    from seqsweep.tuning.dataset_record import check_same_dataset, record_dataset_key, recorded_dataset_key

    record_dataset_key(tmp_path, SimpleNamespace(cache_key="a" * 20))
    assert recorded_dataset_key(tmp_path) == "a" * 20
    check_same_dataset(tmp_path, SimpleNamespace(cache_key="a" * 20))  # same rows: fine
    with pytest.raises(
        DataError,
        match=r"dataset a+, now b+: the database no longer gives the rows this experiment trained on: restore",
    ):
        check_same_dataset(tmp_path, SimpleNamespace(cache_key="b" * 20))
    (tmp_path / "seqsweep_dataset.json").write_text(
        '{"key": "' + "a" * 20 + '"}'
    )  # recorded before releases were
    with pytest.raises(
        DataError, match=r"no longer gives the rows .*, or an earlier seqsweep built its dataset"
    ):
        check_same_dataset(tmp_path, SimpleNamespace(cache_key="b" * 20))


def test_resume_after_another_seqsweep_release_says_so(tmp_path: Path) -> None:
    """Another release keys its datasets anew (`cache.cache_key`): the error blames the release, not the rows."""
    from types import SimpleNamespace

    from seqsweep import __version__
    from seqsweep.errors import DataError
    from seqsweep.layout import DATASET_FILE
    from seqsweep.tuning.dataset_record import check_same_dataset

    (tmp_path / DATASET_FILE).write_text(json.dumps({"key": "a" * 20, "seqsweep": "0.0.1"}))
    with pytest.raises(
        DataError,
        match=rf"built by seqsweep 0\.0\.1 and this is seqsweep {re.escape(__version__)}.*use seqsweep 0\.0\.1",
    ):
        check_same_dataset(tmp_path, SimpleNamespace(cache_key="b" * 20))


STUDY_SECRET = "postgresql://tuner:study-pw@db.internal:5432/optuna"


def test_the_study_storage_password_is_never_stored_or_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = parse_sweep(
        {
            "name": "p",
            "model": "lstm",
            "dataset": {"symbols": ["ETHUSDT"]},
            "params": {"cell_size": {"type": "choice", "values": [8, 16]}},
            "search": {"storage": STUDY_SECRET},
        }
    )
    stored = without_password(spec)
    assert "study-pw" not in stored.to_yaml()
    assert stored.file.search.storage == "postgresql://tuner:***@db.internal:5432/optuna"
    assert "study-pw" not in json.dumps(job_request(spec, "/shared/runs"))
    monkeypatch.delenv("SEQSWEEP_STUDY_URL", raising=False)
    with pytest.raises(ConfigError, match=r"stored without its password; set \$SEQSWEEP_STUDY_URL") as info:
        with_database(stored, None)
    assert "study-pw" not in str(info.value)
    monkeypatch.setenv("SEQSWEEP_STUDY_URL", STUDY_SECRET)
    assert with_database(stored, None).file.search.storage == STUDY_SECRET
    # another storage in the variable put a submitted sweep's study in that database without a word
    monkeypatch.setenv("SEQSWEEP_STUDY_URL", "postgresql://tuner:study-pw@other.internal:5432/optuna")
    with pytest.raises(ConfigError, match=r"\$SEQSWEEP_STUDY_URL names another storage") as info:
        with_database(stored, None)
    assert "study-pw" not in str(info.value)


def test_resume_after_other_dataset_building_code_or_libraries_says_so(tmp_path: Path) -> None:
    """The same release with other dataset-building code, or another version of a library that computes
    the values, keys its datasets anew: the error names the code, or the library and both versions."""
    from types import SimpleNamespace

    from seqsweep import __version__
    from seqsweep.data.code_digest import build_code_digest, build_libraries
    from seqsweep.errors import DataError
    from seqsweep.layout import DATASET_FILE
    from seqsweep.tuning.dataset_record import check_same_dataset, record_dataset_key

    record_dataset_key(tmp_path, SimpleNamespace(cache_key="a" * 20))
    assert json.loads((tmp_path / DATASET_FILE).read_text())["data_code"] == build_code_digest()
    (tmp_path / DATASET_FILE).write_text(
        json.dumps({"key": "a" * 20, "seqsweep": __version__, "data_code": "f" * 16})
    )
    with pytest.raises(DataError, match=rf"data code f{{16}}, this seqsweep's is {build_code_digest()}"):
        check_same_dataset(tmp_path, SimpleNamespace(cache_key="b" * 20))
    # the same code with another version of a library that computes the values names the library
    record_dataset_key(tmp_path, SimpleNamespace(cache_key="a" * 20))
    payload = json.loads((tmp_path / DATASET_FILE).read_text())
    assert payload["libraries"] == build_libraries()
    payload["libraries"]["pandas"] = "2.2.0"
    (tmp_path / DATASET_FILE).write_text(json.dumps(payload))
    installed = build_libraries()["pandas"]
    with pytest.raises(
        DataError,
        match=rf"built with pandas 2\.2\.0 and this environment has pandas {re.escape(installed)}.*"
        r"install pandas==2\.2\.0, or start a new experiment",
    ):
        check_same_dataset(tmp_path, SimpleNamespace(cache_key="b" * 20))


def test_resume_after_the_embedding_model_files_changed_says_so(tmp_path: Path) -> None:
    """A local `dataset.embedding_model` whose files were swapped keys the dataset anew: `resume` said the
    database no longer gives the rows, which sends the user to rows that never changed."""
    from types import SimpleNamespace

    from seqsweep.errors import DataError
    from seqsweep.tuning.dataset_record import check_same_dataset, record_dataset_key

    def bundle(key: str, identity: str) -> SimpleNamespace:
        extra = {"embedding_model": "./local-model", "embedding_model_identity": identity}
        return SimpleNamespace(cache_key=key, preprocessing=SimpleNamespace(extra=extra))

    record_dataset_key(tmp_path, bundle("a" * 20, "1" * 20))
    with pytest.raises(
        DataError,
        match=r"dataset a+, now b+: its symbols were embedded by other files of dataset.embedding_model "
        r"'./local-model' \(model 1{20}, now 2{20}\): put that model's files back, or start a new experiment",
    ):
        check_same_dataset(tmp_path, bundle("b" * 20, "2" * 20))
    with pytest.raises(DataError, match=r"the database no longer gives the rows"):  # the same model
        check_same_dataset(tmp_path, bundle("b" * 20, "1" * 20))


def test_a_started_experiment_is_refused_naming_resume_and_another_storage(tmp_path: Path) -> None:
    """A built-in sweep's `name` is not the user's to change: the way out is `--storage`."""
    from seqsweep.layout import TUNER_FILE

    (tmp_path / "p").mkdir()
    (tmp_path / "p" / TUNER_FILE).write_bytes(b"")
    with pytest.raises(ConfigError) as info:
        run_sweep(_spec("sqlite:///x.db"), storage=str(tmp_path))  # refused before Ray starts
    assert str(info.value) == (
        f"experiment {tmp_path / 'p'} already exists: continue it with `seqsweep resume {tmp_path / 'p'}`, "
        "or give `--storage` another folder (or the sweep another `name`)"
    )


def test_a_started_experiment_of_another_sweep_is_not_sent_to_resume(tmp_path: Path) -> None:
    """The sweep file's space was edited after its experiment started: `run` sent it to `resume`, which
    continues the experiment as its own sweep.yaml says, so the user went on with the old space
    believing it the new one. The line now names what differs and sends the edit to another name."""
    from seqsweep.layout import TUNER_FILE
    from seqsweep.tuning.runner import with_resolved_database
    from seqsweep.tuning.sweep_copy import write_sweep_copy

    first = with_resolved_database(with_database(_spec("sqlite:///x.db"), None))
    experiment = tmp_path / "p"
    experiment.mkdir()
    write_sweep_copy(experiment, without_password(first).to_yaml())  # as `run` writes it
    (experiment / TUNER_FILE).write_bytes(b"")
    with pytest.raises(ConfigError, match=r"already exists: continue it with `seqsweep resume"):
        run_sweep(_spec("sqlite:///x.db"), storage=str(tmp_path))  # the same sweep: resume it

    edited = yaml.safe_load(first.to_yaml())
    edited["params"]["cell_size"]["values"] = [32, 64]
    edited["search"]["num_samples"] = 3
    with pytest.raises(ConfigError) as info:
        run_sweep(parse_sweep(edited), storage=str(tmp_path))  # refused before Ray starts
    assert str(info.value) == (
        f"experiment {experiment} already exists, started from another sweep (params.cell_size, "
        "search.num_samples differ from its sweep.yaml): `seqsweep resume` would continue that sweep as it "
        "started, not this one; give this sweep another `name`, or `--storage` another folder"
    )


def test_the_same_sweep_with_its_paths_spelt_otherwise_is_sent_to_resume(tmp_path: Path) -> None:
    """`storage_path: ./runs/` against the stored `./runs`, or a SQLite file or `warm_start` folder named
    through a link, was "started from another sweep (storage_path differ ...)": the same sweep, sent away."""
    from seqsweep.layout import TUNER_FILE
    from seqsweep.tuning.runner import with_resolved_database
    from seqsweep.tuning.sweep_copy import write_sweep_copy

    (tmp_path / "link").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "earlier").mkdir()
    first = yaml.safe_load(
        with_resolved_database(with_database(_spec(f"sqlite:///{tmp_path}/x.db"), None)).to_yaml()
    )
    first["warm_start"] = str(tmp_path / "earlier")
    experiment = tmp_path / "p"
    experiment.mkdir()
    write_sweep_copy(experiment, without_password(parse_sweep(first)).to_yaml())
    (experiment / TUNER_FILE).write_bytes(b"")
    again = {
        **first,
        "storage_path": first["storage_path"].rstrip("/") + "/",
        "dataset": {**first["dataset"], "db": f"sqlite:///{tmp_path}/link/x.db"},
        "warm_start": f"{tmp_path}/link/earlier/",
    }
    with pytest.raises(ConfigError, match=r"already exists: continue it with `seqsweep resume"):
        run_sweep(parse_sweep(again), storage=str(tmp_path / "link"))
    again["search"] = {**first["search"], "storage": f"sqlite:///{tmp_path}/link/studies.db"}
    with pytest.raises(ConfigError) as info:  # another study file is another sweep
        run_sweep(parse_sweep(again), storage=str(tmp_path / "link"))
    assert str(info.value).startswith(
        f"experiment {experiment} already exists, started from another sweep (search.storage differ "
    )


NO_PROC = pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")


@NO_PROC
def test_a_storage_path_under_proc_is_refused_before_the_build(tmp_path: Path) -> None:
    """`--storage /proc/runs` passed `os.access` (as root), built the dataset, then failed making its cache
    folder: `unexpected error: FileNotFoundError`, exit 3. Now one line before anything is built."""
    from seqsweep.tuning.runner import check_storage_root

    with pytest.raises(
        ConfigError,
        match=r"^storage_path \(--storage\) /proc/seqsweep-nowhere/runs: /proc "
        r"cannot be written \(.+\); give a folder you can write$",
    ):
        check_storage_root(Path("/proc/seqsweep-nowhere/runs"))
    check_storage_root(tmp_path / "new" / "runs")  # a folder that can be made passes, and is not made
    assert list(tmp_path.iterdir()) == []
