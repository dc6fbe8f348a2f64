"""The one module that talks to Ray Tune: reporting, checkpoints, trial id and resources.

(`train_workers` is the one that talks to Ray Train, for data-parallel trials. `get_session` below
is the function-trainable session Tune's own `FunctionTrainable` uses; Ray keeps it under `ray.train`.)

Wrap the trainable once per sweep, so the bundle goes to the object store once and every trial reads it:

    trainable = tune.with_resources(
        tune.with_parameters(train_trial, bundle=bundle, settings=settings), {"cpu": 1, "gpu": 0}
    )
    Tuner(trainable, param_space=space, ...).fit()
"""

from __future__ import annotations

import copy
import pickle
import threading
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import ray
from ray import tune
from ray.train._internal.session import get_session
from ray.tune.trainable.function_trainable import FunctionTrainable, wrap_function

from seqsweep.constants import NODE_ID
from seqsweep.data.bundle import DatasetBundle
from seqsweep.db_url import scrub
from seqsweep.errors import TrialError, message_of
from seqsweep.trainables.base import DeviceSettings, TrialSettings
from seqsweep.trainables.loop import train
from seqsweep.trainables.reporting import RestoreFolder

TRAIN_RUN_END_TIMEOUT_S = 120.0
"""How long stopping a data-parallel trial waits for its Ray Train run to wind down."""


class TuneReporter:
    """`Reporter` for a function trainable running inside a Tune trial."""

    def __init__(self) -> None:
        self._context = tune.get_context()
        self._trial_id = str(self._context.get_trial_id())
        self._node_id = ray.get_runtime_context().get_node_id()
        self._restore = RestoreFolder()

    @property
    def trial_id(self) -> str:
        return self._trial_id

    def device_settings(self) -> DeviceSettings:
        """The trial's CPUs and GPU share from its resource request."""
        resources = self._context.get_trial_resources().required_resources
        cpus = max(1, int(resources.get("CPU", 1)))
        return DeviceSettings(cpus=cpus, gpu_fraction=float(resources.get("GPU", 0.0)))

    def restored_checkpoint(self) -> Path | None:
        """Tune's checkpoint of this trial (after a retry or `Tuner.restore`), copied to a local folder."""
        return self._restore.copy(tune.get_checkpoint())

    def report(self, metrics: Mapping[str, Any], checkpoint_dir: Path | str | None) -> None:
        # Tune persists the folder to the trial's storage before `report` returns.
        tune.report(
            {**metrics, NODE_ID: self._node_id},
            checkpoint=tune.Checkpoint.from_directory(str(checkpoint_dir)) if checkpoint_dir else None,
        )

    def close(self) -> None:
        self._restore.close()


def train_trial(
    config: dict[str, Any], bundle: DatasetBundle | ray.ObjectRef, settings: TrialSettings
) -> None:
    """Tune function trainable: `tune.with_parameters(train_trial, bundle=bundle, settings=settings)`.

    With `settings.data_parallel` the trial launches a Ray Train run and relays its reports; `bundle`
    must then be the dataset's ObjectRef, which the Train workers map without a copy.
    """
    try:
        _train_trial(config, bundle, settings)
    except KeyboardInterrupt:  # Ray reads a task's KeyboardInterrupt as its cancellation (TaskCancelledError)
        kind = "trainable" if settings.function else "model"
        raise TrialError(
            f"{kind} {settings.model}: its code raised KeyboardInterrupt during training; raise another "
            f"exception or return instead"
        ) from None
    except Exception as exc:
        # what Tune writes to error.txt (and pickles into error.pkl), its causes included: a password
        # there goes as text with the password hidden
        chain = "".join(traceback.format_exception(exc))
        if scrub(chain) == chain and _printable(exc) and _ray_can_carry(exc):
            raise
        raise TrialError(scrub(_as_text(exc))) from None


def _ray_can_carry(error: BaseException) -> bool:
    """Whether Ray Tune can hand `error` on as it is: it copies the exception (`copy.copy`) and pickles it
    back to the driver. An exception class whose `__init__` takes other arguments than its message cannot
    be copied, and Tune would report its own `TypeError` about that instead of the trial's error."""
    try:
        copy.copy(error)
        pickle.loads(pickle.dumps(error))
    except Exception:
        return False
    return True


def _printable(error: BaseException) -> bool:
    """Whether `str(error)` works: an exception whose `__str__` raises reached the sweep as that second
    error (`RuntimeError` of the `__str__`), not as the trial's own exception."""
    try:
        str(error)
    except Exception:
        return False
    return True


def _as_text(error: BaseException) -> str:
    """`error`'s traceback as text, ending with its own `module.Class: message` line (the line the sweep
    prints for the trial); Tune writes the whole text to the trial's error.txt. A message that cannot be
    made (`__str__` raised) is told as such (`message_of`)."""
    kind = type(error)
    frames = "".join(traceback.format_tb(error.__traceback__))
    message = message_of(error)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    return f"Traceback (most recent call last):\n{frames}{name}: {message}"


def _train_trial(
    config: dict[str, Any], bundle: DatasetBundle | ray.ObjectRef, settings: TrialSettings
) -> None:
    settings, config = settings.for_trial(config)  # a mixed-family sweep: the trial's family, flat config
    if settings.data_parallel is not None:
        _train_data_parallel(config, bundle, settings)
        return
    # handed over by reference rather than by with_parameters: fetch it (a read-only view, no copy)
    dataset: DatasetBundle = ray.get(bundle) if isinstance(bundle, ray.ObjectRef) else bundle
    reporter = TuneReporter()
    try:
        if settings.function:
            from seqsweep.trainables.function import train_function

            train_function(
                settings.model,
                config,
                dataset,
                reporter,
                sweep_seed=settings.seed,
                fixed=settings.fixed,
                metric=settings.metric,
            )
            return
        try:
            train(config, dataset, settings, reporter, reporter.device_settings())
        except SystemExit as exc:  # user code's sys.exit(): Tune took it for the end, then asserted
            raise TrialError(
                f"model {settings.model}: its code called sys.exit({exc.code!r}) during training; raise an "
                f"exception or return instead"
            ) from None
    finally:
        reporter.close()


def _train_data_parallel(config: dict[str, Any], bundle: Any, settings: TrialSettings) -> None:
    from seqsweep.trainables.train_workers import relay_reports

    if not isinstance(bundle, ray.ObjectRef):
        bundle = ray.put(bundle)  # callers outside the runner: one copy for this trial's workers
    reporter = TuneReporter()
    reports = relay_reports(
        config, bundle, settings, trial_id=reporter.trial_id, resume_from=tune.get_checkpoint()
    )
    try:
        for report in reports:
            reporter.report(report.metrics, report.checkpoint_path)
    finally:
        reports.close()  # a trial Tune stopped (the report above raised) ends its Train run


def waiting_for_train_run(trainable: Callable[[dict[str, Any]], None]) -> type[FunctionTrainable]:
    """`trainable` (a function trainable) as a Tune class whose stop waits for the trial's own thread.

    Tune stops a function trainable without waiting for its thread, then ends the actor. A data-parallel
    trial's thread is still aborting its Ray Train run then; cut off, the run's placement group outlives
    it and holds the workers' CPUs until the sweep's driver exits, so later trials can starve.
    """

    class WaitsForTrainRun(wrap_function(trainable)):  # type: ignore[misc, valid-type]
        def cleanup(self) -> None:
            session = get_session()  # the session Tune's own FunctionTrainable.cleanup ends
            thread = session.training_thread if session is not None else None
            try:
                super().cleanup()
            finally:
                if thread is not None:  # plain Thread.join: RunnerThread.join re-raises the trial's error
                    threading.Thread.join(thread, timeout=TRAIN_RUN_END_TIMEOUT_S)

    return WaitsForTrainRun
