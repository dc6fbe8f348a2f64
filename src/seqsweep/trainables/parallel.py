"""Data parallelism without Ray: which worker this is, and sums over all workers.

torch.distributed does the communication; Ray Train (or `torchrun`) only starts the processes and
the process group. Every worker draws the same shuffle and keeps every `world_size`-th window of
each batch (`DatasetBundle.batches(shard=...)`), so N workers step on the same global batches one
worker would, with the gradients averaged by DistributedDataParallel.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DataParallel:
    rank: int = 0
    world_size: int = 1

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_chief(self) -> bool:
        """Rank 0 writes the checkpoints; every rank computes the same metrics."""
        return self.rank == 0

    @property
    def shard(self) -> tuple[int, int] | None:
        """What `DatasetBundle.batches(shard=...)` takes: None when training alone."""
        return (self.rank, self.world_size) if self.active else None


SINGLE = DataParallel()
"""One worker: the plain loop."""


def all_reduce_sums(*values: float) -> tuple[float, ...]:
    """The sums of `values` over every worker of the current torch.distributed process group."""
    import torch
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=torch.float64)
    if dist.get_backend() == "nccl":
        tensor = tensor.cuda()
    dist.all_reduce(tensor)
    return tuple(float(v) for v in tensor.cpu())
