"""`gru`: GRU-ow's network (PyTorch) with a class head, AdamW, ReduceLROnPlateau and plateau early stopping.

Importing this module does not import torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from seqsweep.data.bundle import DataShape
from seqsweep.trainables.base import DeviceSettings, TrainableModel
from seqsweep.trainables.checkpoint import ModelInfo
from seqsweep.trainables.family import FamilyBase, as_choice, as_float, as_int

OBJECTIVES = ("classification", "regression")
LR_PLATEAU_FACTOR = 0.5
"""ReduceLROnPlateau multiplies the learning rate by this after a plateau of LR_PLATEAU_PATIENCE epochs."""
LR_PLATEAU_PATIENCE = 2
"""Shorter than early stopping's default patience (5), so a plateau first gets a smaller step."""


class GRUFamily(FamilyBase):
    """GRU(hidden, layers, dropout) → Linear from the last hidden state → (H, T, 3) logits.

    `objective: regression` adds GRU-ow's regression head: the moves (first differences of the targets
    from the last observed value) are predicted too, the loss is CE + MSE and val_mse is reported.
    """

    name = "gru"
    framework = "torch"
    defaults: ClassVar[Mapping[str, Any]] = {
        "hidden_size": 64,
        "num_layers": 1,  # GRU-ow's single hidden layer
        "dropout": 0.0,
        "learning_rate": 1e-3,
        "weight_decay": 1e-2,  # AdamW's default
        "objective": "classification",
        "patience": 5,  # plateau early stopping on val_loss
    }

    def _check(self, config: dict[str, Any]) -> None:
        config["hidden_size"] = as_int(self.name, "hidden_size", config["hidden_size"], 1)
        config["num_layers"] = as_int(self.name, "num_layers", config["num_layers"], 1)
        config["dropout"] = as_float(self.name, "dropout", config["dropout"], 0.0, 1.0)
        config["learning_rate"] = as_float(self.name, "learning_rate", config["learning_rate"], 0.0)
        config["weight_decay"] = as_float(self.name, "weight_decay", config["weight_decay"], 0.0)
        config["objective"] = as_choice(self.name, "objective", config["objective"], OBJECTIVES)

    def _assemble(self, config: dict[str, Any], shape: DataShape, device: DeviceSettings) -> Any:
        import torch

        from seqsweep.trainables.device import torch_device
        from seqsweep.trainables.torch_common import TorchModel, adamw
        from seqsweep.trainables.torch_networks import GRUNet

        regression = config["objective"] == "regression"
        target = torch_device(device)
        net = GRUNet(shape, config["hidden_size"], config["num_layers"], config["dropout"], regression).to(
            target
        )
        optimizer = adamw(net, config)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=LR_PLATEAU_FACTOR, patience=LR_PLATEAU_PATIENCE
        )
        info = ModelInfo(self.name, self.framework, config, shape)
        return TorchModel(net, info, target, optimizer, scheduler, regression=regression)

    def build(self, config: Mapping[str, Any], shape: DataShape, device: DeviceSettings) -> TrainableModel:
        model: TrainableModel = self._assemble(self.resolve(config), shape, device)
        return model

    def load(self, directory: Path, device: DeviceSettings) -> TrainableModel:
        info = ModelInfo.read(Path(directory))
        model = self._assemble(self.resolve(info.config), info.shape, device)
        model.load_state(Path(directory))
        loaded: TrainableModel = model
        return loaded
