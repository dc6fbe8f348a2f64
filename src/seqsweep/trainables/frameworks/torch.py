"""The PyTorch adapter. torch is imported inside the methods, never on import.

Checkpoints hold `model.pt` ({"model", "optimizer", "scheduler"} state dicts) and are loaded into a
network the family rebuilds. Bundles hold a TorchScript trace returning probabilities
(`model.torchscript.pt`, loadable without seqsweep) plus the network's state dict.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqsweep.constants import N_CLASSES
from seqsweep.errors import ConfigError
from seqsweep.trainables.checkpoint import MODEL_INFO_FILE, ModelInfo
from seqsweep.trainables.frameworks.base import Framework

if TYPE_CHECKING:
    from seqsweep.trainables.base import DeviceSettings, TrainableModel
    from seqsweep.trainables.family import ModelFamily

TORCHSCRIPT_FILE = "model.torchscript.pt"
"""In a bundle's `model/`: `torch.jit.load(path)(x)` gives (B, H, T, 3) probabilities."""
STATE_DICT_FILE = "state_dict.pt"
"""In a bundle's `model/`: the network's weights, for rebuilding it with its family."""
TRACE_WINDOWS = 2
"""Example windows the export is traced on (any batch of the same (L, F) then runs)."""


class TorchFramework(Framework):
    """PyTorch: masked cross-entropy (+ MSE for the regression objective), the family's optimizer."""

    name = "torch"
    exact_resume = True
    missing_inputs = "the torch network replaces them by 0, the train mean of a scaled feature"

    def configure(self, device: DeviceSettings) -> None:
        from seqsweep.trainables.device import configure_torch

        configure_torch(device)

    def seed(self, seed: int) -> None:
        """torch's global generator (every CUDA device's too)."""
        import torch

        torch.manual_seed(seed)

    def reseed_epoch(self, seed: int) -> None:
        """torch's dropout draws from the global generator: reseeding it per epoch makes a resumed trial
        draw what an uninterrupted one would."""
        if "torch" in sys.modules:
            import torch

            torch.manual_seed(seed)

    def owns(self, network: Any) -> bool:
        torch = sys.modules.get("torch")
        return torch is not None and isinstance(network, torch.nn.Module)

    def wrap(
        self, network: Any, info: ModelInfo, device: DeviceSettings, family: ModelFamily
    ) -> TrainableModel:
        """On the trial's device, checked on one zero window, with `family.optimizer` and `family.scheduler`."""
        import torch

        from seqsweep.trainables.device import torch_device
        from seqsweep.trainables.torch_common import TorchModel, split_output

        target = torch_device(device)
        network = network.to(target)
        probe = torch.zeros((1, info.shape.lookback, info.shape.n_features), device=target)
        with torch.no_grad():
            logits, _ = split_output(network.eval()(probe))  # eval: no dropout draw
        expected = (info.shape.horizon, info.shape.n_targets, N_CLASSES)
        if tuple(logits.shape[1:]) != expected:
            raise ConfigError(
                f"model {info.family!r}: the torch module outputs (batch, {', '.join(map(str, logits.shape[1:]))}); "
                f"the dataset needs (batch, {', '.join(map(str, expected))})"
            )
        optimizer = family.optimizer(network, info.config)
        scheduler = family.scheduler(optimizer, info.config)
        return TorchModel(
            network, info, target, optimizer, scheduler, regression=family.predicts_moves(info.config)
        )

    def restore(
        self, directory: Path, info: ModelInfo, device: DeviceSettings, rebuild: Callable[[], TrainableModel]
    ) -> TrainableModel:
        """`rebuild()`, then weights, optimizer and scheduler state from `model.pt`."""
        from seqsweep.trainables.torch_common import TorchModel

        model: TorchModel = self.rebuilt(directory, info, rebuild, TorchModel)
        model.load_state(directory)
        return model

    def export(self, model: Any, directory: Path, example: np.ndarray) -> dict[str, str]:
        """The TorchScript trace (on `example[:2]`), the state dict and `model.json`."""
        import torch

        from seqsweep.trainables.torch_common import export_torchscript

        model.info.write(directory)
        with warnings.catch_warnings():  # the GRU's shape checks become constants in the trace, as intended
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            export_torchscript(model, directory / TORCHSCRIPT_FILE, example[:TRACE_WINDOWS])
        torch.save(model.net.state_dict(), directory / STATE_DICT_FILE)
        return {"torchscript": TORCHSCRIPT_FILE, "state_dict": STATE_DICT_FILE, "model_info": MODEL_INFO_FILE}

    def load_export(self, directory: Path) -> Any:
        import torch

        return torch.jit.load(str(directory / TORCHSCRIPT_FILE), map_location="cpu").eval()

    def predict_export(self, exported: Any, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return np.asarray(exported(torch.from_numpy(np.ascontiguousarray(x))).numpy())


FRAMEWORK = TorchFramework()
