"""The one epoch loop every family runs under: seed, build or resume, train, score, report, stop.

Families only build models (`ModelFamily`); everything a sweep relies on (what is reported, when a
trial ends, how it resumes, how a NaN fails it) lives here, once.
"""

from __future__ import annotations

import logging
import math
import tempfile
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from seqsweep.baselines import persistence_predictions
from seqsweep.constants import (
    EARLY_STOPPED,
    EPOCH,
    FINAL_EPOCH,
    TRAIN_LOSS,
    VAL_LOSS,
    VAL_MACRO_F1,
    VAL_MSE,
    VAL_SKILL,
    WORKERS,
)
from seqsweep.data.bundle import DatasetBundle
from seqsweep.errors import ConfigError, TrialError
from seqsweep.metrics import masked_mse, scores, validation_report
from seqsweep.trainables.base import DeviceSettings, TrainableModel, TrialSettings
from seqsweep.trainables.checkpoint import LoopState
from seqsweep.trainables.device import configure
from seqsweep.trainables.family import resolve_config
from seqsweep.trainables.parallel import SINGLE, DataParallel
from seqsweep.trainables.registry import resolve_family
from seqsweep.trainables.reporting import Reporter
from seqsweep.trainables.seeding import derive_seed, reseed_epoch, seed_everything, trial_seed

logger = logging.getLogger(__name__)


@runtime_checkable
class ValidationAware(Protocol):
    """A model that reacts to each epoch's validation loss (the GRU's ReduceLROnPlateau)."""

    def end_epoch(self, val_loss: float) -> None: ...


def train(
    config: dict[str, Any],
    bundle: DatasetBundle,
    settings: TrialSettings,
    reporter: Reporter,
    device: DeviceSettings,
    parallel: DataParallel = SINGLE,
) -> None:
    """Train one trial to its last epoch or its plateau stop, reporting after every epoch.

    `config` is the searched hyperparameters; `settings.fixed` is merged under it. A restored
    checkpoint (from `reporter.restored_checkpoint()`) continues at the epoch after the saved one,
    with the optimizer state it had. Raises TrialError on a non-finite loss (that trial only).
    With `parallel` (one of several data-parallel workers of a torch model), each worker trains on its
    shard of every batch, all compute the same metrics, and rank 0 alone writes checkpoints.
    """
    family = resolve_family(settings.model)
    full = resolve_config(family, {**settings.fixed, **config})
    for split in ("train", "valid"):
        if len(bundle.splits[split]) == 0:
            raise TrialError(f"the dataset's {split} split has no windows; widen the date range or the split")
    seed = trial_seed(settings.seed, reporter.trial_id)
    configure(family.framework, device)
    seed_everything(seed, family.framework)

    restored = reporter.restored_checkpoint()
    model: TrainableModel
    if restored is not None:
        model = family.load(restored, device)
        state = LoopState.read(restored)
        state.trial_seed = seed
        if state.early_stopped:
            return  # the trial had already ended on its plateau rule
        logger.info("trial %s resumes after epoch %d", reporter.trial_id, state.epoch)
    else:
        model = family.build(full, bundle.shape, device)
        state = LoopState(trial_seed=seed)
    if parallel.active:
        _distribute(model, settings.model)

    valid = bundle.splits["valid"]
    # Persistence's score on the same windows, once per trial: each epoch reports val_skill against it.
    persistence_f1 = scores(valid.labels, persistence_predictions(bundle, "valid"))["macro_f1"]
    epochs, batch_size = full["epochs"], full["batch_size"]
    for epoch in range(state.epoch + 1, epochs + 1):
        # The shuffle (and torch's dropout) depend on (trial, epoch) only, so a resumed trial draws
        # what an uninterrupted one would have drawn.
        epoch_seed = derive_seed(seed, "epoch", epoch)
        # Workers share the shuffle (the rng below) but not their dropout draws.
        reseed_epoch(
            derive_seed(epoch_seed, "rank", parallel.rank) if parallel.active else epoch_seed,
            family.framework,
        )
        try:
            train_loss = model.train_epoch(
                bundle.batches("train", batch_size, np.random.default_rng(epoch_seed), shard=parallel.shard)
            )
            evaluation = model.evaluate(bundle.batches("valid", batch_size))
        except TrialError as exc:
            raise TrialError(f"trial {reporter.trial_id}, epoch {epoch}: {exc}") from exc
        _require_finite(reporter.trial_id, epoch, "training", train_loss)
        _require_finite(reporter.trial_id, epoch, "validation", evaluation.loss)

        metrics: dict[str, Any] = {TRAIN_LOSS: float(train_loss), VAL_LOSS: float(evaluation.loss)}
        metrics.update(validation_report(valid.labels, evaluation.probs))
        metrics[VAL_SKILL] = metrics[VAL_MACRO_F1] - persistence_f1
        if evaluation.moves is not None:
            metrics[VAL_MSE] = masked_mse(valid.moves, evaluation.moves)
        if isinstance(model, ValidationAware):
            model.end_epoch(float(evaluation.loss))
        early_stopped = state.update(float(evaluation.loss), full["patience"]) and epoch < epochs
        state.epoch = epoch
        state.early_stopped = early_stopped
        final = early_stopped or epoch == epochs
        metrics.update({EPOCH: epoch, FINAL_EPOCH: final, EARLY_STOPPED: early_stopped})
        if parallel.active:
            metrics[WORKERS] = parallel.world_size
        state.metrics = metrics

        if parallel.is_chief:
            with tempfile.TemporaryDirectory(prefix="seqsweep-checkpoint-") as folder:
                model.save(Path(folder))
                state.write(Path(folder))
                reporter.report(metrics, Path(folder))
        else:
            reporter.report(metrics, None)
        if final:
            return


def _distribute(model: TrainableModel, family_name: str) -> None:
    distribute = getattr(model, "distribute", None)
    if distribute is None:
        raise ConfigError(
            f"resources.workers: model {family_name!r} is not a torch model; data-parallel trials "
            f"train torch models only (use workers: 1)"
        )
    distribute()


def _require_finite(trial_id: str, epoch: int, what: str, loss: float) -> None:
    if not math.isfinite(loss):
        raise TrialError(
            f"trial {trial_id}, epoch {epoch}: the {what} loss is {loss}; lower the learning rate or check "
            f"the inputs for NaN/inf values"
        )
