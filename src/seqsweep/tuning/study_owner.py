"""The sweep's Optuna study in its storage: where it lives, which experiment owns it, and claiming it.

An experiment owns its study: `claim_study` records the experiment's identity on the study
(`OWNER_ATTR`), and `check_study_owner` refuses, before anything is written, a run or resume whose
study name in that storage belongs to another experiment (two sweeps sharing a name and an RDB
would otherwise crash on each other's search space or silently pool their trials). `abandon_study`
deletes a study claimed by a start that was refused before any trial ran. The storage is made
safely when two sweeps start on a fresh one together (`_made_storage`), a study name the database
cannot hold is refused in one line (`_storing_name`), and the pickled storage never holds the URL's
password (`MaskedRDBStorage`); every URL in a message is masked (`seqsweep.db_url.mask`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna

from seqsweep._fs import unmakeable_folder
from seqsweep._text import counted
from seqsweep.constants import STUDY_URL_ENV
from seqsweep.db_url import check_unescaped_at, fill_from_same_storage, mask, scrub
from seqsweep.errors import ConfigError
from seqsweep.layout import study_db_url
from seqsweep.search_spaces.sweep import SweepSpec

logger = logging.getLogger(__name__)


RAY_TRIAL_ID_ATTR = "ray_trial_id"
"""Optuna trial user attribute: the Ray Tune trial id the trial ran as."""
OWNER_ATTR = "seqsweep_experiment_id"
"""Study user attribute: the identity of the experiment that owns the study."""
OWNER_DIR_ATTR = "seqsweep_experiment_dir"
"""Study user attribute: where that experiment was (for the refusal's message only)."""


def study_storage_url(spec: SweepSpec, experiment_dir: str) -> str:
    """`search.storage`, else the SQLite file `optuna.db` in the experiment directory. ConfigError for a
    storage whose password holds an unescaped `@` (`db_url.check_unescaped_at`)."""
    if spec.file.search.storage:
        check_unescaped_at(spec.file.search.storage)
    return spec.file.search.storage or study_db_url(experiment_dir)


def existing_storage(url: str) -> optuna.storages.RDBStorage | None:
    """The study storage at `url` if it already holds Optuna's tables; creates nothing (no file, no table)."""
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except Exception:
        raise ConfigError(f"search.storage: {mask(url)} is not a database URL") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:" or not Path(database).exists():
            _check_sqlite_folder(url, database)
            return None
    try:
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                has_studies = sa.inspect(conn).has_table("studies")
        finally:
            engine.dispose()
        if not has_studies:
            return None
        return _made_storage(url, skip_table_creation=True)
    except (
        sa.exc.SQLAlchemyError,
        optuna.exceptions.StorageInternalError,
        RuntimeError,
        ModuleNotFoundError,
    ) as exc:
        reason = scrub(" ".join(str(getattr(exc, "orig", None) or exc).split()), url)[:200]
        raise ConfigError(
            f"search.storage: cannot open the study storage {mask(url)} ({type(exc).__name__}: {reason})"
        ) from None


def _check_sqlite_folder(url: str, database: str) -> None:
    """ConfigError (one line) when a SQLite study file cannot be made where `search.storage` puts it (a part
    of the path is a file, or under /proc): refused with the other storage checks, before the dataset is
    built, where Optuna's "unable to open database file" came after it."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    reason = unmakeable_folder(Path(database).expanduser().resolve().parent)
    if reason is not None:
        raise ConfigError(f"search.storage: cannot make the study storage {mask(url)}: {reason}")


def study_record(storage: optuna.storages.RDBStorage, study_name: str) -> tuple[bool, dict[str, Any], int]:
    """(the study exists, its user attributes, its number of trials)."""
    with _storing_name(storage.url, study_name):
        try:
            study_id = storage.get_study_id_from_name(study_name)
        except KeyError:
            return False, {}, 0
        return (
            True,
            storage.get_study_user_attrs(study_id),
            len(storage.get_all_trials(study_id, deepcopy=False)),
        )


@contextmanager
def _storing_name(url: str, study_name: str) -> Iterator[None]:
    """ConfigError (one line) for a study name the storage cannot hold or compare: a MariaDB latin1 or
    utf8mb3 database refuses `exp_α` or an emoji ("Incorrect string value", "Illegal mix of
    collations"), a LATIN1 PostgreSQL database cannot encode it. They ended as unexpected errors."""
    import sqlalchemy as sa

    try:
        yield
    except (sa.exc.SQLAlchemyError, UnicodeError, optuna.exceptions.StorageInternalError) as exc:
        cause = exc.__cause__ if isinstance(exc, optuna.exceptions.StorageInternalError) else exc
        reason = scrub(" ".join(str(getattr(cause, "orig", None) or cause).split()), url)[:160]
        about_text = isinstance(cause, UnicodeError) or any(word in reason for word in _TEXT_ERRORS)
        if not about_text:  # the server went away, a permission: not the name's fault
            raise ConfigError(
                f"search.storage: cannot use the study storage {mask(url)} ({type(cause).__name__}: {reason})"
            ) from None
        raise ConfigError(
            f"search.storage: the study name {study_name!r} cannot be stored in {mask(url)} "
            f"({type(cause).__name__}: {reason}); give the sweep a `name` the database's character set "
            f"holds, or keep studies in a UTF-8 (utf8mb4) database"
        ) from None


_TEXT_ERRORS = ("Incorrect string value", "Illegal mix of collations", "character", "encod")
"""Words of a database's error about text it cannot store or compare (MariaDB 1366 and 1267, PostgreSQL's
"character with byte sequence ... has no equivalent in encoding")."""


def check_study_owner(
    url: str,
    study_name: str,
    experiment_id: str | None,
    experiment_dir: Path,
    *,
    resuming: bool = False,
) -> None:
    """Refuse (ConfigError) a run or resume whose study belongs to another experiment.

    A new experiment may use a study name only if no study of that name is in the storage, or the
    study is its own (a start of the same experiment that stopped half way). A resumed experiment
    needs its own study; one made before studies had owners (`experiment_id` None) may claim a
    study whose trials are all its own trials.
    """
    storage = existing_storage(url)
    exists, attrs, n_trials = study_record(storage, study_name) if storage is not None else (False, {}, 0)
    where = f"study {study_name!r} in {mask(url)}"
    if not exists:
        if resuming:
            raise ConfigError(
                f"resume: {where} does not exist; the experiment cannot go on without its study"
            )
        return
    owner = attrs.get(OWNER_ATTR)
    if owner is not None and owner == experiment_id:
        return
    if (
        owner is None
        and resuming
        and experiment_id is None
        and _trials_are_ours(storage, study_name, experiment_dir)
    ):
        return
    assert storage is not None  # the study exists
    stored = _stored_study_name(storage, study_name)
    raise ConfigError(_clash(_clash_where(study_name, stored, url), attrs, n_trials, resuming, stored))


def _stored_study_name(storage: optuna.storages.RDBStorage, study_name: str) -> str:
    """The name of the stored study that `study_name` finds, as the storage spells it: MariaDB's default
    collation finds `CaseS` (or `casés`) for `cases`, comparing names ignoring case and accents."""
    with _storing_name(storage.url, study_name):
        return storage.get_study_name_from_id(storage.get_study_id_from_name(study_name))


def _clash_where(study_name: str, stored: str, url: str) -> str:
    """The subject of a refused study's line: the sweep's study, and the stored study it matched when
    that is spelt otherwise (the line named only the new sweep's name, as if that study existed)."""
    where = f"study {study_name!r} in {mask(url)}"
    if stored == study_name:
        return where
    return (
        f"{where} matches the stored study {stored!r} (the database compares study names ignoring case "
        f"and accents), which"
    )


def _clash(where: str, attrs: dict[str, Any], n_trials: int, resuming: bool, stored: str) -> str:
    """The one line refusing a study another sweep holds (`where`: `_clash_where`; `stored`: the study's
    name as stored). An owner whose folder is not on this machine is said to be so, with the way to free
    the name if that experiment was deleted (its study outlives it in the RDB)."""
    owner_dir = attrs.get(OWNER_DIR_ATTR)
    if attrs.get(OWNER_ATTR) is None:
        whose = f"holds {counted(n_trials, 'trial')} of another sweep (a study no experiment owns)"
    elif owner_dir and not Path(str(owner_dir)).exists():
        whose = (
            f"belongs to the experiment {owner_dir}, which is not on this machine (if it was deleted, its "
            f"study was not: `optuna delete-study --study-name {stored!r} --storage <search.storage>` frees "
            f"the name)"
        )
    else:
        whose = f"belongs to the experiment {owner_dir or '(unknown directory)'}"
    fix = (
        "this experiment cannot resume with another experiment's study; nothing was run"
        if resuming
        else "give this sweep another `name` or another `search.storage`; nothing was written"
    )
    return f"{where} {whose}: {fix}"


def _trials_are_ours(storage: Any, study_name: str, experiment_dir: Path) -> bool:
    """Whether every trial of the study was asked for by a Tune trial of this experiment."""
    from seqsweep.tuning.experiment_state import StateFile, state_files

    files = state_files(experiment_dir)
    if not files:
        return False
    ours = {entry.trial_id for entry in StateFile(files[-1]).entries}
    study_id = storage.get_study_id_from_name(study_name)
    return all(
        t.user_attrs.get(RAY_TRIAL_ID_ATTR) in ours for t in storage.get_all_trials(study_id, deepcopy=False)
    )


def claim_study(
    url: str, spec: SweepSpec, experiment_id: str, experiment_dir: Path, *, unowned_is_ours: bool = False
) -> None:
    """Create the experiment's study (or take its own back) and record the experiment as its owner.

    Creating is atomic in the database (the study name is unique): if another start made the study
    since `check_study_owner`, this refuses as that check would have. A study without an owner is
    refused too (another start may have created it and not yet named itself its owner: both took it
    once), except for `unowned_is_ours`: a resumed experiment from before studies had owners, whose
    trials `check_study_owner` found to be its own.
    """
    direction = (
        optuna.study.StudyDirection.MAXIMIZE
        if spec.file.search.mode == "max"
        else optuna.study.StudyDirection.MINIMIZE
    )
    with _storing_name(url, spec.name):
        storage = _made_storage(url)
        try:
            study = optuna.create_study(study_name=spec.name, storage=storage, direction=direction)
        except optuna.exceptions.DuplicatedStudyError:
            study = optuna.load_study(study_name=spec.name, storage=storage)
            owner = study.user_attrs.get(OWNER_ATTR)
            if owner != experiment_id and not (owner is None and unowned_is_ours):
                stored = _stored_study_name(storage, spec.name)
                raise ConfigError(
                    _clash(
                        _clash_where(spec.name, stored, url),
                        study.user_attrs,
                        len(study.trials),
                        False,
                        stored,
                    )
                ) from None
            if study.direction != direction:
                study = _remade(study, storage, direction, url)
        study.set_user_attr(OWNER_ATTR, experiment_id)
        study.set_user_attr(OWNER_DIR_ATTR, str(experiment_dir))


_MADE_MEANWHILE = ("already exists", "UNIQUE constraint failed", "Duplicate entry", "duplicate key value")
"""Words of a database's error about a table or row another process made first (SQLite, MariaDB 1050 and
1062, PostgreSQL): what making Optuna's tables meets when another sweep is making them at the same time."""


_SCHEMA_ATTEMPTS = 20
"""How often `_made_storage` tries; each failed try means another process made one more table or row."""


def _made_storage(url: str, *, skip_table_creation: bool = False) -> optuna.storages.RDBStorage:
    """Optuna's storage at `url`, its tables (unless `skip_table_creation`) and version rows made if absent.

    Optuna checks which tables exist, then creates the others: two sweeps starting together on a fresh
    storage both saw none, and the slower one's `CREATE TABLE` (or version row) failed ("table studies
    already exists"; on MariaDB both could fail), refusing a sweep that shares nothing with the other as
    "cannot use the study storage"; a sweep checking the storage meanwhile (`existing_storage`) met the
    same on Optuna's version table. Each failure of that kind is tried again (the other process's tables
    are then seen and kept); any other error is raised as it is.
    """
    import time

    import sqlalchemy as sa

    for attempt in range(1, _SCHEMA_ATTEMPTS + 1):
        try:
            return optuna.storages.RDBStorage(url, skip_table_creation=skip_table_creation)
        except (sa.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError) as exc:
            cause = exc.__cause__ if isinstance(exc, optuna.exceptions.StorageInternalError) else exc
            reason = str(getattr(cause, "orig", None) or cause)
            if attempt == _SCHEMA_ATTEMPTS or not any(word in reason for word in _MADE_MEANWHILE):
                raise
            logger.debug("study storage tables made meanwhile by another process (%s); trying again", reason)
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")  # the last attempt returns or raises


def _remade(
    study: optuna.Study, storage: optuna.storages.RDBStorage, direction: optuna.study.StudyDirection, url: str
) -> optuna.Study:
    """The experiment's own study, left by a start that stopped before any trial, made again for
    `direction`: a start of another sweep of the same name adopted it as it was, and TPE then
    maximised a metric the sweep minimises. One with trials is refused (ConfigError)."""
    if study.trials:
        raise ConfigError(
            f"study {study.study_name!r} in {mask(url)} holds {counted(len(study.trials), 'trial')} made for mode "
            f"{direction_mode(study.direction)}, and this sweep's mode is {direction_mode(direction)}: "
            f"give this sweep another `name`; nothing was written"
        )
    optuna.delete_study(study_name=study.study_name, storage=storage)
    return optuna.create_study(study_name=study.study_name, storage=storage, direction=direction)


def abandon_study(url: str, study_name: str, experiment_id: str) -> None:
    """Delete the study `claim_study` made for a start that was then refused before any trial ran, if
    it is still that experiment's and holds no trial; anything else is left as it is."""
    storage = existing_storage(url)
    if storage is None:
        return
    exists, attrs, n_trials = study_record(storage, study_name)
    if exists and attrs.get(OWNER_ATTR) == experiment_id and n_trials == 0:
        optuna.delete_study(study_name=study_name, storage=storage)


class MaskedRDBStorage(optuna.storages.RDBStorage):
    """Optuna's RDB storage whose pickled state never holds the URL's password.

    Ray Tune pickles the searcher, and with it the study's storage, into the experiment (`tuner.pkl`,
    `searcher-state-*.pkl`) and Ray's session folder; Optuna's `RDBStorage.__getstate__` keeps its
    URL whole. Here the URL is pickled masked (`seqsweep.db_url.mask`: `***`) and unpickling takes the
    password back from `$SEQSWEEP_STUDY_URL`, which must name the same storage (ConfigError, one
    line, otherwise) — as `resume` already asks for a study URL whose password the sweep file hides.
    """

    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        state["url"] = mask(str(state["url"]))
        return state

    def __setstate__(self, state: dict[Any, Any]) -> None:
        url = fill_from_same_storage(str(state["url"]), STUDY_URL_ENV)
        study_file = sqlite_study_file(url)
        if study_file is not None and not study_file.parent.is_dir():
            raise ConfigError(
                f"the experiment's Optuna study was made at {study_file}, whose folder is gone: the "
                f"experiment was moved; read it where it is with `seqsweep results DIR` or "
                f"`tune.ExperimentAnalysis(DIR)`, and resume it only where it was made"
            )
        super().__setstate__({**state, "url": url})


def sqlite_study_file(url: str) -> Path | None:
    """The file of a SQLite study URL with an absolute path (`sqlite:////abs/optuna.db`); None for a server,
    an in-memory database or a relative path (which names another file from another folder)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url in (prefix, f"{prefix}:memory:"):
        return None
    path = Path(url[len(prefix) :].split("?", 1)[0])
    return path if path.is_absolute() else None


def direction_mode(direction: optuna.study.StudyDirection) -> str:
    """Ray Tune's `mode` (`max` / `min`) for an Optuna study direction."""
    return "max" if direction == optuna.study.StudyDirection.MAXIMIZE else "min"
