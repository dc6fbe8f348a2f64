"""A real two-node Ray cluster on this machine, started once for the cluster tests."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_cluster import LocalRayCluster, TwoNodes


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[TwoNodes]:
    """A head and one worker, 1 CPU each. The last test of the module may kill the worker."""
    os.environ["RAY_AUTH_MODE"] = "disabled"  # this process's Jobs client talks to the loopback cluster
    # A short temp dir: Ray's unix socket paths must stay under 107 characters.
    cluster = LocalRayCluster(Path(tempfile.mkdtemp(prefix="sqc", dir="/tmp")))
    try:
        cluster.start_head()
        worker, worker_id = cluster.add_worker()
        yield TwoNodes(cluster, worker, worker_id)
    finally:
        cluster.stop()
