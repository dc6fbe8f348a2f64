"""A user family for tests whose network's training step can end its worker process (`os._exit`), as an
OOM kill or a crash in native code does: config `mode: exit` dies in the first training batch, `ok` trains."""

from __future__ import annotations

import os
from typing import Any


def build(config: dict[str, Any], shape: Any) -> Any:
    import torch

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mode = config.get("mode", "ok")
            self.linear = torch.nn.Linear(shape.n_features, shape.horizon * shape.n_targets * 3)

        def forward(self, x: Any) -> Any:
            if self.training and self.mode == "exit":
                os._exit(1)
            return self.linear(x[:, -1, :]).reshape(-1, shape.horizon, shape.n_targets, 3)

    return Net()
