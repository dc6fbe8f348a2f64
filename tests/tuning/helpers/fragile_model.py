"""A user model (`model: fragile_model:build`) that trains in its trials but raises when rebuilt outside
them once a test sets `BROKEN` in its own process (`results` and `export` run there): a user's model
whose code fails where the trial did not (a missing file, another environment)."""

from __future__ import annotations

from typing import Any

BROKEN = False
"""Set by a test in the process that runs `results`/`export`; the trials' processes keep False."""


def build(config: dict[str, Any], shape: Any) -> Any:
    from torch import nn

    if BROKEN:
        raise ValueError("weights table at postgresql://bob:Fr4gileSecret@pg/x is gone")
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(shape.lookback * shape.n_features, config["units"]),
        nn.ReLU(),
        nn.Linear(config["units"], shape.horizon * shape.n_targets * 3),
        nn.Unflatten(1, (shape.horizon, shape.n_targets, 3)),
    )
