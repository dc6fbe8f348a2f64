"""The GRU on the real 5-minute ETH/USDT candles with GRU-ow's 128 → 8 profile: one short epoch."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from seqsweep.constants import REPORTED_METRICS, VAL_MSE
from seqsweep.data.spec import DatasetSpec
from seqsweep.trainables import DeviceSettings, InMemoryReporter, TrialSettings, load_checkpoint, train


@pytest.mark.realdata
def test_gru_trains_one_short_epoch_on_real_eth_candles(
    shared_data: Path, ray_cluster: Any, tmp_path: Path
) -> None:
    try:
        from seqsweep.data.build import build_dataset
    except ImportError as exc:
        pytest.skip(f"seqsweep.data.build_dataset is not importable yet ({exc})")
    spec = DatasetSpec(
        join="ohlcv",
        csv=str(shared_data / "eth_usdt_5min_gruow" / "ETH-USDT1min.csv.gz"),
        lookback=128,
        horizon=8,
        frequency="5min",
        pca_components=1,
        max_rows_per_symbol=3000,  # the latest ~10 days: a short epoch of about 30 batches
    )
    bundle = build_dataset(spec, cache_dir=tmp_path / "datasets")
    assert (bundle.shape.lookback, bundle.shape.horizon, bundle.shape.n_targets) == (128, 8, 4)

    reporter = InMemoryReporter(root=tmp_path / "trial")
    # GRU-ow's objective: MSE on the OHLC moves, beside the class head's cross-entropy
    config = {"epochs": 1, "batch_size": 64, "objective": "regression"}
    train(config, bundle, TrialSettings(model="gru", seed=0), reporter, DeviceSettings(cpus=2))

    (report,) = reporter.reports
    assert set(REPORTED_METRICS) | {VAL_MSE} <= set(report)
    assert all(math.isfinite(report[key]) for key in (*REPORTED_METRICS, VAL_MSE))
    assert 0.0 <= report["val_macro_f1"] <= 1.0
    probs = load_checkpoint(reporter.last_checkpoint).predict_proba(bundle.windows("test", slice(0, 4)))
    assert probs.shape == (4, 8, 4, 3)
