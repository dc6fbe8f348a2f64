"""The loopback cluster of the cluster tests; it lives in `seqsweep.testing.local_cluster` (the benchmarks use it too)."""

from seqsweep.testing.local_cluster import LocalRayCluster, TwoNodes, free_port, node_ip

__all__ = ["LocalRayCluster", "TwoNodes", "free_port", "node_ip"]
