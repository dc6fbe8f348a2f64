"""GRU-ow's network in torch: GRU over the window, linear heads on the last hidden state."""

from __future__ import annotations

import torch
from torch import nn

from seqsweep.constants import MASK_VALUE, N_CLASSES
from seqsweep.data.bundle import DataShape


class GRUNet(nn.Module):
    """(B, L, F) → class logits (B, H, T, 3), plus moves (B, H, T) with the regression objective.

    Missing inputs (MASK_VALUE) are replaced by 0, the train mean of a scaled feature, inside the
    network so that an exported model does the same. `dropout` acts between stacked GRU layers (torch's
    GRU semantics) and on the last hidden state, so it also acts with one layer.
    """

    def __init__(
        self,
        shape: DataShape,
        hidden_size: int,
        num_layers: int,
        dropout: float,
        regression: bool,
    ) -> None:
        super().__init__()
        self.horizon = shape.horizon
        self.n_targets = shape.n_targets
        self.gru = nn.GRU(
            shape.n_features,
            hidden_size,
            num_layers=num_layers,
            dropout=dropout if num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.dropout = nn.Dropout(dropout)
        self.classes = nn.Linear(hidden_size, shape.horizon * shape.n_targets * N_CLASSES)
        self.moves = nn.Linear(hidden_size, shape.horizon * shape.n_targets) if regression else None

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        x = torch.where(x == MASK_VALUE, torch.zeros_like(x), x)  # (B, L, F)
        out, _ = self.gru(x)  # (B, L, hidden)
        last = self.dropout(out[:, -1])  # (B, hidden)
        logits = self.classes(last).view(-1, self.horizon, self.n_targets, N_CLASSES)  # (B, H, T, 3)
        if self.moves is None:
            return logits
        return logits, self.moves(last).view(-1, self.horizon, self.n_targets)  # (B, H, T)
