"""Test helpers that ship with seqsweep: a synthetic dataset and the trainable contract.

Check your own model the way seqsweep checks its built-in families::

    python -c "from seqsweep.testing import check_family; check_family('mypkg.models:build')"

Importing this package imports neither pytest nor TensorFlow nor torch.
"""

from seqsweep.testing.bundles import FLAT_BAND, hand_masked_cross_entropy, make_bundle
from seqsweep.testing.contract import (
    CHECKS,
    LEARN_ROWS,
    ContractRun,
    check_checkpoints,
    check_determinism,
    check_family,
    check_learns,
    check_reload,
    check_reports,
    check_resume,
    check_val_skill,
    example_config,
    example_configs,
    rerun,
    run_family,
)

__all__ = [
    "CHECKS",
    "FLAT_BAND",
    "LEARN_ROWS",
    "ContractRun",
    "check_checkpoints",
    "check_determinism",
    "check_family",
    "check_learns",
    "check_reload",
    "check_reports",
    "check_resume",
    "check_val_skill",
    "example_config",
    "example_configs",
    "hand_masked_cross_entropy",
    "make_bundle",
    "rerun",
    "run_family",
]
