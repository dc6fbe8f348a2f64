"""What this machine offers a local Ray, read without importing Ray (so `validate` stays quick).

Ray detects NVIDIA GPUs through the driver and restricts them to `CUDA_VISIBLE_DEVICES`
(Ray docs, "Accelerator support"); CPUs are the ones this process may run on. `validate` uses these
counts for warnings only: a sweep file may be meant for a cluster that has what this machine lacks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from seqsweep.search_spaces.settings import ResourceSettings

NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")
"""One entry per NVIDIA GPU the Linux driver sees."""


def machine_gpus(driver: Path = NVIDIA_GPUS) -> int:
    """NVIDIA GPUs a local Ray started here would count: the driver's (`driver`, 0 without it), at most
    as many as `CUDA_VISIBLE_DEVICES` lists when it is set (an empty value hides them all)."""
    found = len(list(driver.iterdir())) if driver.is_dir() else 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return found
    return min(found, len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"]))


def machine_cpus() -> int:
    """CPUs this process may run on (its scheduler affinity; the machine's count where that is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def machine_resource_warnings(resources: ResourceSettings) -> list[str]:
    """One line per trial resource this machine lacks (`machine_gpus`, `machine_cpus`), which a local
    `seqsweep run` refuses (`session.check_trial_fits`); empty when the trial fits here."""
    lines = []
    if resources.gpu > 0 and machine_gpus() == 0:
        lines.append(
            f"resources.gpu: the sweep asks for {resources.gpu:g} GPU per trial but no GPU is available on "
            f"this machine, so `seqsweep run` here refuses it: set resources.gpu: 0, or run it on a Ray "
            f"cluster with GPUs (`seqsweep run --address ...` or `seqsweep submit`)"
        )
    cpus = machine_cpus()
    if resources.cpu > cpus:
        lines.append(
            f"resources.cpu: the sweep asks for {resources.cpu:g} CPUs per trial but this machine has "
            f"{cpus}, so `seqsweep run` here refuses it: set resources.cpu, or run it on a bigger cluster"
        )
    return lines
