"""Fixtures for the trainable tests (helpers live in `trainables_helpers`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:  # `trainables_helpers` and "tiny_user_models:..." import from here
    sys.path.insert(0, str(HERE))

from trainables_helpers import make_bundle  # noqa: E402

from seqsweep.data.bundle import DatasetBundle  # noqa: E402


@pytest.fixture(scope="session")
def synthetic_bundle() -> DatasetBundle:
    return make_bundle()
