"""GRU specifics: the regression objective, LR-on-plateau state in checkpoints, TorchScript export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from trainables_helpers import hand_masked_cross_entropy

from seqsweep.data.bundle import DatasetBundle
from seqsweep.metrics import masked_mse
from seqsweep.trainables import DeviceSettings, load_checkpoint, resolve_family
from seqsweep.trainables.torch_common import export_torchscript

CONFIG = {"hidden_size": 8, "batch_size": 32}


def test_regression_objective_adds_the_masked_mse(synthetic_bundle: DatasetBundle) -> None:
    model = resolve_family("gru").build(
        {**CONFIG, "objective": "regression"}, synthetic_bundle.shape, DeviceSettings()
    )
    valid = synthetic_bundle.splits["valid"]
    x = synthetic_bundle.windows("valid", slice(0, 64))
    evaluation = model.evaluate([(x, valid.labels[:64], valid.moves[:64])])
    assert evaluation.moves is not None and evaluation.moves.shape == valid.moves[:64].shape
    expected = hand_masked_cross_entropy(valid.labels[:64], evaluation.probs) + masked_mse(
        valid.moves[:64], evaluation.moves
    )
    assert evaluation.loss == pytest.approx(expected, rel=1e-5)


def test_lr_plateau_state_survives_a_checkpoint(synthetic_bundle: DatasetBundle, tmp_path: Path) -> None:
    model = resolve_family("gru").build(
        {**CONFIG, "learning_rate": 0.01}, synthetic_bundle.shape, DeviceSettings()
    )
    for _ in range(4):  # one best epoch, then a plateau longer than the scheduler's patience
        model.end_epoch(1.0)
    assert model.optimizer.param_groups[0]["lr"] == pytest.approx(0.005)
    model.save(tmp_path)
    again = load_checkpoint(tmp_path)
    assert again.optimizer.param_groups[0]["lr"] == pytest.approx(0.005)
    assert again.scheduler.state_dict() == model.scheduler.state_dict()


def test_torchscript_export_predicts_like_the_model(synthetic_bundle: DatasetBundle, tmp_path: Path) -> None:
    model = resolve_family("gru").build(CONFIG, synthetic_bundle.shape, DeviceSettings())
    x = synthetic_bundle.windows("valid", slice(0, 16))
    path = export_torchscript(model, tmp_path / "gru.pt", x)
    scripted = torch.jit.load(str(path))
    with torch.no_grad():
        exported = scripted(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(exported, model.predict_proba(x), rtol=1e-5, atol=1e-6)
