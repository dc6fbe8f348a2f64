"""Framework-free pieces of the Keras and torch adapters: loss averaging, NaN checks, chunked prediction."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

from seqsweep.errors import TrialError

PREDICT_BATCH = 1024
"""Windows per forward pass in `predict_proba`: bounds memory on long inputs."""


class WeightedMean:
    """Mean of per-batch losses weighted by windows per batch (what Keras's `fit`/`evaluate` report)."""

    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0

    def add(self, value: float, weight: int) -> None:
        self.total += value * weight
        self.count += weight

    @property
    def value(self) -> float:
        if self.count == 0:
            raise TrialError("no batches to average: the split is empty")
        return self.total / self.count


def require_finite_batch(loss: float, what: str, index: int) -> float:
    """Fail the trial at the first non-finite batch loss, naming the batch."""
    if not math.isfinite(loss):
        raise TrialError(
            f"{what} loss is {loss} at batch {index + 1}; lower the learning rate or check the inputs "
            f"for NaN/inf values"
        )
    return loss


def in_chunks(x: np.ndarray, size: int = PREDICT_BATCH) -> Iterator[np.ndarray]:
    for start in range(0, len(x), size):
        yield x[start : start + size]


def predict_in_chunks(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """Concatenate `predict` over chunks of `x`; an empty `x` gives an empty result with the right rank."""
    parts = [predict(chunk) for chunk in in_chunks(x)]
    if not parts:
        return predict(x[:1])[:0]
    return np.concatenate(parts, axis=0)
