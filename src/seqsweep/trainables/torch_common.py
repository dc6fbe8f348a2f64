"""torch pieces shared by every torch family: masked losses, the adapter, TorchScript export.

Importing this module imports torch.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seqsweep.constants import MASK_VALUE
from seqsweep.errors import ConfigError
from seqsweep.trainables.adapters import WeightedMean, predict_in_chunks, require_finite_batch
from seqsweep.trainables.base import Batch, Evaluation, TrainableModel
from seqsweep.trainables.checkpoint import TORCH_STATE_FILE, DamagedCheckpointFile, ModelInfo


def masked_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over positions whose label is not MASK_VALUE.

    `logits` (B, H, T, 3), `labels` (B, H, T). Masked positions are dropped before the softmax, so
    whatever the model outputs there cannot reach the loss or its gradient.
    """
    valid = labels != int(MASK_VALUE)  # (B, H, T)
    total = F.cross_entropy(logits[valid], labels[valid].long(), reduction="sum")
    return total / valid.sum().clamp(min=1)


def masked_mse_loss(predicted: torch.Tensor, moves: torch.Tensor) -> torch.Tensor:
    """Mean squared error over positions whose move is not MASK_VALUE (`predicted`, `moves` (B, H, T))."""
    valid = moves != MASK_VALUE
    return ((predicted[valid] - moves[valid]) ** 2).sum() / valid.sum().clamp(min=1)


def split_output(output: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A network returns class logits (B, H, T, 3), or (logits, moves (B, H, T)) for the regression objective."""
    if isinstance(output, tuple | list):
        return output[0], output[1]
    return output, None


class TorchModel(TrainableModel):
    """`TrainableModel` around an `nn.Module` that maps (B, L, F) to (B, H, T, 3) class logits.

    With `regression=True` the module also returns predicted moves and the loss is CE + MSE.
    `end_epoch` steps a ReduceLROnPlateau scheduler on the validation loss when there is one.
    """

    def __init__(
        self,
        net: nn.Module,
        info: ModelInfo,
        device: torch.device,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau | None = None,
        regression: bool = False,
    ) -> None:
        self.net = net.to(device)
        self.info = info
        self.device = device
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.regression = regression
        self._train_net: nn.Module = self.net
        """What training steps run: the network, or its DistributedDataParallel wrapper."""

    def distribute(self) -> None:
        """Train data-parallel in the current torch.distributed process group (weights synced from rank 0).

        Evaluation, prediction and checkpoints keep using the plain network: every rank holds the
        same weights after each step, and checkpoints stay loadable without a process group.
        """
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [self.device.index] if self.device.type == "cuda" else None
        self._train_net = DistributedDataParallel(self.net, device_ids=device_ids)

    @property
    def distributed(self) -> bool:
        return self._train_net is not self.net

    def _tensor(self, array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
        # a copy only when needed: torch cannot wrap a read-only view (an object-store array) without a warning
        return torch.as_tensor(np.require(array, requirements=["C", "W"])).to(self.device, dtype)

    def _forward(
        self, x: np.ndarray, net: nn.Module | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits, moves = split_output((net or self.net)(self._tensor(x, torch.float32)))
        if self.regression and moves is None:
            raise ConfigError(
                f"{self.info.family}: the regression objective needs a network that returns moves"
            )
        return logits, moves

    def _loss(
        self, logits: torch.Tensor, moves: torch.Tensor | None, labels: np.ndarray, targets: np.ndarray
    ) -> torch.Tensor:
        loss = masked_cross_entropy(logits, self._tensor(labels, torch.int64))
        if self.regression and moves is not None:
            loss = loss + masked_mse_loss(moves, self._tensor(targets, torch.float32))
        return loss

    def train_epoch(self, batches: Iterable[Batch]) -> float:
        """Mean training loss over this worker's batches, or over every worker's when distributed."""
        self.net.train()
        mean = WeightedMean()
        for index, (x, labels, targets) in enumerate(batches):
            self.optimizer.zero_grad(set_to_none=True)
            loss = self._loss(*self._forward(x, self._train_net), labels, targets)
            value = require_finite_batch(
                float(loss.detach()), "training", index
            )  # before the step spoils weights
            loss.backward()
            self.optimizer.step()
            mean.add(value, len(x))
        if self.distributed:
            from seqsweep.trainables.parallel import all_reduce_sums

            mean.total, count = all_reduce_sums(mean.total, mean.count)
            mean.count = int(count)
        return mean.value

    def evaluate(self, batches: Iterable[Batch]) -> Evaluation:
        self.net.eval()
        mean = WeightedMean()
        probs: list[np.ndarray] = []
        moves_out: list[np.ndarray] = []
        with torch.inference_mode():
            for index, (x, labels, targets) in enumerate(batches):
                logits, moves = self._forward(x)
                loss = self._loss(logits, moves, labels, targets)
                mean.add(require_finite_batch(float(loss), "validation", index), len(x))
                probs.append(torch.softmax(logits, dim=-1).cpu().numpy())
                if self.regression and moves is not None:
                    moves_out.append(moves.cpu().numpy())
        return Evaluation(
            loss=mean.value,
            probs=np.concatenate(probs, axis=0),
            moves=np.concatenate(moves_out, axis=0) if self.regression else None,
        )

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        self.net.eval()

        def predict(chunk: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                logits, _ = self._forward(chunk)
                return torch.softmax(logits, dim=-1).cpu().numpy()

        return predict_in_chunks(predict, np.asarray(x, dtype=np.float32))

    def end_epoch(self, val_loss: float) -> None:
        if self.scheduler is not None:
            self.scheduler.step(val_loss)

    @property
    def optimizer_steps(self) -> int:
        """Updates the optimizer has made (restored with a checkpoint)."""
        steps = [state["step"] for state in self.optimizer.state.values() if "step" in state]
        return int(max((float(s) for s in steps), default=0))

    def save(self, directory: Path) -> None:
        self.info.write(directory)
        payload = {
            "model": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
        }
        torch.save(payload, directory / TORCH_STATE_FILE)

    def load_state(self, directory: Path) -> None:
        """Load what `save` wrote into this freshly built model (weights, optimizer, scheduler)."""
        path = directory / TORCH_STATE_FILE
        try:
            payload = torch.load(path, map_location=self.device, weights_only=True)
        except (RuntimeError, EOFError, pickle.UnpicklingError, OSError) as exc:
            # torch's words for a cut-short file: its zip reader's error, EOF, or an OSError naming no file
            # (EINVAL); an OSError naming the file (absent, no permission) is the file's own
            if isinstance(exc, OSError) and exc.filename is not None:
                raise
            raise DamagedCheckpointFile(path, exc) from exc
        self.net.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        if self.scheduler is not None and payload["scheduler"] is not None:
            self.scheduler.load_state_dict(payload["scheduler"])


class ProbabilityModule(nn.Module):
    """The eval-time model: (B, L, F) → (B, H, T, 3) probabilities, for export."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits, _ = split_output(self.net(x))
        return torch.softmax(logits, dim=-1)


def export_torchscript(model: TorchModel, path: str | Path, example: np.ndarray) -> Path:
    """Trace the eval model on `example` (B, L, F) and save it; `torch.jit.load(path)(x)` gives probabilities."""
    model.net.eval()
    module = ProbabilityModule(model.net).eval()
    with torch.no_grad(), warnings.catch_warnings():
        # nn.GRU's input-size checks are Python branches; they hold for any batch of the same (L, F)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        traced = torch.jit.trace(module, model._tensor(example, torch.float32))
    path = Path(path)
    traced.save(str(path))
    return path


def adamw(net: nn.Module, config: dict[str, Any]) -> torch.optim.AdamW:
    """AdamW from `learning_rate` and `weight_decay` (GRU-ow's optimizer)."""
    return torch.optim.AdamW(
        net.parameters(), lr=config.get("learning_rate", 1e-3), weight_decay=config.get("weight_decay", 1e-2)
    )
