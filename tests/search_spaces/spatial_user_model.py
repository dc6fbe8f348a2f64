"""A user model with a key of its own named like a dropout rate but holding a word (`dropout_mode`),
imported as "spatial_user_model:build" the way a sweep file names its own model."""

from __future__ import annotations

from typing import Any

from seqsweep.constants import MASK_VALUE
from seqsweep.data.bundle import DataShape


def build(config: dict[str, Any], shape: DataShape) -> Any:
    """A torch.nn.Module giving (B, H, T, 3) logits: a 1-D convolution over time, then `dropout_mode`
    dropout (`spatial`: whole feature channels, `standard`: single values), then a linear head."""
    import torch
    from torch import nn

    dropout = nn.Dropout1d(0.1) if config["dropout_mode"] == "spatial" else nn.Dropout(0.1)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv1d(shape.n_features, 8, kernel_size=3, padding=1)
            self.dropout = dropout
            self.head = nn.Linear(8 * shape.lookback, shape.horizon * shape.n_targets * 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = torch.where(x == MASK_VALUE, torch.zeros_like(x), x).transpose(1, 2)  # (B, F, L)
            x = self.dropout(torch.relu(self.conv(x)))
            return self.head(x.flatten(1)).view(-1, shape.horizon, shape.n_targets, 3)

    return Net()


def forgot_shape(config: dict[str, Any]) -> Any:
    """A model function (or training function) that takes too few arguments: every trial would fail."""
    return None
