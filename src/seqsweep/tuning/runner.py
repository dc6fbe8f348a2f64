"""Run a validated sweep on Ray Tune, or resume one whose driver died.

The dataset is built (or read from the cache on the storage path) once in the driver and handed to
every trial through `tune.with_parameters`, which puts it in Ray's object store once; trials on a
node read the same shared-memory copy.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ray import tune

from seqsweep.cluster.session import cluster_gpus, ray_session
from seqsweep.cluster.storage import check_shared_storage
from seqsweep.errors import ConfigError
from seqsweep.search_spaces.credentials import with_database, without_password
from seqsweep.search_spaces.searchers import make_scheduler, make_searcher, warm_start_points
from seqsweep.search_spaces.sweep import SweepSpec, load_sweep
from seqsweep.tuning.progress import SweepProgress
from seqsweep.tuning.retention import prune_checkpoints

logger = logging.getLogger(__name__)

SWEEP_COPY = "sweep.yaml"
"""The validated sweep file, written into the experiment directory so `resume` needs nothing else."""
TRAIN_SCRATCH = ".ray_train"
"""Folder of the experiment where data-parallel trials' Ray Train runs write until Tune copies."""
DATA_PARALLEL_TRIAL_RESOURCES = {"cpu": 0.0, "memory": 1.0}
"""A data-parallel trial only relays reports; its Train workers hold the CPUs and GPUs. Tune refuses
an empty request, so the trial asks for one byte of memory."""
EXPERIMENT_STATE_PERIOD_S = "5"
"""How often Tune saves the experiment state; a driver killed with SIGKILL loses at most this much."""


@dataclass(frozen=True)
class SweepOutcome:
    experiment_dir: Path
    num_trials: int
    num_errored: int
    best_trial_id: str | None
    best_value: float | None
    metric: str

    @property
    def exit_code(self) -> int:
        """0 when every trial finished, 1 when any trial errored (the sweep itself still completed)."""
        return 1 if self.num_errored else 0

    def describe(self) -> str:
        best = "none" if self.best_value is None else f"{self.best_value:.4f} (trial {self.best_trial_id})"
        return (
            f"{self.num_trials} trials, {self.num_errored} errored; best {self.metric} {best}\n"
            f"experiment: {self.experiment_dir}"
        )


def storage_root(spec: SweepSpec, storage: str | None = None) -> str:
    """The storage path as Ray wants it: an absolute local path, or a URI left as it is."""
    root = storage or spec.file.storage_path
    return root if "://" in root else str(Path(root).expanduser().resolve())


def dataset_cache_dir(root: str) -> Path | None:
    """Built datasets are cached next to the experiments on a local (or NFS) storage path."""
    return None if "://" in root else Path(root) / "datasets"


def run_sweep(
    spec: SweepSpec, *, address: str | None = None, storage: str | None = None, stream: IO[str] | None = None
) -> SweepOutcome:
    spec = with_database(spec, None)  # a submitted sweep's driver finds the password on the head
    root = storage_root(spec, storage)
    if "://" in root:
        raise ConfigError(
            f"storage_path {root}: run from a URI needs its filesystem in Ray's pyarrow; use a local or NFS path"
        )
    experiment_dir = Path(root) / spec.name
    if (experiment_dir / "tuner.pkl").exists():
        raise ConfigError(
            f"experiment {experiment_dir} already exists: continue it with `seqsweep resume {experiment_dir}` "
            f"or change `name`"
        )
    with ray_session(address):
        _check_cluster(spec)
        check_shared_storage(root)
        bundle = _build_dataset(spec, root)
        experiment_dir.mkdir(parents=True, exist_ok=True)
        (experiment_dir / SWEEP_COPY).write_text(without_password(spec).to_yaml())
        searcher = make_searcher(spec, str(experiment_dir))
        if spec.file.warm_start:
            added = warm_start_points(searcher, spec.file.warm_start, spec.file.search.metric)
            logger.info("warm start: %d finished trials from %s", added, spec.file.warm_start)
        tuner = tune.Tuner(
            _trainable(spec, bundle, experiment_dir),
            tune_config=tune.TuneConfig(
                metric=spec.file.search.metric,
                mode=spec.file.search.mode,
                search_alg=searcher,
                scheduler=make_scheduler(spec),
                num_samples=spec.num_samples,
                max_concurrent_trials=spec.file.search.max_concurrent,
                # A trial process keeps its imported TensorFlow/torch for the next trial: seconds saved
                # per trial. Each trial still builds its model afresh and reseeds everything.
                reuse_actors=True,
            ),
            run_config=_run_config(spec, root, stream),
        )
        return _finish(tuner.fit(), experiment_dir, spec)


def resume_sweep(
    experiment_dir: str | Path,
    *,
    address: str | None = None,
    db: str | None = None,
    stream: IO[str] | None = None,
) -> SweepOutcome:
    """Continue a killed sweep: finished trials stay, unfinished ones go on from their checkpoints.

    `db` (or $SEQSWEEP_DB_URL) supplies the database URL when the stored one had a password, which
    the experiment directory never keeps.
    """
    experiment_dir = Path(experiment_dir).expanduser().resolve()
    if not (experiment_dir / "tuner.pkl").exists() or not (experiment_dir / SWEEP_COPY).exists():
        raise ConfigError(
            f"{experiment_dir} is not a seqsweep experiment directory (no tuner.pkl / {SWEEP_COPY})"
        )
    spec = with_database(load_sweep(experiment_dir / SWEEP_COPY), db)
    root = str(experiment_dir.parent)
    with ray_session(address):
        check_shared_storage(root)
        bundle = _build_dataset(spec, root)
        _quiet_tune()
        tuner = tune.Tuner.restore(
            str(experiment_dir),
            trainable=_trainable(spec, bundle, experiment_dir),
            resume_unfinished=True,
            resume_errored=False,
            restart_errored=False,
        )
        return _finish(tuner.fit(), experiment_dir, spec)


def _check_cluster(spec: SweepSpec) -> None:
    wanted = spec.file.resources.gpu
    if wanted > 0 and cluster_gpus() == 0:
        raise ConfigError(
            f"resources.gpu: the sweep asks for {wanted} GPU per trial but the cluster has no GPU"
        )


def _build_dataset(spec: SweepSpec, root: str) -> Any:
    from seqsweep.data import build_dataset

    return build_dataset(spec.file.dataset, cache_dir=dataset_cache_dir(root))


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
        model=spec.file.model, seed=spec.file.search.seed, fixed=spec.fixed, data_parallel=parallel
    )
    trainable = tune.with_parameters(train_trial, bundle=bundle, settings=settings)
    if parallel is not None:
        trainable = waiting_for_train_run(trainable)
    return tune.with_resources(trainable, resources)


def _quiet_tune() -> None:
    """Our progress line replaces Tune's tables; state snapshots are frequent on purpose (resume)."""
    os.environ["TUNE_GLOBAL_CHECKPOINT_S"] = EXPERIMENT_STATE_PERIOD_S
    os.environ["TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S"] = "0"
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"


def _run_config(spec: SweepSpec, root: str, stream: IO[str] | None) -> tune.RunConfig:
    _quiet_tune()
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
        callbacks=[SweepProgress(search.metric, search.mode, spec.num_samples, stream=stream)],
        verbose=0,
    )


def _finish(grid: tune.ResultGrid, experiment_dir: Path, spec: SweepSpec) -> SweepOutcome:
    search = spec.file.search
    prune_checkpoints(grid, keep=spec.file.checkpoints.keep, metric=search.metric, mode=search.mode)
    shutil.rmtree(experiment_dir / TRAIN_SCRATCH, ignore_errors=True)
    return _outcome(grid, experiment_dir, spec)


def _outcome(grid: tune.ResultGrid, experiment_dir: Path, spec: SweepSpec) -> SweepOutcome:
    metric, mode = spec.file.search.metric, spec.file.search.mode
    best_id, best_value = None, None
    for result in grid:
        if (
            result.error is not None
            or result.metrics_dataframe is None
            or metric not in result.metrics_dataframe
        ):
            continue
        series = result.metrics_dataframe[metric].dropna()
        series = series[series.map(math.isfinite)]
        if series.empty:
            continue
        value = float(series.max() if mode == "max" else series.min())
        if best_value is None or (value > best_value if mode == "max" else value < best_value):
            best_id, best_value = result.metrics.get("trial_id"), value
    return SweepOutcome(
        experiment_dir=experiment_dir,
        num_trials=len(grid),
        num_errored=grid.num_errors,
        best_trial_id=best_id,
        best_value=best_value,
        metric=metric,
    )
