"""Experiments for the results tests.

The crafted one is a real Ray Tune run of a trivial function trainable, with errored and NaN trials,
written the way `seqsweep run` writes one (sweep.yaml, an Optuna study, checkpoints). The real ones
are tiny sweeps of the built-in families on the generated sample database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from ray import tune

from seqsweep.layout import SWEEP_COPY
from seqsweep.results.experiment import read_sweep_copy
from seqsweep.testing.sweeps import tiny_dataset
from seqsweep.tuning.searchers import make_searcher

CRAFTED_SWEEP: dict[str, Any] = {
    "name": "crafted",
    "model": "crafted_family",
    "dataset": {"symbols": ["LINKUSDT", "UNIUSDT"], "targets": ["close"], "lookback": 6, "horizon": 2},
    "params": {
        "cell_size": {"type": "choice", "values": [4, 8, 13, 7]},
        "learning_rate": {"type": "choice", "values": [0.01, 0.1]},
        "epochs": 4,
    },
    "search": {"algorithm": "grid", "max_concurrent": 2, "seed": 0},
    "scheduler": {"type": "none"},
    "failure": {"max_retries": 0},
    "checkpoints": {"keep": 2},
}
RAISING_CELL = 13
"""Reports one (excellent) epoch, then raises: errored, must never win."""
NAN_CELL = 7
"""Reports an excellent val_macro_f1 but NaN losses every epoch: a NaN trial, must never win."""
CUT_SHORT = (4, 0.01)
"""(cell_size, learning_rate) whose reports stop after 2 epochs without final_epoch, as when ASHA stops it."""
PLATEAU = (8, 0.01)
"""Ends its own loop after 3 epochs (early_stopped, final_epoch)."""


def crafted_score(cell_size: int, learning_rate: float, epoch: int) -> float:
    """Peaks at epoch 2; bigger cells and the larger rate score higher (the trainable's formula)."""
    base = 0.3 + cell_size / 40 + learning_rate
    return round(base - 0.05 * abs(epoch - 2), 6)


def crafted_mse(cell_size: int, learning_rate: float, epoch: int) -> float:
    """Lowest at epoch 1 and for small cells: ranking by it (mode min) reverses the macro-F1 order."""
    return round(cell_size / 100 + epoch / 100 + learning_rate, 6)


def _make_trainable(fixed: dict[str, Any]) -> Any:
    # Nested, with every constant a closure variable, so cloudpickle ships it by value: Ray workers
    # (and later readers of the experiment state) cannot import this conftest.
    raising, nan_cell, cut_short, plateau = RAISING_CELL, NAN_CELL, CUT_SHORT, PLATEAU

    def crafted_trainable(config: dict[str, Any]) -> None:
        import json
        import os
        import tempfile

        from ray import tune as worker_tune

        config = {**fixed, **config}  # as the real trainable merges the sweep's fixed params

        cell, rate = config["cell_size"], config["learning_rate"]
        last = 3 if (cell, rate) == plateau else config["epochs"]
        if (cell, rate) == cut_short:
            last = 2
        for epoch in range(1, last + 1):
            if cell == raising and epoch == 2:
                raise ValueError("cell_size 13 is refused by the crafted family")
            f1 = (
                0.99
                if cell in (raising, nan_cell)
                else round(0.3 + cell / 40 + rate - 0.05 * abs(epoch - 2), 6)
            )
            loss = float("nan") if cell == nan_cell else 1.0 / epoch + rate
            metrics = {
                "train_loss": loss,
                "val_loss": loss * 1.1 if loss == loss else loss,
                "val_macro_f1": f1,
                "val_macro_f1_pooled": round(f1 + 0.1, 6),
                "val_skill": round(f1 - 0.4, 6),
                "val_mse": round(cell / 100 + epoch / 100 + rate, 6),  # crafted_mse, inlined for pickling
                "val_accuracy": f1 + 0.05,
                "val_precision_macro": f1,
                "val_recall_macro": f1,
                "epoch": epoch,
                "final_epoch": epoch == last and (cell, rate) != cut_short,
                "early_stopped": (cell, rate) == plateau and epoch == last,
                "node_id": "crafted-node",
            }
            with tempfile.TemporaryDirectory() as folder:
                with open(os.path.join(folder, "state.json"), "w") as handle:
                    json.dump({"epoch": epoch, "config": config}, handle)
                worker_tune.report(metrics, checkpoint=worker_tune.Checkpoint.from_directory(folder))

    return crafted_trainable


def run_crafted_experiment(storage: Path, **overrides: Any) -> Path:
    """Run the crafted sweep under `storage` on the Ray of this process; returns the experiment dir."""
    data = {**CRAFTED_SWEEP, **overrides}
    experiment = storage / data["name"]
    experiment.mkdir(parents=True)
    (experiment / SWEEP_COPY).write_text(yaml.safe_dump(data, sort_keys=False))
    spec = read_sweep_copy(experiment / SWEEP_COPY)
    searcher = make_searcher(spec, str(experiment))
    tuner = tune.Tuner(
        _make_trainable(spec.fixed),
        tune_config=tune.TuneConfig(
            metric="val_macro_f1",
            mode="max",
            search_alg=searcher,
            num_samples=spec.num_samples,
            max_concurrent_trials=2,
        ),
        run_config=tune.RunConfig(
            name=data["name"],
            storage_path=str(storage),
            failure_config=tune.FailureConfig(max_failures=0),
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=2, checkpoint_score_attribute="val_macro_f1", checkpoint_score_order="max"
            ),
            verbose=0,
        ),
    )
    tuner.fit()
    return experiment


def tiny_sweep(name: str, model: str, params: dict[str, Any], db_url: str, storage: Path) -> dict[str, Any]:
    """A sweep of a built-in family small enough for a test: 3 random trials of 2 epochs, 2 targets."""
    return {
        "name": name,
        "model": model,
        "dataset": tiny_dataset(db_url, targets=["close", "lending_rate"]),
        "params": {**params, "batch_size": 64, "epochs": 2},
        "search": {"algorithm": "random", "num_samples": 3, "max_concurrent": 2, "seed": 3},
        "scheduler": {"type": "none"},
        "resources": {"cpu": 1},
        "failure": {"max_retries": 0},
        "checkpoints": {"keep": 2},
        "storage_path": str(storage),
    }


LSTM_PARAMS: dict[str, Any] = {
    "cell_size": {"type": "choice", "values": [4, 8]},
    "dropout_rate_1": {"type": "uniform", "low": 0.0, "high": 0.3},
}
GRU_PARAMS: dict[str, Any] = {
    "hidden_size": {"type": "choice", "values": [4, 8]},
    "learning_rate": {"type": "loguniform", "low": 1.0e-3, "high": 3.0e-2},
}
