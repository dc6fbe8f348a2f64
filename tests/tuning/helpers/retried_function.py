"""A training function for tests whose first attempt is lost: config `kind: flaky` reports epoch 1 with a
checkpoint, epoch 2 (0.9) without one, then fails; the retry goes on from epoch 1's checkpoint and
reports epochs 2 and 3 lower. `kind: steady` reports 0.50, 0.60, 0.55. The lost attempt's 0.9 is no
trial's score: no checkpoint holds it."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

FLAKY = (0.20, 0.90)
"""The lost attempt's scores of epochs 1 and 2 (epoch 2 has no checkpoint)."""
RETRY = (0.30, 0.35)
"""The retry's scores of epochs 2 and 3."""
STEADY = (0.50, 0.60, 0.55)


def _report(reporter: Any, score: float, checkpoint: bool) -> None:
    metrics = {"val_macro_f1": score, "val_loss": 1.0, "train_loss": 1.0}
    if not checkpoint:
        reporter.report(metrics)
        return
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "weights.json").write_text("{}")
        reporter.report(metrics, Path(folder))


def train(config: dict[str, Any], data: Any, reporter: Any) -> None:
    if config["kind"] == "steady":
        for score in STEADY:
            _report(reporter, score, True)
        return
    if reporter.restored_checkpoint() is None:
        _report(reporter, FLAKY[0], True)
        _report(reporter, FLAKY[1], False)
        raise RuntimeError("the worker was lost (a test's deliberate failure)")
    for score in RETRY:
        _report(reporter, score, True)


def predict(checkpoint_dir: Path, windows: np.ndarray) -> np.ndarray:
    """Uniform class probabilities, (n, 2, 1, 3): the tests score no trial on its predictions."""
    return np.full((len(windows), 2, 1, 3), 1 / 3, np.float32)
