"""`seqsweep results DIR --reseed N`: the top configurations retrained with new seeds, reused later."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml
from ray import tune
from results_helpers import GRU_PARAMS, tiny_sweep
from sweep_driver import assert_ray_checkpoints_exist

import seqsweep.results.reseed as reseed_module
from seqsweep import cli
from seqsweep.layout import RESEED_DIR
from seqsweep.results.experiment import read_experiment
from seqsweep.results.reseed import RESEED_KEY
from seqsweep.search_spaces.sweep import load_sweep
from seqsweep.tuning import run_sweep
from seqsweep.tuning.runner import recorded_dataset_key

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def one_epoch_sweep(
    ray_cluster: object, sample_db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A 3-trial, 2-epoch GRU sweep on the sample database (2 epochs: the reruns' pruning has work)."""
    root = tmp_path_factory.mktemp("reseed")
    sweep = tiny_sweep("tiny_reseed", "gru", GRU_PARAMS, sample_db_url, root / "runs")
    sweep["params"]["epochs"] = 2
    path = root / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    outcome = run_sweep(load_sweep(path), stream=io.StringIO())
    assert outcome.num_errored == 0, outcome.describe()
    return outcome.experiment_dir


def _reruns(experiment_dir: Path) -> list[dict]:
    """Every rerun trial Ray stored under DIR/reseed, as its config's reseed tag."""
    tags = []
    for run in sorted((experiment_dir / RESEED_DIR).iterdir()):
        analysis = tune.ExperimentAnalysis(str(run))
        tags += [t.config[RESEED_KEY] for t in analysis.trials]
    return tags


def test_reseed_trains_top_k_times_n_once_then_reuses(
    one_epoch_sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment = read_experiment(one_epoch_sweep)
    top = [t.trial_id for t in experiment.top(2)]
    args = ["results", str(one_epoch_sweep), "--top", "2", "--reseed", "2", "--no-test", "--json",
            "--out", str(tmp_path)]  # fmt: skip
    assert cli.main(args) == 0
    first = json.loads(capsys.readouterr().out)["reseed"]
    tags = _reruns(one_epoch_sweep)
    assert len(tags) == 4 and first["trained_now"] == 4
    assert sorted((t["of"], t["index"]) for t in tags) == sorted((tid, i) for tid in top for i in range(2))
    for tag in tags:  # each rerun trains the original configuration
        assert tag["config"] == experiment.trial(tag["of"]).config
    ranking = first["ranking"]
    assert {r["trial_id"] for r in ranking} == set(top)
    for row in ranking:
        assert len(row["values"]) == 2 and row["sd"] is not None
        assert row["mean"] == pytest.approx(sum(row["values"]) / 2)
    means = [r["mean"] for r in ranking]
    assert means == sorted(means, reverse=True)  # val_macro_f1, mode max
    assert "seed spread" in first["conclusion"]
    # the reruns keep one checkpoint each, and nothing Ray hands out names a deleted one (Tune's own
    # `num_to_keep` left result rows naming them)
    for run in sorted((one_epoch_sweep / RESEED_DIR).iterdir()):
        assert_ray_checkpoints_exist(run, reseed_module.reseed_trial)
        # and each run names its reruns' dataset, the sweep's: `results`/`export` of the run read it back
        assert recorded_dataset_key(run) == recorded_dataset_key(one_epoch_sweep) is not None

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("the second call trained again")

    monkeypatch.setattr(reseed_module, "_train", no_training)
    assert cli.main([*args[:-3], "--out", str(tmp_path)]) == 0  # the console form this time
    text = capsys.readouterr().out
    assert "every rerun reused from earlier" in text and "seed spread" in text
    assert len(_reruns(one_epoch_sweep)) == 4
    assert len(list((one_epoch_sweep / RESEED_DIR).iterdir())) == 1


def test_a_failed_rerun_is_named_with_its_error(
    one_epoch_sweep: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rerun that errored was a count in the table (`failed 1`), with no word of why."""
    import dataclasses

    from seqsweep.results.experiment import ERRORED
    from seqsweep.results.sections import report_sections

    experiment = read_experiment(one_epoch_sweep)
    [winner] = experiment.top(1)
    failed = dataclasses.replace(winner, status=ERRORED, error="ValueError: rerun broke", path="/runs/r0")
    monkeypatch.setattr(reseed_module, "_finished_reruns", lambda folder: {(winner.trial_id, 0): failed})
    outcome = reseed_module.reseed_winners(experiment, [winner], 1)
    [row] = outcome.rows
    line = f"rerun 0 of {winner.trial_id} errored: ValueError: rerun broke (traceback: /runs/r0/error.txt)"
    assert row.failed == 1 and row.failures == (line,)
    assert outcome.to_dict()["ranking"][0]["failures"] == [line]
    from seqsweep.results.evaluate import Evaluations

    evaluations = Evaluations(valid=None, test=None)
    [section] = [s for s in report_sections(experiment, 1, evaluations, outcome) if s.key == "reseed"]
    assert line in section.text()
