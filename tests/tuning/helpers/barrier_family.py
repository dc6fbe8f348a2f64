"""A user family for tests that stop a sweep at a known point: training blocks at a chosen epoch.

`build` returns a tiny torch GRU. With `barrier_dir` and `barrier_epoch` in its config, a trial that
starts epoch `barrier_epoch` first writes `<barrier_dir>/reached-<trial id>` (holding the trial id),
(after `<barrier_dir>/node-<trial id>`, holding the Ray node it runs on), then waits until
`<barrier_dir>/release-<trial id>` or `<barrier_dir>/release-all` exists. Every
epoch before it has been reported with its checkpoint by then, so a test that sees the marker knows
exactly what is on disk, whatever the load on the machine.

The epoch count lives in the module's state dict, so a trial restored from its checkpoint counts on
from the epoch it had reached.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

BARRIER_TIMEOUT_S = 600.0
"""A trial whose test never releases it fails after this long instead of hanging forever."""


def reached_markers(barrier_dir: Path) -> list[Path]:
    """The markers trials wrote on reaching the barrier, oldest first."""
    return sorted(barrier_dir.glob("reached-*"), key=lambda p: p.stat().st_mtime_ns)


def release(barrier_dir: Path, trial_id: str | None = None) -> None:
    """Let one trial (or, without `trial_id`, every trial now and later) past the barrier."""
    (barrier_dir / f"release-{trial_id or 'all'}").touch()


def node_of(barrier_dir: Path, trial_id: str) -> str | None:
    """The Ray node id the trial last reached the barrier on; None before it reached it."""
    path = barrier_dir / f"node-{trial_id}"
    return path.read_text() if path.exists() else None


def _write(path: Path, text: str) -> None:
    """Write `text` whole (a reader never sees half of it)."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text)
    temp.replace(path)


def _trial_id() -> str:
    from ray import tune

    return str(tune.get_context().get_trial_id())


def build(config: dict[str, Any], shape: Any) -> Any:
    import torch
    from torch import nn

    barrier_dir = config.get("barrier_dir")
    barrier_epoch = int(config.get("barrier_epoch") or 0)

    class BarrierNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = nn.GRU(shape.n_features, config["cell_size"], batch_first=True)
            self.head = nn.Linear(config["cell_size"], shape.horizon * shape.n_targets * 3)
            self.register_buffer("epochs_started", torch.zeros((), dtype=torch.long))

        def train(self, mode: bool = True) -> BarrierNet:
            # The adapter calls `train()` once at the start of every epoch, `eval()` to score it.
            super().train(mode)
            if mode:
                self.epochs_started += 1
                if barrier_dir and int(self.epochs_started) == barrier_epoch:
                    _wait_at_barrier(Path(barrier_dir))
            return self

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out, _ = self.gru(x)
            return self.head(out[:, -1]).view(-1, shape.horizon, shape.n_targets, 3)

    return BarrierNet()


def _wait_at_barrier(barrier_dir: Path) -> None:
    trial_id = _trial_id()
    releases = (barrier_dir / f"release-{trial_id}", barrier_dir / "release-all")
    if any(p.exists() for p in releases):
        return
    import ray

    _write(barrier_dir / f"node-{trial_id}", ray.get_runtime_context().get_node_id())
    _write(barrier_dir / f"reached-{trial_id}", trial_id)
    deadline = time.monotonic() + BARRIER_TIMEOUT_S
    while not any(p.exists() for p in releases):
        if time.monotonic() > deadline:
            raise TimeoutError(f"trial {trial_id}: nobody released the barrier in {barrier_dir}")
        time.sleep(0.05)
