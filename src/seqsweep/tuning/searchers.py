"""Searchers and schedulers for a sweep: Optuna (TPE, random or grid) through Ray Tune, plus ASHA.

Every algorithm runs through Optuna so that each sweep has a study in a real storage that
`optuna-dashboard` and `optuna.load_study` can read while it runs and after.

`PruningOptunaSearch` mends one gap in Ray's `OptunaSearch`: a trial that ASHA (or the sweep's budget)
stops early reaches Optuna as PRUNED (with its intermediate values), not as COMPLETE with a partial
score, so TPE does not treat a two-epoch score as a finished one. What stopped a trial is what Tune
decided (`StopRecord`), never a key the trainable must report; everything else keeps Ray's contract
(`tests/tuning/test_searcher_contract.py`).

The study's storage and its owner are `study_owner`'s; a warm start's earlier study is `warm_start`'s.
"""

from __future__ import annotations

import logging
import math
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import optuna
from ray.tune.result import TRAINING_ITERATION
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from seqsweep.constants import FINAL_EPOCH
from seqsweep.db_url import mask
from seqsweep.errors import ConfigError
from seqsweep.layout import (
    STUDY_DB,
    moved_from,
)
from seqsweep.search_spaces.mixed import FamilySpace
from seqsweep.search_spaces.sweep import SweepSpec
from seqsweep.tuning.registry import SAMPLERS, SCHEDULERS

# A searcher pickled before `MaskedRDBStorage` moved to `study_owner` (`tuner.pkl`, `searcher-state-*.pkl`)
# names its storage `seqsweep.tuning.searchers.MaskedRDBStorage`: this import keeps that name resolving.
from seqsweep.tuning.study_owner import (
    RAY_TRIAL_ID_ATTR,
    MaskedRDBStorage,
    sqlite_study_file,
    study_storage_url,
)

if TYPE_CHECKING:
    from seqsweep.tuning.experiment_state import ResumedTrial

logger = logging.getLogger(__name__)

_DRIVER_ONLY = ("_stops", "_budget", "_refusal")
"""Searcher attributes that link to driver-side objects (or hold a refused restore's line, which
`suggest` raises) and are never pickled with it."""


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
            f"{self.study.study_name!r} in {mask(url)} is that experiment's, so trials run here would "
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


def make_sampler(spec: SweepSpec) -> optuna.samplers.BaseSampler:
    """Optuna's sampler for the sweep's `search.algorithm` (`seqsweep.tuning.registry.SAMPLERS`)."""
    return SAMPLERS[spec.file.search.algorithm](spec)


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
