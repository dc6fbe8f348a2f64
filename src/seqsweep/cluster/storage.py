"""Refuse a storage path that the nodes of a multi-node cluster do not all see.

Ray no longer syncs trial directories to the head: every node writes its trials' checkpoints and
results straight to the storage path. On more than one node that path must be shared (an NFS
mount on every node, or s3:// / gs://). Rather than guess from the path, the driver writes a marker
file and asks one task on every node whether it sees it.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from seqsweep.errors import ConfigError

CHECK_TIMEOUT_S = 120


@ray.remote(num_cpus=0)
def _sees(path: str) -> bool:
    return os.path.exists(path)


def check_shared_storage(root: str) -> None:
    if "://" in root:
        return
    nodes = [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
    if len(nodes) <= 1:
        return
    Path(root).mkdir(parents=True, exist_ok=True)
    marker = Path(root) / f".seqsweep-shared-{uuid.uuid4().hex}"
    marker.touch()
    try:
        refs = [
            _sees.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote(
                str(marker)
            )
            for node in nodes
        ]
        seen = ray.get(refs, timeout=CHECK_TIMEOUT_S)
    finally:
        marker.unlink(missing_ok=True)
    blind = sum(1 for ok in seen if not ok)
    if blind:
        raise ConfigError(
            f"storage_path {root}: {blind} of {len(nodes)} nodes cannot see this local path; Ray no longer syncs "
            f"trial directories to the head, so on a multi-node cluster use shared storage (an NFS path mounted "
            f"on every node, or s3://, gs://)"
        )
