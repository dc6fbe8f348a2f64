"""GPU checks: skipped cleanly without CUDA. Run them on a GPU machine: `pytest -m gpu tests/trainables`."""

from __future__ import annotations

from pathlib import Path

import pytest
from trainables_helpers import TINY_CONFIGS

from seqsweep.constants import VAL_MACRO_F1
from seqsweep.data.bundle import DatasetBundle
from seqsweep.trainables import DeviceSettings, InMemoryReporter, TrialSettings, load_checkpoint, train


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


requires_cuda = pytest.mark.skipif(
    not cuda_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)"
)


@pytest.mark.gpu
@requires_cuda
def test_gru_trains_on_a_fractional_gpu(synthetic_bundle: DatasetBundle, tmp_path: Path) -> None:
    import torch

    from seqsweep.trainables.torch_common import TorchModel

    device = DeviceSettings(cpus=1, gpu_fraction=0.5)
    reporter = InMemoryReporter(root=tmp_path)
    train(
        {**TINY_CONFIGS["gru"], "epochs": 2}, synthetic_bundle, TrialSettings(model="gru"), reporter, device
    )
    assert 0.0 <= reporter.reports[-1][VAL_MACRO_F1] <= 1.0
    model = load_checkpoint(reporter.last_checkpoint, device)
    assert isinstance(model, TorchModel)
    assert next(model.net.parameters()).is_cuda
    assert torch.cuda.max_memory_allocated() <= 0.5 * torch.cuda.get_device_properties(0).total_memory


@pytest.mark.gpu
@requires_cuda
def test_keras_lstm_trains_on_the_gpu(synthetic_bundle: DatasetBundle, tmp_path: Path) -> None:
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            pytest.skip("TensorFlow in this environment has no GPU support (tensorflow-cpu)")
    reporter = InMemoryReporter(root=tmp_path)
    device = DeviceSettings(cpus=1, gpu_fraction=0.5)
    train(
        {**TINY_CONFIGS["lstm"], "epochs": 1}, synthetic_bundle, TrialSettings(model="lstm"), reporter, device
    )
    assert 0.0 <= reporter.reports[-1][VAL_MACRO_F1] <= 1.0
