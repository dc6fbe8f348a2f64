"""Data-parallel training without Ray: two torch.distributed (gloo) processes run the shared loop.

This is the path Ray Train drives in a multi-worker trial; here plain `torch.multiprocessing` starts
the processes, which proves the loop itself needs no Ray.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from trainables_helpers import TINY_CONFIGS, make_bundle

from seqsweep.constants import EPOCH, TRAIN_LOSS, VAL_MACRO_F1, WORKERS
from seqsweep.data.bundle import DatasetBundle
from seqsweep.errors import ConfigError
from seqsweep.trainables import DeviceSettings, TrialSettings, load_checkpoint, resolve_family, train
from seqsweep.trainables.parallel import DataParallel
from seqsweep.trainables.reporting import InMemoryReporter

WORLD = 2
EPOCHS = 3


class RankReporter(InMemoryReporter):
    """Keeps reports of any rank; only rank 0's carry a checkpoint folder."""

    def report(self, metrics: Any, checkpoint_dir: Path | None) -> None:
        if checkpoint_dir is None:
            self.reports.append(dict(metrics))
        else:
            super().report(metrics, checkpoint_dir)


def _worker(rank: int, port: int, out: str, model: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        reporter = RankReporter(trial_id="dp", root=Path(out) / f"rank{rank}")
        config = {**TINY_CONFIGS[model], "epochs": EPOCHS, "batch_size": 64}
        settings = TrialSettings(model=model, seed=11)
        train(config, make_bundle(), settings, reporter, DeviceSettings(), parallel=DataParallel(rank, WORLD))
        weights = reporter.last_checkpoint if rank == 0 else None
        Path(out, f"rank{rank}.json").write_text(
            json.dumps({"reports": reporter.reports, "checkpoint": str(weights) if weights else None})
        )
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(tmp_path: Path, model: str) -> list[dict[str, Any]]:
    mp.spawn(_worker, args=(_free_port(), str(tmp_path), model), nprocs=WORLD, join=True)
    return [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in range(WORLD)]


@pytest.mark.slow
def test_two_workers_agree_and_rank_zero_alone_checkpoints(tmp_path: Path) -> None:
    chief, other = _run(tmp_path, "gru")
    assert [r[EPOCH] for r in chief["reports"]] == list(range(1, EPOCHS + 1))
    # Every rank evaluates the same synced weights on the whole validation split: same metrics.
    for mine, theirs in zip(chief["reports"], other["reports"], strict=True):
        assert mine[VAL_MACRO_F1] == theirs[VAL_MACRO_F1]
        assert mine[TRAIN_LOSS] == pytest.approx(theirs[TRAIN_LOSS])  # averaged over both shards
        assert mine[WORKERS] == WORLD
    assert chief["reports"][-1][TRAIN_LOSS] < chief["reports"][0][TRAIN_LOSS]
    assert other["checkpoint"] is None and not list((tmp_path / "rank1").glob("*/checkpoint_*"))

    # Rank 0's checkpoint reloads without a process group and predicts like any one-worker model.
    model = load_checkpoint(Path(chief["checkpoint"]), DeviceSettings())
    probs = model.predict_proba(make_bundle().windows("valid", slice(0, 8)))
    assert probs.shape == (8, 2, 2, 3) and np.allclose(probs.sum(axis=-1), 1.0, atol=1e-5)


def test_shards_split_every_batch_and_skip_a_last_batch_too_small_to_share() -> None:
    bundle = make_bundle(n_rows=300)
    n_train = len(bundle.splits["train"])
    batch_size = 64

    def windows(shard: tuple[int, int] | None) -> list[list[bytes]]:
        """Each batch's windows (as bytes, to compare as sets) drawn with the same shuffle."""
        batches = bundle.batches("train", batch_size, np.random.default_rng(5), shard=shard)
        return [[window.tobytes() for window in x] for x, _, _ in batches]

    whole = windows(None)
    shards = [windows((rank, 3)) for rank in range(3)]
    assert len({len(s) for s in shards}) == 1  # every worker takes the same number of steps
    for step in range(len(shards[0])):
        parts = [s[step] for s in shards]
        assert sorted(w for part in parts for w in part) == sorted(whole[step])  # disjoint, complete
        assert max(map(len, parts)) - min(map(len, parts)) <= 1
    last = n_train % batch_size
    assert (last != 0 and last < 3) == (len(shards[0]) < len(whole))


def test_a_keras_model_cannot_train_data_parallel(synthetic_bundle: DatasetBundle) -> None:
    """`TrainableModel.distribute` defaults to a ConfigError naming the family (Keras defines none)."""
    model = resolve_family("lstm").build(
        {"cell_size": 4, "epochs": 1}, synthetic_bundle.shape, DeviceSettings()
    )
    with pytest.raises(
        ConfigError, match="model 'lstm' is not a torch model; data-parallel trials train torch models only"
    ):
        model.distribute()
    assert torch.distributed.is_available()
