"""Searchers and schedulers for a sweep: Optuna (TPE, random or grid) through Ray Tune, plus ASHA.

Every algorithm runs through Optuna so that each sweep has a study in a real storage that
`optuna-dashboard` and `optuna.load_study` can read while it runs and after.

`PruningOptunaSearch` mends one gap in Ray's `OptunaSearch`: a trial that ASHA stops early reaches
Optuna as PRUNED (with its intermediate values), not as COMPLETE with a partial score, so TPE does
not treat a two-epoch score as a finished one.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import optuna
from ray.tune.result import TRAINING_ITERATION
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler
from ray.tune.search.optuna import OptunaSearch

from seqsweep.constants import FINAL_EPOCH
from seqsweep.errors import ConfigError
from seqsweep.search_spaces.params import Choice
from seqsweep.search_spaces.sweep import SweepSpec

logger = logging.getLogger(__name__)

STUDY_DB = "optuna.db"
RAY_TRIAL_ID_ATTR = "ray_trial_id"


class PruningOptunaSearch(OptunaSearch):
    """Ray's OptunaSearch, except that a trial ended from outside is told to Optuna as PRUNED.

    The trial loop marks its last report with `final_epoch=True`; a trial that completes without
    error and without that mark was stopped by the scheduler.
    """

    def suggest(self, trial_id: str) -> dict | None:
        params = super().suggest(trial_id)
        ot_trial = self._ot_trials.get(trial_id)
        if ot_trial is not None:
            ot_trial.set_user_attr(RAY_TRIAL_ID_ATTR, trial_id)
        return params

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        try:
            super().on_trial_result(trial_id, result)
        except optuna.exceptions.UpdateFinishedTrialError:
            # The killed driver told the study this trial's end after the experiment state it resumed
            # from was saved; the resumed trial re-reports those epochs, which the study already has.
            logger.info(
                "trial %s: the study already holds its final value; epoch not recorded again", trial_id
            )

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if result and not error:
            self._record_last_result(trial_id, result)
        stopped_early = bool(result) and not error and not result.get(FINAL_EPOCH, False)
        if not stopped_early or trial_id in self._completed_trials:
            if result and not error:
                # A finished trial is worth its best epoch (its kept checkpoint), as on the leaderboard.
                result = {**result, self.metric: self._best_reported(trial_id, result.get(self.metric))}
            super().on_trial_complete(trial_id, result=result, error=error)
            return
        ot_trial = self._ot_trials[trial_id]
        try:
            self._ot_study.tell(ot_trial, state=optuna.trial.TrialState.PRUNED)
        except Exception as exc:  # a value Optuna refuses must not stop the sweep
            logger.warning("could not record trial %s as pruned: %s", trial_id, exc)
        self._completed_trials.add(trial_id)

    def _record_last_result(self, trial_id: str, result: dict) -> None:
        """Record the result a scheduler stopped the trial at (ASHA's cut, or its `max_t`).

        Tune hands that result to `on_trial_complete` only, never to `on_trial_result`; without this a
        pruned trial would lose the score it was cut at, and a full one its last epoch.
        """
        ot_trial = self._ot_trials.get(trial_id)
        if ot_trial is None or self.metric not in result or TRAINING_ITERATION not in result:
            return
        reported = self._ot_study._storage.get_trial(ot_trial._trial_id).intermediate_values
        if result[TRAINING_ITERATION] not in reported:
            self.on_trial_result(trial_id, result)

    def _best_reported(self, trial_id: str, last: float | None) -> float | None:
        ot_trial = self._ot_trials.get(trial_id)
        reported = (
            self._ot_study._storage.get_trial(ot_trial._trial_id).intermediate_values if ot_trial else {}
        )
        finite = [v for v in reported.values() if math.isfinite(v)]
        if not finite:
            return last
        return max(finite) if self.mode == "max" else min(finite)

    def restore(self, checkpoint_path: str) -> None:
        """Tune calls this on resume; trials asked for after the last saved state are failed."""
        super().restore(checkpoint_path)
        failed = self.fail_orphans()
        if failed:
            logger.info(
                "resume: %d study trials started after the last saved state were marked failed", failed
            )

    def fail_orphans(self) -> int:
        """After a killed driver: fail study trials left RUNNING that no Tune trial owns any more."""
        owned = {t.number for t in self._ot_trials.values()}
        orphans = [
            t
            for t in self._ot_study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
            if t.number not in owned
        ]
        for trial in orphans:
            self._ot_study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
        return len(orphans)


def study_storage_url(spec: SweepSpec, experiment_dir: str) -> str:
    return spec.file.search.storage or f"sqlite:///{experiment_dir}/{STUDY_DB}"


def make_sampler(spec: SweepSpec) -> optuna.samplers.BaseSampler:
    s = spec.file.search
    if s.algorithm == "random":
        return optuna.samplers.RandomSampler(seed=s.seed)
    if s.algorithm == "grid":
        grid = {name: list(p.values) for name, p in spec.searched.items() if isinstance(p, Choice)}
        return optuna.samplers.GridSampler(grid, seed=s.seed)
    startup = max(s.n_startup_trials if s.n_startup_trials is not None else 10, s.max_concurrent)
    return optuna.samplers.TPESampler(seed=s.seed, n_startup_trials=startup, multivariate=True)


def make_searcher(spec: SweepSpec, experiment_dir: str) -> PruningOptunaSearch:
    storage = optuna.storages.RDBStorage(study_storage_url(spec, experiment_dir))
    space = {name: p.to_optuna() for name, p in spec.searched.items()}
    searcher = PruningOptunaSearch(
        space=space,
        metric=spec.file.search.metric,
        mode=spec.file.search.mode,
        sampler=make_sampler(spec),
        study_name=spec.name,
        storage=storage,
    )
    return searcher


def make_scheduler(spec: SweepSpec) -> TrialScheduler:
    sched = spec.file.scheduler
    if sched.type == "none":
        return FIFOScheduler()
    return ASHAScheduler(
        time_attr="training_iteration",
        max_t=sched.max_t or spec.max_epochs,
        grace_period=sched.grace_period,
        reduction_factor=sched.reduction_factor,
    )


def warm_start_points(searcher: PruningOptunaSearch, earlier_experiment: str, metric: str) -> int:
    """Feed an earlier sweep's finished trials (from its Optuna study) to `searcher`; returns how many."""
    db = Path(earlier_experiment) / STUDY_DB
    if not db.exists():
        raise ConfigError(
            f"warm_start: {earlier_experiment} has no {STUDY_DB}; name an earlier experiment directory"
        )
    earlier = optuna.load_study(study_name=None, storage=f"sqlite:///{db}")
    added = 0
    space: dict[str, Any] = searcher._space
    for trial in earlier.get_trials(deepcopy=False):
        finished = trial.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        if not finished or set(trial.params) != set(space):
            continue
        if not all(space[k]._contains(space[k].to_internal_repr(v)) for k, v in trial.params.items()):
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


def _last_intermediate(trial: optuna.trial.FrozenTrial) -> float | None:
    if not trial.intermediate_values:
        return None
    return trial.intermediate_values[max(trial.intermediate_values)]
