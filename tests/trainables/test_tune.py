"""One family as a real Ray Tune trial: reports, checkpoints, and a resume after a crash."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from seqsweep.constants import EPOCH, FINAL_EPOCH, NODE_ID, REPORTED_METRICS, VAL_MACRO_F1
from seqsweep.data.bundle import DatasetBundle
from seqsweep.trainables import TrialSettings, load_checkpoint, read_state
from seqsweep.trainables.checkpoint import MODEL_INFO_FILE, STATE_FILE, TORCH_STATE_FILE


def crash_once_in_epoch_2(bundle: DatasetBundle, folder: Path) -> DatasetBundle:
    """The same bundle, but the first attempt at epoch 2's training batches raises.

    Each training epoch leaves a numbered marker file, so the test can count the epochs trained.
    """

    @dataclasses.dataclass(frozen=True)
    class CrashingBundle(DatasetBundle):  # defined here so that Ray pickles it by value
        markers: str = ""

        def batches(self, split: str, batch_size: int, rng: Any = None, shard: Any = None) -> Any:
            if split == "train":
                started = len(list(Path(self.markers).glob("epoch_*")))
                Path(self.markers, f"epoch_{started + 1}").touch()
                crashed = Path(self.markers, "crashed")
                if started == 1 and not crashed.exists():
                    crashed.touch()
                    raise RuntimeError("injected crash in epoch 2")
            return super().batches(split, batch_size, rng, shard)

    fields = {f.name: getattr(bundle, f.name) for f in dataclasses.fields(bundle)}
    return CrashingBundle(**fields, markers=str(folder))


@pytest.mark.slow
def test_gru_trial_reports_checkpoints_and_resumes_under_tune(
    ray_cluster: Any, synthetic_bundle: DatasetBundle, tmp_path: Path
) -> None:
    from ray import tune

    from seqsweep.trainables.tune_reporter import train_trial

    (tmp_path / "markers").mkdir()
    bundle = crash_once_in_epoch_2(synthetic_bundle, tmp_path / "markers")
    settings = TrialSettings(model="gru", seed=5, fixed={"hidden_size": 8, "batch_size": 64})
    trainable = tune.with_resources(
        tune.with_parameters(train_trial, bundle=bundle, settings=settings), {"cpu": 1}
    )
    tuner = tune.Tuner(
        trainable,
        param_space={"epochs": 3, "learning_rate": tune.choice([0.01])},
        tune_config=tune.TuneConfig(num_samples=1, metric=VAL_MACRO_F1, mode="max"),
        run_config=tune.RunConfig(
            storage_path=str(tmp_path / "storage"),
            name="gru_trial",
            failure_config=tune.FailureConfig(max_failures=1),
            verbose=0,
        ),
    )
    result = tuner.fit()[0]

    assert result.error is None, f"the trial errored: {result.error!r}"
    assert (tmp_path / "markers" / "crashed").exists()  # the first attempt did crash in epoch 2
    metrics = result.metrics
    assert set(REPORTED_METRICS) <= set(metrics)
    assert metrics[EPOCH] == 3 and metrics[FINAL_EPOCH] is True
    assert isinstance(metrics[NODE_ID], str) and metrics[NODE_ID]
    # The retry resumed from epoch 1's checkpoint: epochs 1, 2 (crashed), 2, 3 trained; from scratch
    # it would have been 5. (Tune's result log may lose the first attempt's row: it syncs every 5 s.)
    assert len(list((tmp_path / "markers").glob("epoch_*"))) == 4
    reported = list(result.metrics_dataframe[EPOCH])
    assert reported[-2:] == [2, 3] and reported == sorted(set(reported)), reported

    assert result.checkpoint is not None
    with result.checkpoint.as_directory() as folder:
        names = {p.name for p in Path(folder).iterdir()}
        assert {MODEL_INFO_FILE, STATE_FILE, TORCH_STATE_FILE} <= names
        assert read_state(folder).epoch == 3
        probs = load_checkpoint(folder).predict_proba(synthetic_bundle.windows("valid", slice(0, 8)))
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-5)
