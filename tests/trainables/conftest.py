"""Fixtures for the trainable tests (helpers live in `trainables_helpers` and `seqsweep.testing`)."""

from __future__ import annotations

import pytest

from seqsweep.data.bundle import DatasetBundle
from seqsweep.testing import make_bundle


@pytest.fixture(scope="session")
def synthetic_bundle() -> DatasetBundle:
    return make_bundle()
