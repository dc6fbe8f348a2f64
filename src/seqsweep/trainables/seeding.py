"""Per-trial seeds: derived from the sweep seed and the trial's place in its sweep, so that the same
sweep file with the same `search.seed` trains its k-th trial with the same seed in every run.

A sweep's trial ids carry the trial's index (`seqsweep.tuning.trial_ids.IndexedSearchGenerator`: the
format `<5 hex>_<index:05d>` Ray gives the trials of a search without a searcher, index from 0 in the
order Tune created them); `trial_seed` keys the seed to that index, not to the id's random prefix. An
id without an index (an experiment made before ids carried one, a trial run outside Tune) keys the
seed to the whole id, as before, so such a trial's refit still draws its own seed.

A sha256 of the parts (not Python's salted `hash`) keeps the seed the same across processes and machines.
"""

from __future__ import annotations

import hashlib
import random
import re
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


_INDEXED_ID = re.compile(r"^[0-9a-f]{5}_(\d{5,})$")
"""A trial id that carries its index: five hex digits, an underscore, the index (at least 5 digits)."""


def indexed_trial_id(prefix: str, index: int) -> str:
    """The trial id `<prefix>_<index:05d>` (Ray's `BasicVariantGenerator` format); `prefix`: 5 hex digits.

    Raises ValueError for another prefix or a negative index."""
    trial_id = f"{prefix}_{index:05d}"
    if index < 0 or _INDEXED_ID.match(trial_id) is None:
        raise ValueError(f"a trial id prefix is 5 lower-case hex digits and the index >= 0, got {trial_id!r}")
    return trial_id


def trial_index(trial_id: str) -> int | None:
    """The index an id made by `indexed_trial_id` carries; None for any other id."""
    match = _INDEXED_ID.match(trial_id)
    return None if match is None else int(match.group(1))


def trial_seed(sweep_seed: int, trial_id: str) -> int:
    """The seed of one trial of a sweep: keyed to the trial's index where its id carries one (the same
    in every run of the sweep with this `sweep_seed`), else to the whole id."""
    index = trial_index(trial_id)
    if index is None:
        return derive_seed("trial", sweep_seed, trial_id)
    return derive_seed("trial", sweep_seed, "index", index)


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
