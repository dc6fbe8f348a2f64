"""`gru`: GRU-ow's network (PyTorch) with a class head, AdamW, ReduceLROnPlateau and plateau early stopping.

Importing this module does not import torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from seqsweep.data.bundle import DataShape
from seqsweep.trainables.family import ModelFamily
from seqsweep.trainables.hyperparameters import Choice, Float, Hyperparameter, Int

OBJECTIVES = ("classification", "regression")
LR_PLATEAU_FACTOR = 0.5
"""ReduceLROnPlateau multiplies the learning rate by this after a plateau of LR_PLATEAU_PATIENCE epochs."""
LR_PLATEAU_PATIENCE = 2
"""Shorter than early stopping's default patience (5), so a plateau first gets a smaller step."""


class GRUFamily(ModelFamily):
    """GRU(hidden, layers, dropout) → Linear from the last hidden state → (H, T, 3) logits.

    `objective: regression` adds GRU-ow's regression head: the moves (first differences of the targets
    from the last observed value) are predicted too, the loss is CE + MSE and val_mse is reported.
    Optimizer AdamW (the base's default); ReduceLROnPlateau on the validation loss.
    """

    name = "gru"
    framework = "torch"
    hyperparameters: ClassVar[Mapping[str, Hyperparameter]] = {
        "hidden_size": Int(1, default=64),
        "num_layers": Int(1, default=1),  # GRU-ow's single hidden layer
        "dropout": Float(0, 1, closed="left", default=0.0),
        "learning_rate": Float(0, default=1e-3),
        "weight_decay": Float(0, default=1e-2),  # AdamW's default
        "objective": Choice(OBJECTIVES, default="classification"),
        "patience": Int(1, default=5, allow_none=True),  # plateau early stopping on val_loss
    }
    example_config: ClassVar[Mapping[str, Any]] = {"hidden_size": 16, "learning_rate": 0.01}

    def network(self, config: dict[str, Any], shape: DataShape) -> Any:
        from seqsweep.trainables.torch_networks import GRUNet

        return GRUNet(
            shape, config["hidden_size"], config["num_layers"], config["dropout"], self.predicts_moves(config)
        )

    def scheduler(self, optimizer: Any, config: Mapping[str, Any]) -> Any:
        """ReduceLROnPlateau on the validation loss: factor LR_PLATEAU_FACTOR after LR_PLATEAU_PATIENCE epochs."""
        import torch

        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=LR_PLATEAU_FACTOR, patience=LR_PLATEAU_PATIENCE
        )

    def predicts_moves(self, config: Mapping[str, Any]) -> bool:
        return config["objective"] == "regression"
