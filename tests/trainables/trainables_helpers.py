"""Helpers for the trainable tests: the shipped `seqsweep.testing` plus this folder's user examples.

(A module with its own name rather than `conftest`, which several test folders share. pytest puts
this folder on sys.path when it imports the tests here, so "tiny_user_models:..." imports like a
user's package.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqsweep.testing import FLAT_BAND, example_configs, hand_masked_cross_entropy, make_bundle
from seqsweep.trainables import family_names

__all__ = [
    "FAMILIES",
    "FLAT_BAND",
    "HERE",
    "TINY_CONFIGS",
    "USER_EXAMPLES",
    "hand_masked_cross_entropy",
    "make_bundle",
]

HERE = Path(__file__).parent
"""This folder, where `tiny_user_models` lives."""

USER_EXAMPLES: dict[str, dict[str, Any]] = {
    "tiny_user_models:keras_model": {"units": 16},
    "tiny_user_models:torch_model": {"units": 16, "learning_rate": 0.01},
}
"""User models (`package.module:function`) run through the contract beside the registered families."""

TINY_CONFIGS: dict[str, dict[str, Any]] = {
    **example_configs(),
    **USER_EXAMPLES,
}
"""Small, fast configs per family (model name → config without epochs/batch_size): each registered
family's own `example_config`, then the user examples."""

FAMILIES = (*family_names(), *USER_EXAMPLES)
"""Every registered family, then the user examples: registering a family enrols it in the contract."""
