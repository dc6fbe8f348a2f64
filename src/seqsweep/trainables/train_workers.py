"""Ray Train's side of a data-parallel trial: N workers run the shared loop on shards of each batch.

`relay_reports` starts a `TorchTrainer` from inside the Tune trial (Ray 2.x no longer takes a Trainer
in the Tuner) and yields rank 0's report of every epoch, metrics and checkpoint folder, to the trial,
which hands them to Tune (`tune_reporter`). The Train run waits at each report until the trial has
taken it, so Tune's scheduler decides between epochs exactly as for a one-worker trial; a trial that
Tune stops aborts its Train run. This module and `tune_reporter` are the only ones that touch Ray.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
import ray.train
from ray.train.torch import TorchTrainer
from ray.train.v2.api.callback import UserCallback
from ray.util.queue import Queue

from seqsweep.data.store import get_bundle
from seqsweep.trainables.base import DeviceSettings, TrialSettings
from seqsweep.trainables.loop import train
from seqsweep.trainables.parallel import DataParallel
from seqsweep.trainables.reporting import RestoreFolder

_RUN_ENDED = "__seqsweep_run_ended__"
"""Put in the report queue once the Train run is over, however it ended."""


@dataclass(frozen=True)
class WorkerReport:
    metrics: dict[str, Any]
    checkpoint_path: str | None
    """Rank 0's checkpoint folder on the run's storage; valid until the trial has taken this report."""


class _RelayToTrial(UserCallback):
    """Runs in the Train controller: passes each report to the trial and waits until it was taken."""

    def __init__(self, reports: Queue, taken: Queue) -> None:
        self._reports = reports
        self._taken = taken

    def after_report(self, run_context: Any, metrics: list[dict[str, Any]], checkpoint: Any) -> None:
        self._reports.put((metrics[0], checkpoint.path if checkpoint else None))
        if not self._taken.get():
            raise RuntimeError("the Tune trial stopped; ending its data-parallel run")


class TrainWorkerReporter:
    """`Reporter` for one Ray Train worker: every rank reports, rank 0 with the checkpoint."""

    def __init__(self, trial_id: str, resume_from: Any | None) -> None:
        context = ray.train.get_context()
        self.parallel = DataParallel(context.get_world_rank(), context.get_world_size())
        self._trial_id = trial_id
        self._resume_from = resume_from
        self._restore = RestoreFolder()

    @property
    def trial_id(self) -> str:
        return self._trial_id

    def restored_checkpoint(self) -> Path | None:
        """The Tune checkpoint the trial resumes from (on shared storage), copied to a local folder."""
        return self._restore.copy(self._resume_from)

    def report(self, metrics: Mapping[str, Any], checkpoint_dir: Path | None) -> None:
        checkpoint = ray.train.Checkpoint.from_directory(str(checkpoint_dir)) if checkpoint_dir else None
        ray.train.report(dict(metrics), checkpoint=checkpoint)

    def close(self) -> None:
        self._restore.close()


def _worker_loop(loop_config: dict[str, Any]) -> None:
    """What each Train worker runs: the shared loop on its shard of the bundle in the object store."""
    settings: TrialSettings = loop_config["settings"]
    reporter = TrainWorkerReporter(loop_config["trial_id"], loop_config["resume_from"])
    try:
        train(
            loop_config["config"],
            get_bundle(loop_config["bundle"]),
            settings,
            reporter,
            loop_config["device"],
            parallel=reporter.parallel,
        )
    finally:
        reporter.close()


def relay_reports(
    config: dict[str, Any],
    bundle_ref: Any,
    settings: TrialSettings,
    *,
    trial_id: str,
    resume_from: Any | None,
) -> Generator[WorkerReport, None, None]:
    """Run the trial on its Ray Train workers (`settings.data_parallel`); yield rank 0's report of each epoch.

    The generator returns when the run finished, and raises the run's error if it failed. Closing
    it early (the trial was stopped) aborts the run. `bundle_ref` is the dataset's ObjectRef, so
    workers map the one shared copy; `resume_from` is the Tune checkpoint to continue from.
    """
    parallel = settings.data_parallel
    if parallel is None:
        raise ValueError("relay_reports runs data-parallel trials: TrialSettings.data_parallel is unset")
    device = parallel.worker_device
    scratch = Path(parallel.scratch_path) / trial_id
    shutil.rmtree(scratch, ignore_errors=True)  # an earlier attempt's run, if the driver was killed
    reports = Queue(maxsize=1, actor_options={"num_cpus": 0})
    taken = Queue(maxsize=1, actor_options={"num_cpus": 0})
    trainer = TorchTrainer(
        _worker_loop,
        train_loop_config={
            "config": config,
            "bundle": bundle_ref,
            "settings": settings,
            "trial_id": trial_id,
            "device": device,
            "resume_from": resume_from,
        },
        scaling_config=ray.train.ScalingConfig(
            num_workers=parallel.workers,
            use_gpu=device.gpu_fraction > 0,
            resources_per_worker=_worker_resources(device),
        ),
        run_config=ray.train.RunConfig(
            # A fresh name per attempt: Ray Train would otherwise resume from its own (later) checkpoint.
            name=f"{trial_id}-{uuid.uuid4().hex[:8]}",
            storage_path=str(scratch),
            # Failures are retried by Tune, from Tune's checkpoint, like any other trial.
            failure_config=ray.train.FailureConfig(max_failures=0),
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=1),
            # Ray Train v2 takes its `UserCallback`s here; RunConfig's annotation still names Tune's Callback.
            callbacks=[_RelayToTrial(reports, taken)],  # type: ignore[list-item]
        ),
    )
    errors: list[BaseException] = []

    def fit() -> None:
        try:
            trainer.fit()
        except BaseException as exc:
            errors.append(exc)
        finally:
            reports.put(_RUN_ENDED)

    runner = threading.Thread(target=fit, name=f"ray-train-{trial_id}", daemon=True)
    runner.start()
    waiting = False  # the controller waits for our answer to the report we yielded
    try:
        while (item := reports.get()) != _RUN_ENDED:
            metrics, checkpoint_path = item
            waiting = True
            yield WorkerReport(metrics, checkpoint_path)
            taken.put(True)
            waiting = False
    finally:
        if waiting:
            taken.put(False)  # the trial was stopped at this report: the controller ends the run
        runner.join(timeout=60)
        for queue in (reports, taken):
            queue.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)
    if errors:
        raise errors[0]


def _worker_resources(device: DeviceSettings) -> dict[str, float]:
    resources = {"CPU": float(device.cpus)}
    if device.gpu_fraction > 0:
        resources["GPU"] = device.gpu_fraction
    return resources
