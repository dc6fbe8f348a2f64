"""Fixtures of the results tests: one crafted experiment per session (see `results_helpers`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from results_helpers import run_crafted_experiment


@pytest.fixture(scope="session")
def crafted_experiment(ray_cluster: object, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The crafted sweep: 8 trials (4 valid, 2 errored, 2 NaN), run once per session."""
    return run_crafted_experiment(tmp_path_factory.mktemp("crafted_runs"))
