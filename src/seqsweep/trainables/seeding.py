"""Per-trial seeds: derived from the sweep seed and the trial id, so reruns of a trial draw the same.

A sha256 of the parts (not Python's salted `hash`) keeps the seed the same across processes and machines.
"""

from __future__ import annotations

import hashlib
import random
import sys

import numpy as np

_SEED_BITS = 31
"""Every framework accepts a seed below 2**31."""


def derive_seed(*parts: object) -> int:
    """A stable seed in [0, 2**31) from any printable parts."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") % (1 << _SEED_BITS)


def trial_seed(sweep_seed: int, trial_id: str) -> int:
    """The seed of one trial of a sweep."""
    return derive_seed("trial", sweep_seed, trial_id)


def seed_everything(seed: int, framework: str) -> None:
    """Seed Python and NumPy, and the global generators of the framework(s) the family uses.

    `framework` is `keras`, `torch` or `auto` (a user's model: both are seeded).
    """
    random.seed(seed)
    np.random.seed(seed)
    if framework in ("keras", "auto"):
        import keras

        # Tune reuses trial processes: drop the previous trial's models and Keras's global state first.
        keras.utils.clear_session(free_memory=True)
        if keras.backend.backend() == "tensorflow":
            keras.utils.set_random_seed(seed)  # Python, NumPy, TF and Keras's global SeedGenerator
        # Other backends: Keras layers draw their seeds from Python's `random`, seeded above, and
        # `keras.utils.set_random_seed` would import TensorFlow just to seed it.
    if framework in ("torch", "auto") or _keras_on_torch(framework):
        import torch

        torch.manual_seed(seed)  # also seeds every CUDA device


def reseed_epoch(seed: int, framework: str) -> None:
    """Reseed the generators an epoch draws from without a generator state of its own.

    torch's dropout draws from the global generator, so reseeding it per epoch makes a resumed trial
    draw what an uninterrupted one would. Keras layers draw from their own SeedGenerator variables
    instead, and `keras.utils.set_random_seed` would make TensorFlow retrace every compiled step, so
    Keras is seeded once per trial only.
    """
    random.seed(seed)
    np.random.seed(seed)
    if framework in ("torch", "auto") and "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)


def _keras_on_torch(framework: str) -> bool:
    if framework != "keras":
        return False
    import keras

    return bool(keras.backend.backend() == "torch")
