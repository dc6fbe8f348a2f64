"""Make a trial use exactly the CPUs and the share of a GPU it was given.

Concurrent trials on one machine each get `cpus`; without a cap TensorFlow and torch each start one
thread per core and the trials oversubscribe the machine. TensorFlow's thread pools and GPU options
can only be set before its runtime starts, so a second call in the same process keeps the first
settings (logged at debug level) instead of failing. The framework adapters
(`seqsweep.trainables.frameworks`) call these from their `configure`.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from typing import TYPE_CHECKING

from seqsweep.trainables.base import DeviceSettings

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

MAX_INTER_OP_THREADS = 2
"""Inter-op pools run independent ops side by side; more than 2 rarely helps small recurrent nets."""


def inter_op_threads(cpus: int) -> int:
    return max(1, min(MAX_INTER_OP_THREADS, cpus))


def configure_tensorflow(device: DeviceSettings) -> None:
    """TF thread pools from `cpus`; a fractional GPU becomes a logical memory limit, a whole one memory growth."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(device.cpus)
        tf.config.threading.set_inter_op_parallelism_threads(inter_op_threads(device.cpus))
    except RuntimeError:
        logger.debug("TensorFlow already started; keeping its thread settings")
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return
    try:
        if device.gpu_fraction <= 0:
            tf.config.set_visible_devices([], "GPU")
            return
        total_mb = gpu_total_memory_mb()
        if device.gpu_fraction < 1 and total_mb is not None:
            limit = int(total_mb * device.gpu_fraction)
            tf.config.set_logical_device_configuration(
                gpus[0], [tf.config.LogicalDeviceConfiguration(memory_limit=limit)]
            )
        else:
            for gpu in gpus:
                tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError:
        logger.debug("TensorFlow already started; keeping its GPU settings")


def configure_torch(device: DeviceSettings) -> torch.device:
    """torch thread pools from `cpus`; CUDA (with a memory cap for a fractional GPU) when given a GPU."""
    import torch

    torch.set_num_threads(device.cpus)
    try:
        torch.set_num_interop_threads(inter_op_threads(device.cpus))
    except RuntimeError:
        logger.debug("torch inter-op pool already started; keeping its size")
    target = torch_device(device)
    if target.type == "cuda":
        torch.cuda.set_per_process_memory_fraction(min(1.0, device.gpu_fraction), target)
    return target


def torch_device(device: DeviceSettings) -> torch.device:
    """CUDA when the trial has a share of a GPU and torch sees one, else the CPU."""
    import torch

    if device.gpu_fraction > 0 and torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def gpu_total_memory_mb() -> int | None:
    """Total memory of the first GPU this process may use, from nvidia-smi (None if it cannot tell).

    nvidia-smi ignores CUDA_VISIBLE_DEVICES, so the first visible id (an index or a UUID, as Ray sets
    it) is passed on explicitly.
    """
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    select = ["-i", visible] if visible else []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=memory.total", "--format=csv,noheader,nounits", *select],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        return int(out.splitlines()[0].strip())
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
