"""The one epoch loop every family runs under: seed, build or resume, train, score, report, stop.

Families only build models (`ModelFamily`) and framework adapters (`Framework`) only seed and size
them; everything a sweep relies on (what is reported, when a trial ends, how it resumes, how a NaN
fails it) lives here, once. The loop calls the model's hooks (`end_epoch`, `distribute`) as declared
methods of `TrainableModel`, never by discovery.
"""

from __future__ import annotations

import logging
import math
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from seqsweep.baselines import persistence_valid_f1
from seqsweep.constants import (
    EARLY_STOPPED,
    EPOCH,
    FINAL_EPOCH,
    TRAIN_LOSS,
    VAL_LOSS,
    VAL_MACRO_F1,
    VAL_MACRO_F1_FOLD_STD,
    VAL_MSE,
    VAL_SKILL,
    WORKERS,
)
from seqsweep.data.bundle import DatasetBundle
from seqsweep.errors import TrialError
from seqsweep.metrics import masked_mse, validation_report
from seqsweep.trainables.base import DeviceSettings, TrainableModel, TrialSettings
from seqsweep.trainables.checkpoint import LoopState, fold_model_dir
from seqsweep.trainables.frameworks import Framework
from seqsweep.trainables.parallel import SINGLE, DataParallel
from seqsweep.trainables.registry import resolve_family
from seqsweep.trainables.reporting import Reporter
from seqsweep.trainables.seeding import derive_seed, reseed_epoch, seed_everything, trial_seed

logger = logging.getLogger(__name__)


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

    With walk-forward folds (`bundle.n_folds` = k > 1) the trial builds k models (fold f's seeded from
    the trial seed and f) and trains them in lockstep: each epoch trains and validates every fold once
    on its own windows, scaling and labels (`bundle.fold(f)`), then reports the mean over folds of
    every metric plus `val_macro_f1_fold_std`, so a scheduler sees one number per epoch and stopping
    the trial stops every fold. The plateau rule reads the mean val_loss; the checkpoint holds all k
    models (see `seqsweep.trainables.checkpoint`).
    """
    family = resolve_family(settings.model)
    full = family.resolve({**settings.fixed, **config})
    n_folds = bundle.n_folds
    views = [bundle.fold(f) for f in range(n_folds)]
    for f, view in enumerate(views):
        for split in ("train", "valid"):
            if len(view.splits[split]) == 0:
                where = f" of fold {f}" if n_folds > 1 else ""
                raise TrialError(
                    f"the dataset's {split} split{where} has no windows; widen the date range or the split"
                )
    seed = trial_seed(settings.seed, reporter.trial_id)
    device = replace(device, planned_batches=planned_batches(full, views))
    frameworks = family.frameworks
    for framework in frameworks:
        framework.configure(device)
    seed_everything(seed, frameworks)
    # one fold: the trial seed itself, so a one-fold trial draws exactly what it always drew
    fold_seeds = [seed] if n_folds == 1 else [derive_seed(seed, "fold", f) for f in range(n_folds)]

    restored = reporter.restored_checkpoint()
    models: list[TrainableModel] = []
    if restored is not None:
        state = LoopState.read(restored)
        if state.n_folds != n_folds:
            raise TrialError(
                f"trial {reporter.trial_id}: its checkpoint holds {state.n_folds} fold model(s) but the "
                f"dataset has {n_folds} fold(s); it cannot resume on another dataset.split.folds"
            )
        models = [family.load(fold_model_dir(restored, f, n_folds), device) for f in range(n_folds)]
        state.trial_seed = seed
        if state.early_stopped:
            return  # the trial had already ended on its plateau rule
        logger.info("trial %s resumes after epoch %d", reporter.trial_id, state.epoch)
    else:
        for f in range(n_folds):
            if n_folds > 1:
                seed_everything(fold_seeds[f], frameworks)
            models.append(family.build(full, bundle.shape, device))
        state = LoopState(trial_seed=seed, n_folds=n_folds)
    if parallel.active:
        for model in models:
            model.distribute()

    # Persistence's score on the same windows, once per trial: each epoch reports val_skill against it.
    persistence_f1 = [persistence_valid_f1(view) for view in views]
    epochs, batch_size = full["epochs"], full["batch_size"]
    for epoch in range(state.epoch + 1, epochs + 1):
        per_fold = [
            _fold_epoch(
                model,
                view,
                epoch_seed=derive_seed(fold_seeds[f], "epoch", epoch),
                batch_size=batch_size,
                persistence_f1=persistence_f1[f],
                frameworks=frameworks,
                parallel=parallel,
                where=f"trial {reporter.trial_id}, epoch {epoch}" + (f", fold {f}" if n_folds > 1 else ""),
            )
            for f, (model, view) in enumerate(zip(models, views, strict=True))
        ]
        metrics = per_fold[0] if n_folds == 1 else _mean_over_folds(per_fold)
        early_stopped = state.update(float(metrics[VAL_LOSS]), full["patience"]) and epoch < epochs
        state.epoch = epoch
        state.early_stopped = early_stopped
        final = early_stopped or epoch == epochs
        metrics.update({EPOCH: epoch, FINAL_EPOCH: final, EARLY_STOPPED: early_stopped})
        if parallel.active:
            metrics[WORKERS] = parallel.world_size
        state.metrics = metrics

        if parallel.is_chief:
            with tempfile.TemporaryDirectory(prefix="seqsweep-checkpoint-") as folder:
                for f, model in enumerate(models):
                    target = fold_model_dir(folder, f, n_folds)
                    target.mkdir(exist_ok=True)
                    model.save(target)
                state.write(Path(folder))
                reporter.report(metrics, Path(folder))
        else:
            reporter.report(metrics, None)
        if final:
            return


def planned_batches(full: dict[str, Any], views: list[DatasetBundle]) -> int:
    """Training batches each model of a trial of resolved config `full` runs if the trial is never
    stopped: epochs × ⌈train windows / batch size⌉, the mean over the folds' models (each fold's
    model is its own graph); a data-parallel worker runs as many, each a shard of the batch."""
    per_epoch = [math.ceil(len(view.splits["train"]) / full["batch_size"]) for view in views]
    return int(full["epochs"]) * round(sum(per_epoch) / len(per_epoch))


def _fold_epoch(
    model: TrainableModel,
    view: DatasetBundle,
    *,
    epoch_seed: int,
    batch_size: int,
    persistence_f1: float,
    frameworks: tuple[Framework, ...],
    parallel: DataParallel,
    where: str,
) -> dict[str, Any]:
    """One epoch of one fold's model on its own windows: train, validate, score; that fold's metrics.

    `epoch_seed` depends on (trial, fold, epoch) only, so a resumed trial draws the shuffle (and torch's
    dropout) an uninterrupted one would have drawn. `where` starts every error message.
    """
    # Workers share the shuffle (the rng below) but not their dropout draws.
    reseed_epoch(
        derive_seed(epoch_seed, "rank", parallel.rank) if parallel.active else epoch_seed, frameworks
    )
    valid = view.splits["valid"]
    try:
        train_loss = model.train_epoch(
            view.batches("train", batch_size, np.random.default_rng(epoch_seed), shard=parallel.shard)
        )
        evaluation = model.evaluate(view.batches("valid", batch_size))
    except TrialError as exc:
        raise TrialError(f"{where}: {exc}") from exc
    _require_finite(where, "training", train_loss)
    _require_finite(where, "validation", evaluation.loss)

    metrics: dict[str, Any] = {TRAIN_LOSS: float(train_loss), VAL_LOSS: float(evaluation.loss)}
    metrics.update(validation_report(valid.labels, evaluation.probs))
    metrics[VAL_SKILL] = metrics[VAL_MACRO_F1] - persistence_f1
    if evaluation.moves is not None:
        metrics[VAL_MSE] = masked_mse(valid.moves, evaluation.moves)
    model.end_epoch(float(evaluation.loss))
    return metrics


def _mean_over_folds(per_fold: list[dict[str, Any]]) -> dict[str, Any]:
    """Each metric's mean over the folds, plus the spread of `val_macro_f1` (`VAL_MACRO_F1_FOLD_STD`)."""
    metrics: dict[str, Any] = {key: float(np.mean([m[key] for m in per_fold])) for key in per_fold[0]}
    metrics[VAL_MACRO_F1_FOLD_STD] = float(np.std([m[VAL_MACRO_F1] for m in per_fold]))
    return metrics


def _require_finite(where: str, what: str, loss: float) -> None:
    if not math.isfinite(loss):
        raise TrialError(
            f"{where}: the {what} loss is {loss}; lower the learning rate or check "
            f"the inputs for NaN/inf values"
        )
