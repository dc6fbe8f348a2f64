"""Searchers and schedulers for a sweep: Optuna (TPE, random or grid) through Ray Tune, plus ASHA.

Every algorithm runs through Optuna so that each sweep has a study in a real storage that
`optuna-dashboard` and `optuna.load_study` can read while it runs and after.

`PruningOptunaSearch` mends one gap in Ray's `OptunaSearch`: a trial that ASHA (or the sweep's budget)
stops early reaches Optuna as PRUNED (with its intermediate values), not as COMPLETE with a partial
score, so TPE does not treat a two-epoch score as a finished one. What stopped a trial is what Tune
decided (`StopRecord`), never a key the trainable must report; everything else keeps Ray's contract
(`tests/tuning/test_searcher_contract.py`).

An experiment owns its study: `claim_study` records the experiment's identity on the study
(`OWNER_ATTR`), and `check_study_owner` refuses, before anything is written, a run or resume whose
study name in that storage belongs to another experiment (two sweeps sharing a name and an RDB
would otherwise crash on each other's search space or silently pool their trials).
"""

from __future__ import annotations

import logging
import math
import pickle
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import optuna
import yaml
from ray.tune.result import TRAINING_ITERATION
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from seqsweep._fs import unmakeable_folder
from seqsweep._text import counted
from seqsweep.constants import DEFAULT_METRIC, FINAL_EPOCH, STUDY_URL_ENV
from seqsweep.db_url import check_unescaped_at, fill_from_same_storage, mask, scrub
from seqsweep.errors import ConfigError
from seqsweep.layout import (
    STUDY_DB,
    SWEEP_COPY,
    earlier_experiment_dir,
    moved_from,
    read_experiment_id,
    study_db_url,
)
from seqsweep.search_spaces.mixed import FamilySpace
from seqsweep.search_spaces.sweep import SweepSpec
from seqsweep.tuning.registry import SAMPLERS, SCHEDULERS

if TYPE_CHECKING:
    from seqsweep.tuning.experiment_state import ResumedTrial

logger = logging.getLogger(__name__)

RAY_TRIAL_ID_ATTR = "ray_trial_id"
OWNER_ATTR = "seqsweep_experiment_id"
"""Study user attribute: the identity of the experiment that owns the study."""
OWNER_DIR_ATTR = "seqsweep_experiment_dir"
"""Study user attribute: where that experiment was (for the refusal's message only)."""


class StopRecord:
    """The trials that something outside them ended before their own end.

    Filled by the sweep's scheduler (`RecordingASHAScheduler`: a cut before `max_t`) and by its budget
    (`seqsweep.tuning.budget.SweepBudget`: a time budget spent or a `stop_at` target reached), read by
    `PruningOptunaSearch.on_trial_complete`. Lives in the driver only; never pickled with the searcher.
    """

    def __init__(self) -> None:
        self.trial_ids: set[str] = set()

    def add(self, trial_id: str) -> None:
        self.trial_ids.add(trial_id)

    def __contains__(self, trial_id: object) -> bool:
        return trial_id in self.trial_ids


class BudgetView(Protocol):
    """What the scheduler and the searcher ask of the sweep's budget (`seqsweep.tuning.budget`)."""

    @property
    def ended(self) -> bool:
        """True once no new trial may start."""
        ...

    def check(self, trial_id: str, result: dict[str, Any]) -> bool:
        """Look at a report; True when that trial must stop after it (recorded in the StopRecord)."""
        ...


class SweepFIFOScheduler(FIFOScheduler):
    """Tune's FIFO scheduler, stopping each trial at its next report once the sweep's budget ended."""

    def __init__(self, budget: BudgetView | None = None) -> None:
        super().__init__()
        self.budget = budget

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        if self.budget is not None and self.budget.check(str(trial.trial_id), result):
            return TrialScheduler.STOP
        return cast(str, super().on_trial_result(tune_controller, trial, result))


class _TrialId:
    """What ASHA's bracket reads of a trial (`trial_id`), for reports of a trial from an earlier run."""

    def __init__(self, trial_id: str) -> None:
        self.trial_id = trial_id


class RecordingASHAScheduler(ASHAScheduler):
    """Ray's ASHA, recording each trial it stops before `max_t` in a `StopRecord`; and, as
    `SweepFIFOScheduler`, stopping every trial at its next report once the sweep's budget ended.

    A stop at `max_t` is the per-trial budget the user set, not a cut: such a trial is complete.
    """

    def __init__(
        self, *args: Any, stops: StopRecord | None = None, budget: BudgetView | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.stops = stops if stops is not None else StopRecord()
        self.budget = budget
        self._earlier: dict[str, list[tuple[int, float]]] = {}

    def record_earlier(self, reports: dict[str, list[tuple[int, float]]]) -> None:
        """Enter a resumed sweep's earlier reports in ASHA's rungs before any new one is judged.

        `reports`: trial id → its (training_iteration, metric value) reports in order, as the trial
        folders' `result.json` hold them (`experiment_state.earlier_reports`). Ray does not save a
        scheduler with the experiment (Tune 2.60 restores the searcher, not `_scheduler_alg`), so a
        resumed sweep's ASHA started with empty rungs: no cutoff until new trials filled them, and the
        resumed sweep trained about twice the epochs an uninterrupted one did, ranking otherwise. Each
        report is recorded as ASHA records it live (`_Bracket.on_result`: the first report at or past
        a milestone); the decisions it made then stand. Applied once the metric and mode are known
        (Tune sets them after the scheduler is made), at the first trial it is told of.
        """
        self._earlier = {trial_id: list(points) for trial_id, points in reports.items()}

    def _enter_earlier(self) -> None:
        if not self._earlier or self._metric_op is None:
            return
        (bracket,) = self._brackets  # ASHAScheduler: one bracket (`brackets=1`)
        for trial_id, points in self._earlier.items():
            earlier = cast(Any, _TrialId(trial_id))  # the bracket reads `trial_id` alone
            for time, value in points:
                if math.isfinite(value):
                    bracket.on_result(earlier, time, self._metric_op * value)
        self._earlier = {}

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        self._enter_earlier()
        super().on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        self._enter_earlier()
        if self.budget is not None and self.budget.check(str(trial.trial_id), result):
            return TrialScheduler.STOP
        action = cast(str, super().on_trial_result(tune_controller, trial, result))
        reached = result.get(self._time_attr)
        if action == TrialScheduler.STOP and isinstance(reached, int | float) and reached < self._max_t:
            self.stops.add(trial.trial_id)
        return action


class PruningOptunaSearch(OptunaSearch):
    """Ray's OptunaSearch, except that a trial ended from outside is told to Optuna as PRUNED.

    What ended a trial is what Tune knows: the scheduler's STOP before `max_t` or the sweep's budget
    (both recorded in `stops`, a `StopRecord` shared with them). A trial that returned, errored or
    ran to `max_t` keeps Ray's own rules (COMPLETE with its value, FAIL, or PRUNED without a value).
    Nothing is read from keys a trainable may not know: the shared loop's `final_epoch=True` only
    upgrades a trial the scheduler stopped at what was its last epoch anyway to COMPLETE. A finished
    single-objective trial is worth its best reported epoch, as on the leaderboard. With
    `metric=[...]` (several objectives) every call is Ray's own.

    With a `budget` whose `ended` is true, `suggest` returns `Searcher.FINISHED`: no trial starts.
    """

    def __init__(self, *args: Any, stops: StopRecord | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stops = stops if stops is not None else StopRecord()
        self._budget: BudgetView | None = None

    def link(self, stops: StopRecord, budget: BudgetView | None = None) -> None:
        """Share the scheduler's (and the budget's) record of stops, and the budget, with this searcher."""
        self._stops = stops
        self._budget = budget

    @property
    def study(self) -> optuna.Study:
        """The Optuna study (set up by Ray's `OptunaSearch` once it has a space, metric and mode)."""
        study = self._ot_study
        if study is None:
            raise RuntimeError("the searcher has no study yet")
        return study

    def suggest(self, trial_id: str) -> dict | None:
        self._check_not_refused()
        if self._budget is not None and self._budget.ended and trial_id not in self._ot_trials:
            return Searcher.FINISHED  # type: ignore[return-value]  # Tune's sentinel string
        params = super().suggest(trial_id)
        ot_trial = self._ot_trials.get(trial_id)
        if ot_trial is not None:
            ot_trial.set_user_attr(RAY_TRIAL_ID_ATTR, trial_id)
        return params

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self._check_not_refused()
        self._note_latest(trial_id, result)
        try:
            super().on_trial_result(trial_id, result)
        except optuna.exceptions.UpdateFinishedTrialError:
            # The killed driver told the study this trial's end after the experiment state it resumed
            # from was saved; the resumed trial re-reports those epochs, which the study already has.
            logger.info(
                "trial %s: the study already holds its final value; epoch not recorded again", trial_id
            )

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self._check_not_refused()
        single = isinstance(self.metric, str)
        if not single or error or not result or trial_id in self._completed_trials:
            super().on_trial_complete(trial_id, result=result, error=error)
            return
        metric = cast(str, self.metric)
        self._record_last_result(trial_id, result)
        if trial_id in self._stops and not result.get(FINAL_EPOCH, False):
            ot_trial = self._ot_trials[trial_id]
            try:
                self.study.tell(ot_trial, state=optuna.trial.TrialState.PRUNED)
            except Exception as exc:  # a value Optuna refuses must not stop the sweep
                logger.warning("could not record trial %s as pruned: %s", trial_id, exc)
            self._completed_trials.add(trial_id)
            return
        if metric in result:
            result = {**result, metric: self._best_reported(trial_id, result.get(metric))}
        super().on_trial_complete(trial_id, result=result, error=error)

    def _record_last_result(self, trial_id: str, result: dict) -> None:
        """Record the result a scheduler stopped the trial at (ASHA's cut, or its `max_t`).

        Tune hands that result to `on_trial_complete` only, never to `on_trial_result`; without this a
        pruned trial would lose the score it was cut at, and a full one its last epoch.
        """
        ot_trial = self._ot_trials.get(trial_id)
        if ot_trial is None or self.metric not in result or TRAINING_ITERATION not in result:
            return
        reported = self.study._storage.get_trial(ot_trial._trial_id).intermediate_values
        if result[TRAINING_ITERATION] not in reported:
            self.on_trial_result(trial_id, result)
        else:
            self._note_latest(trial_id, result)

    def _note_latest(self, trial_id: str, result: dict) -> None:
        """Keep the trial's latest value of each step: a trial retried from an older checkpoint reports a
        step again, and Optuna keeps the first report of a step (the failed attempt's, which no
        checkpoint holds and `results` does not rank: `one_row_per_epoch`)."""
        if not isinstance(self.metric, str):  # several objectives: Optuna's own record stands
            return
        value, step = result.get(self.metric), result.get(TRAINING_ITERATION)
        if isinstance(value, (int, float)) and isinstance(step, int):
            latest: dict[str, dict[int, float]] = self.__dict__.setdefault("_latest", {})
            latest.setdefault(trial_id, {})[step] = float(value)

    def _best_reported(self, trial_id: str, last: float | None) -> float | None:
        """The trial's best value over its steps, each step's latest report counting (`_note_latest`)."""
        ot_trial = self._ot_trials.get(trial_id)
        reported = dict(
            self.study._storage.get_trial(ot_trial._trial_id).intermediate_values if ot_trial else {}
        )
        reported.update(self.__dict__.get("_latest", {}).get(trial_id, {}))
        finite = [v for v in reported.values() if math.isfinite(v)]
        if not finite:
            return last
        return max(finite) if self.mode == "max" else min(finite)

    def save(self, checkpoint_path: str) -> None:
        """Ray's pickle of the searcher, less the driver-only links (`StopRecord`, budget)."""
        state = {k: v for k, v in self.__dict__.items() if k not in _DRIVER_ONLY}
        with open(checkpoint_path, "wb") as output:
            pickle.dump(state, output)

    def restore(self, checkpoint_path: str) -> None:
        """Tune calls this on resume; trials asked for after the last saved state are failed.

        The links to the driver's `StopRecord` and budget made before the restore are kept.
        """
        links = {k: v for k, v in self.__dict__.items() if k in _DRIVER_ONLY}
        super().restore(checkpoint_path)
        self.__dict__.update(links)
        for key in _DRIVER_ONLY:  # a searcher saved by Ray's own save, or by an older seqsweep
            self.__dict__.setdefault(key, StopRecord() if key == "_stops" else None)
        refusal = self._not_own_study(restoring_experiment_dir(Path(checkpoint_path).parent))
        if refusal is not None:
            # Not raised here: Tune logs an error raised while it restores and starts the experiment
            # afresh (it then hung, or died on a trial id). The study is left untouched and the first
            # call that would write to it raises (`_check_not_refused`).
            self.__dict__["_refusal"] = refusal
            logger.error("%s", refusal)
            return
        failed = self.fail_orphans()
        if failed:
            logger.info(
                "resume: %d study trials started after the last saved state were marked failed", failed
            )

    def _not_own_study(self, experiment_dir: Path) -> str | None:
        """The line refusing a restored searcher whose study is another folder's, else None.

        Another folder's: `experiment_dir` was made elsewhere (its recorded folder, whatever storage the
        study is in), or it holds its own `optuna.db` while the study is another folder's. A copy
        restored with `Tuner.restore(COPY).fit()` would write its trials into the original's study (and
        fail the original's running study trials as orphans), an RDB study's as much as a local one's.
        """
        storage = getattr(self.study._storage, "_backend", self.study._storage)  # Optuna's _CachedStorage
        url = str(getattr(storage, "url", ""))
        original = moved_from(experiment_dir)
        study_file = sqlite_study_file(url)
        own = experiment_dir / STUDY_DB
        if original is None and study_file is not None and study_file.name == STUDY_DB and own.is_file():
            original = study_file.parent if study_file.resolve() != own.resolve() else None
        if original is None:
            return None
        return (
            f"{experiment_dir} was copied or moved from {original}: its searcher's Optuna study "
            f"{self.study.study_name!r} in {_masked(url)} is that experiment's, so trials run here would "
            f"be written there; resume the original where it was made, or start a new sweep with "
            f"`warm_start: {experiment_dir}`"
        )

    def _check_not_refused(self) -> None:
        """ConfigError (the restore's line) before a refused restore's searcher writes to the study."""
        refusal = self.__dict__.get("_refusal")
        if refusal:
            raise ConfigError(refusal)

    def fail_orphans(self) -> int:
        """After a killed driver: fail study trials left RUNNING that no Tune trial owns any more."""
        owned = {t.number for t in self._ot_trials.values()}
        orphans = [
            t
            for t in self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
            if t.number not in owned
        ]
        for trial in orphans:
            self.study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
        return len(orphans)


def restoring_experiment_dir(default: Path) -> Path:
    """The local experiment folder Ray Tune is restoring, else `default`.

    Tune hands a restored searcher its state from the driver's staging folder in Ray's session
    (`/tmp/ray/session_*/artifacts/.../driver_artifacts`), not from the experiment folder; only the
    `TuneController` restoring it (a caller up the stack) knows the folder `Tuner.restore(DIR)` named.
    """
    import inspect

    from ray.tune.execution.tune_controller import TuneController

    frame = inspect.currentframe()
    try:
        while frame is not None:
            owner = frame.f_locals.get("self")
            if isinstance(owner, TuneController):
                storage = owner._storage
                if storage is not None and storage.storage_filesystem.type_name == "local":
                    return Path(storage.experiment_fs_path)
                return default
            frame = frame.f_back
    finally:
        del frame
    return default


def study_storage_url(spec: SweepSpec, experiment_dir: str) -> str:
    """`search.storage`, else the SQLite file `optuna.db` in the experiment directory. ConfigError for a
    storage whose password holds an unescaped `@` (`db_url.check_unescaped_at`)."""
    if spec.file.search.storage:
        check_unescaped_at(spec.file.search.storage)
    return spec.file.search.storage or study_db_url(experiment_dir)


def _masked(url: str) -> str:
    return mask(url)


def _existing_storage(url: str) -> optuna.storages.RDBStorage | None:
    """The study storage at `url` if it already holds Optuna's tables; creates nothing (no file, no table)."""
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except Exception:
        raise ConfigError(f"search.storage: {_masked(url)} is not a database URL") from None
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
            f"search.storage: cannot open the study storage {_masked(url)} ({type(exc).__name__}: {reason})"
        ) from None


def _check_sqlite_folder(url: str, database: str) -> None:
    """ConfigError (one line) when a SQLite study file cannot be made where `search.storage` puts it (a part
    of the path is a file, or under /proc): refused with the other storage checks, before the dataset is
    built, where Optuna's "unable to open database file" came after it."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    reason = unmakeable_folder(Path(database).expanduser().resolve().parent)
    if reason is not None:
        raise ConfigError(f"search.storage: cannot make the study storage {_masked(url)}: {reason}")


def _study_owner(storage: optuna.storages.RDBStorage, study_name: str) -> tuple[bool, dict[str, Any], int]:
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
                f"search.storage: cannot use the study storage {_masked(url)} ({type(cause).__name__}: {reason})"
            ) from None
        raise ConfigError(
            f"search.storage: the study name {study_name!r} cannot be stored in {_masked(url)} "
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
    storage = _existing_storage(url)
    exists, attrs, n_trials = _study_owner(storage, study_name) if storage is not None else (False, {}, 0)
    where = f"study {study_name!r} in {_masked(url)}"
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
    raise ConfigError(_clash(_clash_where(study_name, stored, url), attrs, n_trials, resuming))


def _stored_study_name(storage: optuna.storages.RDBStorage, study_name: str) -> str:
    """The name of the stored study that `study_name` finds, as the storage spells it: MariaDB's default
    collation finds `CaseS` (or `casés`) for `cases`, comparing names ignoring case and accents."""
    with _storing_name(storage.url, study_name):
        return storage.get_study_name_from_id(storage.get_study_id_from_name(study_name))


def _clash_where(study_name: str, stored: str, url: str) -> str:
    """The subject of a refused study's line: the sweep's study, and the stored study it matched when
    that is spelt otherwise (the line named only the new sweep's name, as if that study existed)."""
    where = f"study {study_name!r} in {_masked(url)}"
    if stored == study_name:
        return where
    return (
        f"{where} matches the stored study {stored!r} (the database compares study names ignoring case "
        f"and accents), which"
    )


def _clash(where: str, attrs: dict[str, Any], n_trials: int, resuming: bool) -> str:
    if attrs.get(OWNER_ATTR) is None:
        whose = f"holds {counted(n_trials, 'trial')} of another sweep (a study no experiment owns)"
    else:
        whose = f"belongs to the experiment {attrs.get(OWNER_DIR_ATTR) or '(unknown directory)'}"
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
                    _clash(_clash_where(spec.name, stored, url), study.user_attrs, len(study.trials), False)
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
    "cannot use the study storage"; a sweep checking the storage meanwhile (`_existing_storage`) met the
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
            f"study {study.study_name!r} in {_masked(url)} holds {counted(len(study.trials), 'trial')} made for mode "
            f"{_direction_mode(study.direction)}, and this sweep's mode is {_direction_mode(direction)}: "
            f"give this sweep another `name`; nothing was written"
        )
    optuna.delete_study(study_name=study.study_name, storage=storage)
    return optuna.create_study(study_name=study.study_name, storage=storage, direction=direction)


def abandon_study(url: str, study_name: str, experiment_id: str) -> None:
    """Delete the study `claim_study` made for a start that was then refused before any trial ran, if
    it is still that experiment's and holds no trial; anything else is left as it is."""
    storage = _existing_storage(url)
    if storage is None:
        return
    exists, attrs, n_trials = _study_owner(storage, study_name)
    if exists and attrs.get(OWNER_ATTR) == experiment_id and n_trials == 0:
        optuna.delete_study(study_name=study_name, storage=storage)


def make_sampler(spec: SweepSpec) -> optuna.samplers.BaseSampler:
    """Optuna's sampler for the sweep's `search.algorithm` (`seqsweep.tuning.registry.SAMPLERS`)."""
    return SAMPLERS[spec.file.search.algorithm](spec)


_DRIVER_ONLY = ("_stops", "_budget", "_refusal")
"""Searcher attributes that link to driver-side objects (or hold a refused restore's line, which
`suggest` raises) and are never pickled with it."""


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


def record_recovered_epochs(
    storage_url: str, study_name: str, resumed: Sequence[ResumedTrial], metric: str
) -> int:
    """Give the study the epochs a resume recovered from checkpoints alone; how many values were added.

    A driver killed after a trial wrote an epoch's checkpoint but before Tune sent that epoch's result
    on left the study without it; `reconcile_for_resume` adds the epoch's row to the trial's history,
    and the trial goes on after it, so no later report brings it. The study's trial (still RUNNING,
    found by its Ray trial id) gets that value at that step, as Ray's `OptunaSearch.on_trial_result`
    reports it (`trial.report(value, training_iteration)`): TPE's pruned-trial history and the
    importances then read what the leaderboard reads.
    """
    wanted = [r for r in resumed if r.rows]
    if not wanted:
        return 0
    storage = optuna.storages.RDBStorage(storage_url)
    added = 0
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
        trials = {t.user_attrs.get(RAY_TRIAL_ID_ATTR): t for t in study.get_trials(deepcopy=False)}
        for resumed_trial in wanted:
            trial = trials.get(resumed_trial.trial_id)
            if trial is None or trial.state != optuna.trial.TrialState.RUNNING:
                continue
            for row in resumed_trial.rows:
                step, value = row.get(TRAINING_ITERATION), row.get(metric)
                if (
                    not isinstance(step, int)
                    or not isinstance(value, int | float)
                    or step in trial.intermediate_values
                ):
                    continue
                if not math.isfinite(float(value)):
                    continue
                storage.set_trial_intermediate_value(trial._trial_id, step, float(value))
                added += 1
    except KeyError:  # no such study (made elsewhere, deleted): nothing to give it
        return 0
    finally:
        storage.engine.dispose()
    return added


def make_searcher(spec: SweepSpec, experiment_dir: str) -> PruningOptunaSearch:
    storage = MaskedRDBStorage(study_storage_url(spec, experiment_dir))
    space: Any = {name: p.to_optuna() for name, p in spec.searched.items()}
    if spec.families:  # define-by-run: the family first, then only that family's parameters
        space = FamilySpace(spec.families, spec.searched)
    searcher = PruningOptunaSearch(
        space=space,
        metric=spec.file.search.metric,
        mode=spec.file.search.mode,
        sampler=make_sampler(spec),
        study_name=spec.name,
        storage=storage,
    )
    return searcher


def make_scheduler(
    spec: SweepSpec, stops: StopRecord | None = None, budget: BudgetView | None = None
) -> TrialScheduler:
    """Tune's scheduler for `scheduler.type` (`seqsweep.tuning.registry.SCHEDULERS`): FIFO, or ASHA
    recording its cuts in `stops` (shared with the searcher); either stops every trial at its next
    report once `budget` has ended."""
    return SCHEDULERS[spec.file.scheduler.type](spec, stops, budget)


def _earlier_sweep(directory: Path) -> dict[str, Any] | None:
    """The earlier experiment's stored `sweep.yaml` as a mapping; None without a readable one."""
    try:
        raw = yaml.safe_load((directory / SWEEP_COPY).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return raw if isinstance(raw, dict) else None


def _fill_warm_start_password(earlier_experiment: str, stored: str) -> str:
    """The earlier study storage's URL with its hidden (`***`) password taken back from
    $SEQSWEEP_STUDY_URL (`fill_from_same_storage`); ConfigError naming `warm_start` without it, or when the
    variable names another storage. The password never appears in a message."""
    try:
        return fill_from_same_storage(stored, STUDY_URL_ENV)
    except ConfigError as exc:
        raise ConfigError(f"warm_start: {earlier_experiment}: {exc}") from None


def earlier_study(earlier_experiment: str) -> tuple[str | None, str]:
    """(study name, storage URL) of an earlier experiment, where its `sweep.yaml` says the study lives.

    Without a readable `sweep.yaml` the study is looked for in the directory's `optuna.db`. A storage
    stored with its password hidden (`***`) gets it back from $SEQSWEEP_STUDY_URL (ConfigError
    without it): the returned URL may then hold the password and must only be shown through `mask`.
    """
    directory = earlier_experiment_dir(earlier_experiment)
    raw = _earlier_sweep(directory)
    if raw is not None and raw.get("name"):
        search = raw.get("search")
        storage = (search.get("storage") if isinstance(search, dict) else None) or study_db_url(
            directory.resolve()
        )
        return str(raw["name"]), _fill_warm_start_password(earlier_experiment, str(storage))
    return None, study_db_url(directory.resolve())


def earlier_metric(earlier_experiment: str) -> str | None:
    """The `search.metric` the earlier experiment ranked its trials by (its stored `sweep.yaml`);
    None when that file is missing or unreadable."""
    raw = _earlier_sweep(earlier_experiment_dir(earlier_experiment))
    if raw is None or not raw.get("name"):
        return None
    search = raw.get("search")
    metric = search.get("metric") if isinstance(search, dict) else None
    return str(metric) if metric else DEFAULT_METRIC


def _check_earlier_owner(earlier_experiment: str, study_name: str, url: str, attrs: dict[str, Any]) -> None:
    """Refuse a study that no longer belongs to the earlier experiment (deleted, and its name reused).

    A study and an experiment both without an identity (made before studies had owners) pass.
    """
    owner, ours = attrs.get(OWNER_ATTR), read_experiment_id(Path(earlier_experiment).expanduser())
    if owner == ours:
        return
    if owner is None:
        whose = "is no longer the earlier experiment's (a study no experiment owns has its name)"
    else:
        whose = (
            f"now belongs to another experiment ({attrs.get(OWNER_DIR_ATTR) or 'in an unknown directory'})"
        )
    raise ConfigError(
        f"warm_start: {earlier_experiment}: study {study_name!r} in {_masked(url)} {whose}; "
        f"its trials are not the earlier experiment's, nothing was seeded"
    )


def _direction_mode(direction: optuna.study.StudyDirection) -> str:
    return "max" if direction == optuna.study.StudyDirection.MAXIMIZE else "min"


def _check_same_objective(
    earlier_experiment: str, earlier: tuple[str | None, str], metric: str | None, mode: str | None
) -> None:
    """Refuse seeding a sweep with values of another metric or of the opposite direction."""
    earlier_metric_, earlier_mode = earlier
    metric_differs = metric is not None and earlier_metric_ is not None and metric != earlier_metric_
    mode_differs = mode is not None and mode != earlier_mode
    if not (metric_differs or mode_differs):
        return
    raise ConfigError(
        f"warm_start: {earlier_experiment} ranked its trials by {earlier_metric_ or '(unknown metric)'} "
        f"({earlier_mode}), this sweep by {metric or '(unknown metric)'} ({mode or earlier_mode}): its "
        f"values cannot seed this search; warm start from an experiment with the same metric and mode"
    )


def check_warm_start(
    earlier_experiment: str, *, metric: str | None = None, mode: str | None = None
) -> tuple[str | None, str, optuna.storages.RDBStorage]:
    """(study name, storage URL, storage) of the earlier experiment's study; ConfigError if it has none,
    if that study now belongs to another experiment, or (given this sweep's `metric` and `mode`) if the
    earlier experiment ranked its trials by another metric or in the other direction.

    The returned URL may hold the storage's password: show it only through `mask`.
    """
    study_name, url = earlier_study(earlier_experiment)
    try:
        storage = _existing_storage(url)
    except ConfigError as exc:
        reason = scrub(str(exc), url).removeprefix("search.storage: ")
        raise ConfigError(f"warm_start: {earlier_experiment}: {reason}") from None
    if storage is not None and study_name is None:
        study_name = _only_study(earlier_experiment, storage, url)
    exists, attrs = False, cast(dict[str, Any], {})
    if storage is not None and study_name is not None:
        exists, attrs, _ = _study_owner(storage, study_name)
    if storage is None or study_name is None or not exists:
        raise ConfigError(
            f"warm_start: {earlier_experiment} has no study {study_name or ''!s} in {_masked(url)}; "
            f"name an earlier experiment directory"
        )
    _check_earlier_owner(earlier_experiment, study_name, url, attrs)
    if metric is not None or mode is not None:
        direction = storage.get_study_directions(storage.get_study_id_from_name(study_name))[0]
        _check_same_objective(
            earlier_experiment,
            (earlier_metric(earlier_experiment), _direction_mode(direction)),
            metric,
            mode,
        )
    return study_name, url, storage


def _only_study(earlier_experiment: str, storage: optuna.storages.RDBStorage, url: str) -> str | None:
    """The name of the one study in an earlier experiment's `optuna.db` when no `sweep.yaml` says which
    is its own; None when it holds none; ConfigError when it holds several."""
    names = [summary.study_name for summary in storage.get_all_studies()]
    if len(names) > 1:
        raise ConfigError(
            f"warm_start: {earlier_experiment} has no sweep.yaml to say which of the {len(names)} studies "
            f"in {_masked(url)} is its own ({', '.join(sorted(names)[:4])}); put its sweep.yaml back"
        )
    return names[0] if names else None


def warm_start_points(searcher: PruningOptunaSearch, earlier_experiment: str, metric: str) -> int:
    """Feed an earlier sweep's finished trials (from its Optuna study) to `searcher`; returns how many.

    Refuses (ConfigError) a study that now belongs to another experiment, and an earlier experiment
    whose metric differs from `metric` or whose direction differs from the searcher's mode.
    """
    mode = getattr(searcher, "_mode", None)
    study_name, _url, storage = check_warm_start(earlier_experiment, metric=metric, mode=mode)
    earlier = optuna.load_study(study_name=study_name, storage=storage)
    added = 0
    space = cast(dict[str, Any], searcher._space)
    for trial in earlier.get_trials(deepcopy=False):
        finished = trial.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        if not finished or not _in_space(trial.params, space):
            continue
        value = trial.value if trial.value is not None else _last_intermediate(trial)
        if value is None:
            continue
        searcher.add_evaluated_point(
            trial.params,
            value,
            pruned=trial.state == optuna.trial.TrialState.PRUNED,
            intermediate_values=[trial.intermediate_values[k] for k in sorted(trial.intermediate_values)],
        )
        added += 1
    return added


def warm_start_tally(earlier_experiment: str) -> tuple[int, int]:
    """(finished, copied) trials of the earlier experiment's study: all its COMPLETE and PRUNED ones, and
    those of them that are not its own but points its own `warm_start` copied in from an experiment
    before it (they have no Ray trial id): a chain of warm starts passes them on, and `run` says so."""
    study_name, _url, storage = check_warm_start(earlier_experiment)
    study_id = storage.get_study_id_from_name(cast(str, study_name))
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    trials = storage.get_all_trials(study_id, deepcopy=False, states=finished)
    return len(trials), sum(RAY_TRIAL_ID_ATTR not in t.user_attrs for t in trials)


def _in_space(params: dict[str, Any], space: dict[str, Any]) -> bool:
    """Whether an earlier trial's `params` is a point of `space` (Optuna distributions by name): the same
    names, each value inside its distribution; a `choice` value the space lacks is outside, where Optuna's
    `CategoricalDistribution.to_internal_repr` raises ValueError."""
    if set(params) != set(space):
        return False
    try:
        return all(space[k]._contains(space[k].to_internal_repr(v)) for k, v in params.items())
    except (ValueError, TypeError):
        return False


def _last_intermediate(trial: optuna.trial.FrozenTrial) -> float | None:
    if not trial.intermediate_values:
        return None
    return trial.intermediate_values[max(trial.intermediate_values)]
