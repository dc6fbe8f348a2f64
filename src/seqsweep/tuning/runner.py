"""Run a validated sweep on Ray Tune, or resume one whose driver died.

The dataset is built (or read from the cache on the storage path) once in the driver and handed to
every trial through `tune.with_parameters`, which puts it in Ray's object store once; trials on a
node read the same shared-memory copy.

SIGINT (Ctrl-C) and SIGTERM end a sweep the way Tune ends one on Ctrl-C (trials stopped, the state
saved for `resume`), but are recorded: the outcome says the sweep was interrupted (exit 130 / 143),
and no checkpoint is pruned. A second signal stops at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import shutil
import uuid
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ray import tune

from seqsweep._fs import atomic_write_json, signals_held, unmakeable_folder
from seqsweep.cluster.session import (
    check_address,
    check_trial_fits,
    ray_session,
)
from seqsweep.cluster.storage import check_shared_storage
from seqsweep.db_url import absolute_sqlite
from seqsweep.db_url import resolve as resolve_db_url
from seqsweep.errors import ConfigError, DataError
from seqsweep.layout import (
    EXPERIMENT_ID_FILE,
    SEARCH_STATE_GLOB,
    SWEEP_COPY,
    TRAIN_SCRATCH,
    TUNER_FILE,
    dataset_cache_dir,
    experiments_hint,
    is_started_experiment,
    moved_from,
    not_a_folder,
    read_experiment_id,
    reseed_origin,
)
from seqsweep.search_spaces.credentials import replace_db, replace_storage, with_database, without_password
from seqsweep.search_spaces.run_rules import RunRuleError
from seqsweep.search_spaces.sweep import SweepSpec, load_sweep
from seqsweep.tuning.budget import SweepBudget
from seqsweep.tuning.dataset_record import check_resumed_dataset, check_same_dataset, record_dataset_key
from seqsweep.tuning.experiment_lock import experiment_lock, new_folder
from seqsweep.tuning.experiment_state import (
    earlier_reports,
    reconcile_for_resume,
)
from seqsweep.tuning.outcome import SweepOutcome, finish_sweep
from seqsweep.tuning.progress import SweepProgress
from seqsweep.tuning.searchers import (
    PruningOptunaSearch,
    RecordingASHAScheduler,
    StopRecord,
    make_scheduler,
    make_searcher,
    record_recovered_epochs,
)
from seqsweep.tuning.stop_signals import EXPERIMENT_STATE_PERIOD_S, SweepInterrupted, stop_signals
from seqsweep.tuning.study_owner import abandon_study, check_study_owner, claim_study, study_storage_url
from seqsweep.tuning.sweep_changes import sweep_differences, warm_start_differences, warm_start_note
from seqsweep.tuning.sweep_copy import check_sweep_copy, write_sweep_copy
from seqsweep.tuning.trial_ids import indexed_search, inner_searcher
from seqsweep.tuning.warm_start import check_warm_start, warm_start_points, warm_start_tally

if TYPE_CHECKING:
    from seqsweep.data.build import KeyCheck

logger = logging.getLogger(__name__)

DATA_PARALLEL_TRIAL_RESOURCES = {"cpu": 0.0, "memory": 1.0}
"""A data-parallel trial only relays reports; its Train workers hold the CPUs and GPUs. Tune refuses
an empty request, so the trial asks for one byte of memory."""


def storage_root(spec: SweepSpec, storage: str | None = None) -> str:
    """The storage path as Ray wants it: an absolute local path, or a URI left as it is."""
    root = storage or spec.file.storage_path
    return root if "://" in root else str(Path(root).expanduser().resolve())


def check_storage_root(root: Path) -> None:
    """ConfigError (one line) when the storage path, or the nearest part of it that exists, is a file or
    cannot be written (`_fs.unmakeable_folder`; a path under /proc passed `os.access` as root and ended in
    exit 3 after the build): refused before Ray starts and the dataset builds (it ended in exit 3 then).
    Nothing is left here, so a start refused later (another experiment's study) leaves nothing behind."""
    reason = unmakeable_folder(root)
    if reason is not None:
        raise ConfigError(f"storage_path (--storage) {root}: {reason}")


def with_resolved_database(spec: SweepSpec) -> SweepSpec:
    """`spec` with the database it will read written into `dataset.db` when the file names none
    ($SEQSWEEP_DB_URL, else the generated sample): the experiment's `sweep.yaml` then says where its
    rows came from, and `export` / `predict` read that database, not whatever the environment gives
    later (a new shell without the variable would predict from the sample). A relative SQLite path is made
    absolute (`db_url.absolute_sqlite`), or `predict` would read whichever file of that name is in its
    folder; so is a relative SQLite `search.storage`, or `resume` and `results` from another folder
    would find no study (or make an empty one). A password stays hidden in the copy (`without_password`).
    A sweep on `dataset.csv` reads no database: a relative `dataset.csv` is made absolute for the same
    reason (`predict` from another folder read whichever `candles.csv` was there), and so is a relative
    local `dataset.embedding_model` folder (`resume`, or `predict` of a symbol new to the bundle, from
    another folder found no model, or another one of that name)."""
    from seqsweep.data.features import absolute_model_path

    storage = spec.file.search.storage
    if storage and absolute_sqlite(storage) != storage:
        spec = replace_storage(spec, absolute_sqlite(storage))
    model = absolute_model_path(spec.file.dataset.embedding_model)
    if model != spec.file.dataset.embedding_model:
        local = dataclasses.replace(spec.file.dataset, embedding_model=model)
        spec = dataclasses.replace(spec, file=dataclasses.replace(spec.file, dataset=local))
    dataset = spec.file.dataset
    if dataset.csv is not None:
        csv = os.path.abspath(os.path.expanduser(dataset.csv))
        if csv == dataset.csv:
            return spec
        absolute_csv = dataclasses.replace(dataset, csv=csv)
        return dataclasses.replace(spec, file=dataclasses.replace(spec.file, dataset=absolute_csv))
    absolute = absolute_sqlite(dataset.db if dataset.db is not None else resolve_db_url())
    return spec if absolute == dataset.db else replace_db(spec, absolute)


def run_sweep(
    spec: SweepSpec, *, address: str | None = None, storage: str | None = None, stream: IO[str] | None = None
) -> SweepOutcome:
    check_tune_environment()
    check_address(address)  # a wrong --address is refused before the sample database is generated
    spec = with_database(spec, None)  # a submitted sweep's driver finds the password on the head
    spec = with_resolved_database(spec)
    root = storage_root(spec, storage)
    if "://" in root:
        raise ConfigError(
            f"storage_path {root}: run from a URI needs its filesystem in Ray's pyarrow; use a local or NFS path"
        )
    check_storage_root(Path(root))
    experiment_dir = Path(root) / spec.name
    if is_started_experiment(experiment_dir):
        raise _already_started(experiment_dir, spec)
    # An experiment owns its study: another one's study (same name, same RDB) is refused before
    # anything is written. A start that failed half way left its identity; it may start again.
    experiment_id = read_experiment_id(experiment_dir) or uuid.uuid4().hex
    storage_url = study_storage_url(spec, str(experiment_dir))
    check_study_owner(storage_url, spec.name, experiment_id, experiment_dir)
    if spec.file.warm_start:
        check_warm_start(spec.file.warm_start, metric=spec.file.search.metric, mode=spec.file.search.mode)
    with ray_session(address, sigint_deaf_start=True):
        check_trial_fits(
            spec.file.resources,
            local=address in (None, "local"),
            gpu_fix="set resources.gpu: 0, or run it on a Ray cluster with GPUs (--address)",
        )
        check_shared_storage(root)
        bundle = _build_dataset(spec, root)
        created = new_folder(experiment_dir)
        with experiment_lock(experiment_dir):
            if is_started_experiment(experiment_dir):  # another run started it since the check above
                raise _already_started(experiment_dir, spec)
            experiment_id = read_experiment_id(experiment_dir) or experiment_id
            try:
                _write_experiment_id(experiment_dir, experiment_id)
                claim_study(storage_url, spec, experiment_id, experiment_dir)
                record_dataset_key(experiment_dir, bundle)
                tuner, budget = _prepare(spec, bundle, root, experiment_dir, stream)
            except (ConfigError, DataError):
                # refused before any trial (another start took the study meanwhile, a warm start's
                # study): leave nothing behind, or the next sweep of this name adopted what was left
                if created:
                    with contextlib.suppress(ConfigError):
                        abandon_study(storage_url, spec.name, experiment_id)
                    shutil.rmtree(experiment_dir, ignore_errors=True)
                raise
            return _fit(tuner, experiment_dir, spec, budget)


def _already_started(experiment_dir: Path, spec: SweepSpec) -> ConfigError:
    """The refusal of a `run` whose experiment folder holds a started experiment.

    `resume` continues an experiment as its own `sweep.yaml` says, whatever the sweep file became since:
    pointed to `resume` after editing the space (or the search, the dataset), a user continued the old
    sweep believing it was the new one. When the experiment was started from another sweep than this
    one, the line names what differs and sends the changed sweep to another `name` or folder instead."""
    changed = sweep_differences(experiment_dir / SWEEP_COPY, without_password(spec).to_yaml())
    if not changed:
        return ConfigError(
            f"experiment {experiment_dir} already exists: continue it with `seqsweep resume {experiment_dir}`, "
            f"or give `--storage` another folder (or the sweep another `name`)"
        )
    shown = ", ".join(changed[:4]) + (f" and {len(changed) - 4} more" if len(changed) > 4 else "")
    return ConfigError(
        f"experiment {experiment_dir} already exists, started from another sweep ({shown} differ from its "
        f"{SWEEP_COPY}): `seqsweep resume` would continue that sweep as it started, not this one; give this "
        f"sweep another `name`, or `--storage` another folder"
    )


def _prepare(
    spec: SweepSpec, bundle: Any, root: str, experiment_dir: Path, stream: IO[str] | None
) -> tuple[tune.Tuner, SweepBudget]:
    """The new experiment's searcher, scheduler and tuner (and the budget `_fit` reports on)."""
    with signals_held():  # a Ctrl-C here landed in a weakref callback: ignored, the sweep ran on
        write_sweep_copy(experiment_dir, without_password(spec).to_yaml())
        searcher = make_searcher(spec, str(experiment_dir))
        stops = StopRecord()
        budget = _make_budget(spec, stops)
        searcher.link(stops, budget)
        if spec.file.warm_start:
            added = warm_start_points(searcher, spec.file.warm_start, spec.file.search.metric)
            differences = warm_start_differences(
                spec, spec.file.warm_start, getattr(bundle, "cache_key", None), bundle
            )
            finished, copies = warm_start_tally(spec.file.warm_start)
            note = warm_start_note(added, spec.file.warm_start, differences, finished=finished, copies=copies)
            logger.info("%s", note)
        tuner = tune.Tuner(
            _trainable(spec, bundle, experiment_dir),
            tune_config=tune.TuneConfig(
                metric=spec.file.search.metric,
                mode=spec.file.search.mode,
                # trial ids carry their index, which keys each trial's seed (`seqsweep.tuning.trial_ids`)
                search_alg=indexed_search(searcher, spec.file.search.max_concurrent),
                scheduler=make_scheduler(spec, stops, budget),
                num_samples=spec.num_samples,
                # A trial process keeps its imported TensorFlow/torch for the next trial: seconds saved
                # per trial. Each trial still builds its model afresh and reseeds everything.
                reuse_actors=True,
            ),
            run_config=_run_config(spec, root, stream, budget),
        )
    return tuner, budget


def resume_sweep(
    experiment_dir: str | Path,
    *,
    address: str | None = None,
    db: str | None = None,
    stream: IO[str] | None = None,
    num_samples: int | None = None,
    time_budget_s: float | None = None,
) -> SweepOutcome:
    """Continue a stopped or finished sweep: finished trials stay, unfinished ones go on from their
    checkpoints, the Optuna study (and TPE's history) continues.

    `db` (or $SEQSWEEP_DB_URL) supplies the database URL when the stored one had a password, which
    the experiment directory never keeps. `num_samples` raises the sweep's trial count (never lowers
    it; not for a grid, whose size is fixed): the new trials are asked of the same study.
    `time_budget_s` replaces `search.time_budget_s`, counted over the sweep's whole elapsed time.
    Both are written into the experiment's `sweep.yaml`. Raises ConfigError (one line) on bad input.
    """
    check_tune_environment()
    experiment_dir = Path(experiment_dir).expanduser().resolve()
    problem = not_a_folder(experiment_dir, "experiment directory")
    if problem is not None:
        raise ConfigError(f"{experiment_dir}: {problem}")
    if not is_started_experiment(experiment_dir) or not (experiment_dir / SWEEP_COPY).exists():
        raise ConfigError(
            f"{experiment_dir} is not a seqsweep experiment directory (no {TUNER_FILE} / {SWEEP_COPY})"
            f"{experiments_hint(experiment_dir)}"
        )
    origin = reseed_origin(experiment_dir)
    if origin is not None:  # its study is the experiment's own, and a later --reseed trains what is missing
        raise ConfigError(
            f"{experiment_dir} is a run of `seqsweep results --reseed` of the experiment {origin}, which is "
            f"never resumed: the same `seqsweep results {origin} --reseed N` reuses its finished reruns and "
            f"trains the rest"
        )
    check_not_moved(experiment_dir)
    check_sweep_copy(experiment_dir)
    spec = with_database(load_stored_sweep(experiment_dir), db)
    spec = _resume_changes(spec, experiment_dir, num_samples, time_budget_s)
    root = str(experiment_dir.parent)
    experiment_id = read_experiment_id(experiment_dir)
    storage_url = study_storage_url(spec, str(experiment_dir))
    check_study_owner(storage_url, spec.name, experiment_id, experiment_dir, resuming=True)
    with ray_session(address, sigint_deaf_start=True):
        # as `run`: a sweep of GPU trials resumed where there is no GPU waited, PENDING, forever
        check_trial_fits(
            spec.file.resources,
            local=address in (None, "local"),
            gpu_fix="resume it on a Ray cluster with GPUs (--address)",
        )
        check_shared_storage(root)
        # rows that changed are refused once they are read, before a dataset is built for nothing
        bundle = _build_dataset(spec, root, check_key=partial(check_resumed_dataset, experiment_dir))
        with experiment_lock(experiment_dir):
            check_same_dataset(experiment_dir, bundle)
            if experiment_id is None:  # made before experiments owned their study: claim it now
                experiment_id = uuid.uuid4().hex
                _write_experiment_id(experiment_dir, experiment_id)
                claim_study(storage_url, spec, experiment_id, experiment_dir, unowned_is_ours=True)
            # Each unfinished trial goes on from its newest complete checkpoint, one row per epoch; the
            # study gets the epochs recovered from checkpoints alone, which Tune never reported to it.
            resumed = reconcile_for_resume(experiment_dir)
            record_recovered_epochs(storage_url, spec.name, resumed, spec.file.search.metric)
            if num_samples is not None or time_budget_s is not None:
                write_sweep_copy(experiment_dir, without_password(spec).to_yaml())
            # Tune's saved generator may say "finished" (a budget ended the last run) or aim at the old
            # count; reopen it so this run's budget and num_samples decide, not the last run's.
            reopen_search(experiment_dir, spec.num_samples)
            quiet_tune()
            tuner = tune.Tuner.restore(
                str(experiment_dir),
                trainable=_trainable(spec, bundle, experiment_dir),
                resume_unfinished=True,
                resume_errored=False,
                restart_errored=False,
            )
            budget = _relink_restored(tuner, spec, stream, experiment_dir)
            return _fit(tuner, experiment_dir, spec, budget)


def _fit(
    tuner: tune.Tuner, experiment_dir: Path, spec: SweepSpec, budget: SweepBudget | None
) -> SweepOutcome:
    """Run (or continue) the tuner under the stop-signal handler, then finish the sweep.

    A first SIGINT/SIGTERM lets Tune end the run and is reported by `finish_sweep`; a second one stops at
    once and raises `SweepInterrupted` naming the experiment.
    """
    with stop_signals(experiment_dir) as stop:
        try:
            grid = tuner.fit()
        except SweepInterrupted as exc:  # a second signal: stopped at once
            exc.experiment_dir = experiment_dir
            raise
    return finish_sweep(grid, experiment_dir, spec, stop.signum, budget)


def _resume_changes(
    spec: SweepSpec, experiment_dir: Path, num_samples: int | None, time_budget_s: float | None
) -> SweepSpec:
    """The stored sweep with `resume --num-samples` / `--time-budget-s` applied and checked."""
    search = spec.file.search
    if num_samples is not None:
        if search.algorithm == "grid":
            raise ConfigError(
                f"resume --num-samples: {spec.name} is a grid search of {spec.num_samples} points; "
                f"a grid's size is fixed (add values to a copy of the sweep instead)"
            )
        if num_samples < spec.num_samples:
            raise ConfigError(
                f"resume --num-samples: the sweep already has num_samples {spec.num_samples}; "
                f"give a larger number (it only raises the count), got {num_samples}"
            )
        search = dataclasses.replace(search, num_samples=num_samples)
    if time_budget_s is not None:
        if not 0 < time_budget_s < math.inf:
            raise ConfigError(f"resume --time-budget-s: must be > 0 seconds, got {time_budget_s:g}")
        search = dataclasses.replace(search, time_budget_s=float(time_budget_s))
    if search is spec.file.search:
        return spec
    return dataclasses.replace(spec, file=dataclasses.replace(spec.file, search=search))


def reopen_search(experiment_dir: Path, total: int) -> None:
    """Let Tune's restored search generator ask the searcher again, for up to `total` trials.

    Tune restores `SearchGenerator` from its newest saved state (`counter`, `total_samples`,
    `finished`), not from the tuner's `num_samples`. `finished` is set for good once the searcher
    answered `Searcher.FINISHED`, which `PruningOptunaSearch` does only when the sweep's budget has
    ended; kept, it would end every later resume at once, whatever new `--time-budget-s` or
    `--num-samples` it brought, with no line saying why. So on every resume `finished` is cleared and
    `total_samples` raised to `total` (never lowered) in every saved copy, whichever Tune picks: the
    searcher, linked to this run's budget (`_relink_restored`), decides again. A budget that is still
    spent (or a reached `stop_at` target) answers FINISHED at the first ask, and `finish_sweep` says so.
    """
    from ray.tune.utils.util import _atomic_save, _load_newest_checkpoint

    for path in sorted(experiment_dir.glob(SEARCH_STATE_GLOB)):
        state = _load_newest_checkpoint(str(experiment_dir), path.name)
        if not isinstance(state, dict) or "total_samples" not in state:
            continue
        state["total_samples"] = max(int(state["total_samples"]), total)
        state["finished"] = False
        _atomic_save(
            state=state,
            checkpoint_dir=str(experiment_dir),
            file_name=path.name,
            tmp_file_name=f"tmp-{path.name}",
        )


def _make_budget(spec: SweepSpec, stops: StopRecord) -> SweepBudget:
    search = spec.file.search
    return SweepBudget(search.time_budget_s, search.stop_at, stops)


def _relink_restored(
    tuner: tune.Tuner, spec: SweepSpec, stream: IO[str] | None, experiment_dir: Path
) -> SweepBudget:
    """Give a restored tuner this run's scheduler (ASHA with the earlier run's reports in its rungs),
    budget and progress line, linked to its searcher.

    Tune restores the searcher's own state and the callbacks' states (by their place in the list)
    from the experiment; the objects themselves are made afresh from the (possibly changed) sweep, so
    a resumed sweep keeps its budget and a raised `num_samples` shows in the progress line.
    """
    internal = getattr(tuner, "_local_tuner", None)
    tune_config = getattr(internal, "_tune_config", None)
    run_config = getattr(internal, "_run_config", None)
    stops = StopRecord()
    budget = _make_budget(spec, stops)
    if internal is None or tune_config is None or run_config is None:
        logger.warning("resume: this Ray's Tuner has no local tuner; budgets are not applied")
        return budget
    searcher = inner_searcher(tune_config.search_alg)
    if isinstance(searcher, PruningOptunaSearch):
        searcher.link(stops, budget)
    tune_config.scheduler = make_scheduler(spec, stops, budget)
    if isinstance(tune_config.scheduler, RecordingASHAScheduler):  # Ray does not save a scheduler's rungs
        tune_config.scheduler.record_earlier(earlier_reports(experiment_dir, spec.file.search.metric))
    tune_config.num_samples = spec.num_samples
    # Tune (2.60) cannot restore an experiment with no trial yet (a budget ended it before its first):
    # it starts the experiment afresh with `tune.run`'s default of 1 sample, since a restored tuner
    # passes no count. Handing it the sweep's count makes that fresh start aim at num_samples; a
    # restored generator keeps its saved count (`reopen_search`).
    tuner_kwargs = getattr(internal, "_tuner_kwargs", None)
    if isinstance(tuner_kwargs, dict):
        tuner_kwargs["num_samples"] = spec.num_samples
    run_config.callbacks = _run_config(spec, str(run_config.storage_path), stream, budget).callbacks
    return budget


def load_stored_sweep(experiment_dir: Path) -> SweepSpec:
    """The sweep an experiment stored (`DIR/sweep.yaml`), every rule checked, to run more trials of it.

    A rule that protects a sweep about to run (`RunRuleError`, e.g. one added after an older seqsweep
    started the experiment) is one line naming the file, the rule and what to do: the stored file may
    not be edited (`check_sweep_copy`), so the corrected sweep runs as a new experiment."""
    path = experiment_dir / SWEEP_COPY
    try:
        return load_sweep(path)
    except RunRuleError as exc:
        raise ConfigError(
            f"{path}: cannot resume: {exc}; the file may not be edited, so write the fix into a copy of "
            f"it with another `name` and `seqsweep run` that (`seqsweep results {experiment_dir}` still "
            f"reads these trials)"
        ) from None


def _write_experiment_id(experiment_dir: Path, experiment_id: str) -> None:
    """Record the experiment's identity and the folder it is made in (`check_not_moved` reads it)."""
    atomic_write_json(experiment_dir / EXPERIMENT_ID_FILE, {"id": experiment_id, "path": str(experiment_dir)})


def check_not_moved(experiment_dir: Path) -> None:
    """ConfigError (one line) if the experiment at `experiment_dir` was made in another folder.

    Ray Tune's saved state (its trials' storage and the searcher, with the Optuna storage URL of a local
    study) names the folder the experiment was made in, so a resumed copy would write its new trials and
    study rows into the original and a moved one could not open its study. An experiment made before
    the folder was recorded is not checked.
    """
    made_in = moved_from(experiment_dir)
    if made_in is not None:
        raise ConfigError(
            f"resume: {experiment_dir} is a moved or copied experiment, made in {made_in}; Ray Tune's state "
            f"and its study name that folder, so it can only go on there: resume it in {made_in} (move it "
            f"back); `seqsweep results` and `export` read it where it is"
        )


def _build_dataset(spec: SweepSpec, root: str, check_key: KeyCheck | None = None) -> Any:
    from seqsweep.data import build_dataset

    return build_dataset(spec.file.dataset, cache_dir=dataset_cache_dir(root), check_key=check_key)


def _trainable(spec: SweepSpec, bundle: Any, experiment_dir: Path) -> Any:
    from seqsweep.data.store import put_bundle
    from seqsweep.trainables.base import DataParallelSettings, DeviceSettings, TrialSettings
    from seqsweep.trainables.tune_reporter import train_trial, waiting_for_train_run

    wanted = spec.file.resources
    resources: dict[str, float] = {"cpu": wanted.cpu, "gpu": wanted.gpu}
    parallel = None
    if wanted.workers > 1:
        parallel = DataParallelSettings(
            workers=wanted.workers,
            worker_device=DeviceSettings(cpus=max(1, int(wanted.cpu)), gpu_fraction=wanted.gpu),
            scratch_path=str(experiment_dir / TRAIN_SCRATCH),
        )
        resources = dict(DATA_PARALLEL_TRIAL_RESOURCES)
        bundle = put_bundle(bundle)  # by reference, so the Train workers map the one shared copy
    settings = TrialSettings(
        model=spec.model_name,
        seed=spec.file.search.seed,
        fixed=spec.fixed,
        data_parallel=parallel,
        function=spec.file.trainable is not None,
        families=spec.families,
        metric=spec.file.search.metric,
    )
    trainable = tune.with_parameters(train_trial, bundle=bundle, settings=settings)
    if parallel is not None:
        trainable = waiting_for_train_run(trainable)
    return tune.with_resources(trainable, resources)


def check_tune_environment() -> None:
    """ConfigError (one line) for a Ray setting seqsweep's checkpoint handling cannot work under.

    `TUNE_ONLY_STORE_CHECKPOINT_SCORE_ATTRIBUTE` makes Tune keep only the score with each checkpoint:
    without its `training_iteration` the pruning after the sweep (`retention`) could not tell the latest
    checkpoint and deleted it, and `results` and `export` found no checkpoint at the best epoch.
    """
    from ray._private import ray_constants
    from ray.train.constants import TUNE_ONLY_STORE_CHECKPOINT_SCORE_ATTRIBUTE as ONLY_SCORE

    if ray_constants.env_bool(ONLY_SCORE, False):
        raise ConfigError(
            f"${ONLY_SCORE} is set: seqsweep keeps, prunes and finds checkpoints by the epoch stored with "
            f"each one, which that setting drops; unset it"
        )


def quiet_tune() -> None:
    """Our progress line replaces Tune's tables; state snapshots are frequent on purpose (resume)."""
    os.environ["TUNE_GLOBAL_CHECKPOINT_S"] = EXPERIMENT_STATE_PERIOD_S
    os.environ["TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S"] = "0"
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"


def _run_config(
    spec: SweepSpec, root: str, stream: IO[str] | None, budget: SweepBudget | None = None
) -> tune.RunConfig:
    """Tune's run settings: storage, retries, every checkpoint kept, the progress line and the budget
    (a callback, so its elapsed time and reached target are saved with the experiment).

    The callbacks' order (progress, then budget) is fixed: Tune restores their states by position.
    """
    quiet_tune()
    budget = budget if budget is not None else _make_budget(spec, StopRecord())
    search = spec.file.search
    return tune.RunConfig(
        name=spec.name,
        storage_path=root,
        failure_config=tune.FailureConfig(max_failures=spec.file.failure.max_retries),
        # Every checkpoint stays while the sweep runs (see retention.py); pruned once fit() returns.
        checkpoint_config=tune.CheckpointConfig(
            num_to_keep=None,
            checkpoint_score_attribute=search.metric,
            checkpoint_score_order=search.mode,
        ),
        callbacks=[SweepProgress(search.metric, search.mode, spec.num_samples, stream=stream), budget],
        verbose=0,
    )
