"""A scikit-learn training function for `trainable: "seqsweep.examples.sklearn_gbm:train"`.

One `HistGradientBoostingClassifier` per (horizon step, target) cell, on the flattened window
(L × F inputs, MASK_VALUE read as missing, which the trees route natively). Each report is one boosting
stage: every cell's model grows by `iters_per_stage` trees (`warm_start`), the validation windows are
scored with the metrics every family reports, and the models are pickled into the checkpoint. So ASHA
can cut a trial after any stage, and a resumed trial goes on from its last stage.

Config keys (all optional): `epochs` (stages, 5), `iters_per_stage` (trees per stage, 10),
`learning_rate` (0.1), `max_leaf_nodes` (15), `l2_regularization` (0.0), `max_train_windows` (the
latest train windows used, 5000).

`predict(checkpoint_dir, windows)` is the hook `results` and `export` use for test scores.
"""

from __future__ import annotations

import json
import pickle
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from seqsweep.constants import MASK_VALUE, N_CLASSES
from seqsweep.trainables.function import DatasetView
from seqsweep.trainables.reporting import Reporter

MODELS_FILE = "models.pkl"
STAGE_FILE = "stage.json"


def _flat(windows: np.ndarray) -> np.ndarray:
    """(n, L, F) → (n, L·F) float32, MASK_VALUE → NaN."""
    x = windows.reshape(len(windows), -1).astype(np.float32, copy=True)
    x[x == MASK_VALUE] = np.nan
    return x


def _probabilities(models: list[list[Any]], x: np.ndarray) -> np.ndarray:
    """(n, L·F) → (n, H, T, 3): each cell's model, its classes put in place (a class it never saw: 0)."""
    horizon, targets = len(models), len(models[0])
    out = np.zeros((len(x), horizon, targets, N_CLASSES), dtype=np.float32)
    for h in range(horizon):
        for t in range(targets):
            model = models[h][t]
            if isinstance(model, int):  # a cell whose train labels hold one class only
                out[:, h, t, model] = 1.0
                continue
            proba = model.predict_proba(x)
            for column, cls in enumerate(model.classes_):
                out[:, h, t, int(cls)] = proba[:, column]
    return out


def train(config: dict[str, Any], data: DatasetView, reporter: Reporter) -> None:
    """Boost one model per (step, target) cell stage by stage, reporting each stage."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    stages = int(config.get("epochs", 5))
    per_stage = int(config.get("iters_per_stage", 10))
    keep = int(config.get("max_train_windows", 5000))
    x_train = _flat(data.windows("train"))[-keep:]
    y_train = data.labels("train")[-keep:]
    x_valid = _flat(data.windows("valid"))
    horizon, targets = data.shape.horizon, data.shape.n_targets

    done, models = 0, None
    restored = reporter.restored_checkpoint()
    if restored is not None:
        done = int(json.loads((restored / STAGE_FILE).read_text(encoding="utf-8"))["stage"])
        models = pickle.loads((restored / MODELS_FILE).read_bytes())
    if models is None:
        models = [[None] * targets for _ in range(horizon)]
        for h in range(horizon):
            for t in range(targets):
                labels = y_train[:, h, t]
                seen = np.unique(labels[labels != MASK_VALUE])
                models[h][t] = (
                    HistGradientBoostingClassifier(
                        learning_rate=float(config.get("learning_rate", 0.1)),
                        max_leaf_nodes=int(config.get("max_leaf_nodes", 15)),
                        l2_regularization=float(config.get("l2_regularization", 0.0)),
                        max_iter=0,
                        warm_start=True,
                        early_stopping=False,
                        random_state=data.seed,
                    )
                    if len(seen) > 1
                    else int(seen[0])
                    if len(seen)
                    else 1
                )
    with threadpool_limits(limits=data.cpus):
        for stage in range(done + 1, stages + 1):
            for h in range(horizon):
                for t in range(targets):
                    model = models[h][t]
                    if isinstance(model, int):
                        continue
                    labels = y_train[:, h, t]
                    observed = labels != MASK_VALUE
                    model.set_params(max_iter=stage * per_stage)
                    model.fit(x_train[observed], labels[observed])
            metrics = data.validation_metrics(_probabilities(models, x_valid))
            with tempfile.TemporaryDirectory(prefix="gbm-checkpoint-") as folder:
                (Path(folder) / MODELS_FILE).write_bytes(pickle.dumps(models))
                (Path(folder) / STAGE_FILE).write_text(json.dumps({"stage": stage}), encoding="utf-8")
                reporter.report({**metrics, "epoch": stage}, Path(folder))


def predict(checkpoint_dir: Path, windows: np.ndarray) -> np.ndarray:
    """The hook for test scores and export: (n, L, F) float32 windows → (n, H, T, 3) probabilities."""
    models = pickle.loads((Path(checkpoint_dir) / MODELS_FILE).read_bytes())
    return _probabilities(models, _flat(np.asarray(windows)))
