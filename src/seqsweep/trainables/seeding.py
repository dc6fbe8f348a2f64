"""Per-trial seeds: derived from the sweep seed and the trial id, so reruns of a trial draw the same.

A sha256 of the parts (not Python's salted `hash`) keeps the seed the same across processes and machines.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from seqsweep.trainables.frameworks import Framework

_SEED_BITS = 31
"""Every framework accepts a seed below 2**31."""


def derive_seed(*parts: object) -> int:
    """A stable seed in [0, 2**31) from any printable parts."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") % (1 << _SEED_BITS)


def trial_seed(sweep_seed: int, trial_id: str) -> int:
    """The seed of one trial of a sweep."""
    return derive_seed("trial", sweep_seed, trial_id)


def seed_everything(seed: int, frameworks: Iterable[Framework]) -> None:
    """Seed Python and NumPy, then the global generators of each framework a family uses
    (`ModelFamily.frameworks`: one, or both training frameworks for a user's function)."""
    random.seed(seed)
    np.random.seed(seed)
    for framework in frameworks:
        framework.seed(seed)


def reseed_epoch(seed: int, frameworks: Iterable[Framework]) -> None:
    """Reseed the generators an epoch draws from without a generator state of its own: Python's,
    NumPy's and each framework's `reseed_epoch` (torch's dropout; Keras keeps its own generators)."""
    random.seed(seed)
    np.random.seed(seed)
    for framework in frameworks:
        framework.reseed_epoch(seed)
