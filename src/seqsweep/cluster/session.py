"""Connect to a Ray cluster, or start a private local one and stop only that.

Without an address a local Ray is started with `address="local"` (it never joins someone else's
cluster, and its GCS takes a free port, never Redis's 6379) and shut down at the end. With an
address (`auto`, `HOST:PORT`, `ray://HOST:10001`) the cluster is used and left running.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import ray

from seqsweep.errors import ConfigError

logger = logging.getLogger(__name__)


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[None]:
    """Use the Ray already initialised in this process, else connect or start one for the block."""
    if ray.is_initialized():
        yield
        return
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    if address is None:
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    else:
        try:
            ray.init(address=address, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"--address {address}: cannot connect to a Ray cluster there ({exc})") from None
    try:
        yield
    finally:
        ray.shutdown()


def cluster_gpus() -> float:
    return float(ray.cluster_resources().get("GPU", 0.0))
