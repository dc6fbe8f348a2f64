"""`seqsweep results DIR --reseed N`: the top configurations retrained with new seeds, reused later."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import threading
from pathlib import Path

import pytest
import yaml
from ray import tune
from results_helpers import GRU_PARAMS, tiny_sweep
from sweep_driver import assert_ray_checkpoints_exist

import seqsweep.results.reseed as reseed_module
from seqsweep import cli
from seqsweep.errors import ConfigError
from seqsweep.layout import DATASET_FILE, RESEED_DIR, is_tune_experiment
from seqsweep.results.experiment import read_experiment
from seqsweep.results.reseed import RESEED_KEY
from seqsweep.search_spaces.sweep import load_sweep
from seqsweep.tuning import run_sweep
from seqsweep.tuning.dataset_record import recorded_dataset_key

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


def _runs(experiment_dir: Path) -> list[Path]:
    """The run folders under DIR/reseed (beside them lies the lock file of `results --reseed`)."""
    return sorted(p for p in (experiment_dir / RESEED_DIR).iterdir() if is_tune_experiment(p))


def _copy(experiment_dir: Path, name: str) -> Path:
    """A copy of the experiment beside it (the same dataset cache), without its reruns and report: a test
    of its own reruns that the other tests' never meet."""
    copy = experiment_dir.parent / name
    shutil.copytree(experiment_dir, copy, ignore=shutil.ignore_patterns(RESEED_DIR, "report"))
    return copy


def _reruns(experiment_dir: Path) -> list[dict]:
    """Every rerun trial Ray stored under DIR/reseed, as its config's reseed tag."""
    tags = []
    for run in _runs(experiment_dir):
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
    for run in _runs(one_epoch_sweep):
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
    assert len(_runs(one_epoch_sweep)) == 1


def test_a_failed_rerun_is_named_with_its_error(
    one_epoch_sweep: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rerun that errored was a count in the table (`failed 1`), with no word of why."""
    from seqsweep.results.experiment import ERRORED
    from seqsweep.results.sections import report_sections

    experiment = read_experiment(one_epoch_sweep)
    [winner] = experiment.top(1)
    failed = dataclasses.replace(winner, status=ERRORED, error="ValueError: rerun broke", path="/runs/r0")
    earlier = reseed_module._Reruns(kept={}, errored={(winner.trial_id, 0): failed}, left_out=())
    monkeypatch.setattr(reseed_module, "_read_reruns", lambda folder, key: earlier)
    monkeypatch.setattr(reseed_module, "_train", lambda *args: None)  # trained again, errored again
    outcome = reseed_module.reseed_winners(experiment, [winner], 1)
    [row] = outcome.rows
    line = f"rerun 0 of {winner.trial_id} errored: ValueError: rerun broke (traceback: /runs/r0/error.txt)"
    assert row.failed == 1 and row.failures == (line,)
    assert outcome.to_dict()["ranking"][0]["failures"] == [line]
    from seqsweep.results.evaluate import Evaluations

    evaluations = Evaluations(valid=None, test=None)
    [section] = [s for s in report_sections(experiment, 1, evaluations, outcome) if s.key == "reseed"]
    assert line in section.text()


def test_an_errored_rerun_is_trained_again_not_served(one_epoch_sweep: Path) -> None:
    """A rerun that errored once (out of memory, interrupted) was served as that rerun by every later
    `results --reseed`: the configuration kept `failed 1` and one seed fewer for good."""
    experiment = read_experiment(_copy(one_epoch_sweep, "errored_rerun"))
    [winner] = experiment.top(1)
    broken = dataclasses.replace(winner, config={**winner.config, "learning_rate": "not a number"})
    first = reseed_module.reseed_winners(experiment, [broken], 1)
    assert first.trained == 1 and first.rows[0].failed == 1 and "errored" in first.rows[0].failures[0]

    second = reseed_module.reseed_winners(experiment, [winner], 1)  # the same rerun, now one that trains
    assert second.trained == 1, "the errored rerun was served again"
    [row] = second.rows
    assert row.failed == 0 and len(row.values) == 1 and row.failures == ()
    assert second.notes == ("1 rerun that errored earlier (out of memory, interrupted, a bug) was trained "
                            "again: an errored rerun is never reused",)  # fmt: skip
    assert len(_runs(experiment.path)) == 2 and first.notes == ()
    assert reseed_module.reseed_winners(experiment, [winner], 1).trained == 0  # the good one is reused


def test_reruns_of_another_dataset_or_release_are_trained_again(
    one_epoch_sweep: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reseed run records the dataset (and the release) its reruns trained on; a later call served
    them whatever dataset it reran on, mixing seeds of two datasets into one mean."""
    experiment = read_experiment(_copy(one_epoch_sweep, "stale_reruns"))
    [winner] = experiment.top(1)
    assert reseed_module.reseed_winners(experiment, [winner], 1).trained == 1
    [run] = _runs(experiment.path)
    record = json.loads((run / DATASET_FILE).read_text())
    trained: list[list[tuple[str, int]]] = []

    def spy(experiment: object, missing: list, *args: object) -> None:
        trained.append([(t.trial_id, i) for t, i in missing])

    monkeypatch.setattr(reseed_module, "_train", spy)
    for changed, why in (
        ({"key": "0" * 16}, f"dataset {'0' * 16}"),
        ({"seqsweep": "0.0.1"}, "seqsweep 0.0.1"),
    ):
        (run / DATASET_FILE).write_text(json.dumps({**record, **changed}))
        outcome = reseed_module.reseed_winners(experiment, [winner], 1)
        assert trained == [[(winner.trial_id, 0)]], f"a rerun of another {why} was reused"
        trained.clear()
        [note] = outcome.notes
        assert note.startswith(f"{run}: its reruns are left out and trained again") and why in note
    (run / DATASET_FILE).write_text(json.dumps(record))
    assert reseed_module.reseed_winners(experiment, [winner], 1).trained == 0 and not trained


def test_a_second_reseed_is_refused_while_one_reruns(
    one_epoch_sweep: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two `results --reseed` of one experiment at once both trained the missing reruns, into one run
    folder (`_next_run_name` saw the same free name): the second is refused, naming the first."""
    copy = _copy(one_epoch_sweep, "two_reseeds")
    experiment = read_experiment(copy)
    [winner] = experiment.top(1)
    inside, release = threading.Event(), threading.Event()
    entered: list[int] = []

    def held(*args: object) -> None:
        entered.append(1)
        if len(entered) > 1:
            raise AssertionError("a second `results --reseed` trained while the first was training")
        inside.set()
        if not release.wait(timeout=120):
            raise AssertionError("the test never released the first reseed")

    monkeypatch.setattr(reseed_module, "_train", held)
    errors: list[BaseException] = []

    def first() -> None:
        try:
            reseed_module.reseed_winners(experiment, [winner], 1)
        except BaseException as exc:  # asserted empty in the test's thread below
            errors.append(exc)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert inside.wait(timeout=120), f"the first reseed never reached its training: {errors}"
        args = ["results", str(copy), "--top", "1", "--reseed", "1", "--no-test", "--out", str(tmp_path)]
        assert cli.main(args) == 2
        err = capsys.readouterr().err.strip()
        assert err == (
            f"seqsweep: error: {copy / RESEED_DIR}: another `seqsweep results --reseed` (pid {os.getpid()}) is "
            f"rerunning this experiment's winners; wait for it to end, then run this again (it reuses those reruns)"
        )
        with pytest.raises(ConfigError, match=r"\(pid \d+\)"):
            reseed_module.reseed_winners(experiment, [winner], 1)
    finally:
        release.set()
        thread.join(timeout=120)
    assert not thread.is_alive() and errors == [] and entered == [1]
    monkeypatch.setattr(reseed_module, "_train", lambda *args: None)
    reseed_module.reseed_winners(experiment, [winner], 1)  # the lock went with its holder


def test_reruns_asking_for_a_gpu_on_a_cluster_without_one_are_refused(one_epoch_sweep: Path) -> None:
    """A sweep of `resources.gpu: 1` reseeded where Ray has no GPU: Tune kept the reruns PENDING for ever.
    Refused in one line before any run folder is made."""
    import ray

    if ray.cluster_resources().get("GPU", 0):
        pytest.skip("the test's Ray has a GPU")
    experiment = read_experiment(_copy(one_epoch_sweep, "gpu_reruns"))
    assert experiment.sweep is not None
    spec = experiment.sweep
    resources = dataclasses.replace(spec.file.resources, gpu=1.0)
    experiment = dataclasses.replace(
        experiment, sweep=dataclasses.replace(spec, file=dataclasses.replace(spec.file, resources=resources))
    )
    line = (
        "resources.gpu: the sweep asks for 1 GPU per trial but the cluster has no GPU, so every trial would wait "
        "for one forever; rerun them on a Ray cluster with GPUs (--address)"
    )
    with pytest.raises(ConfigError) as refused:
        reseed_module.reseed_winners(experiment, experiment.top(1), 1)
    assert str(refused.value) == line
    assert _runs(experiment.path) == [] and not list((experiment.path / RESEED_DIR).glob("run-*"))


def test_reseed_refuses_a_tune_setting_its_pruning_cannot_work_under(
    one_epoch_sweep: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`$TUNE_ONLY_STORE_CHECKPOINT_SCORE_ATTRIBUTE` drops the epoch stored with each checkpoint: `run` and
    `resume` refuse it, while `results --reseed` trained under it and pruned its reruns' checkpoints with no
    way to tell the latest (Ray's own readers then failed on the run). Refused alike, before any rerun."""
    runs = _runs(one_epoch_sweep) if (one_epoch_sweep / RESEED_DIR).is_dir() else []
    monkeypatch.setenv("TUNE_ONLY_STORE_CHECKPOINT_SCORE_ATTRIBUTE", "1")
    capsys.readouterr()
    args = ["results", str(one_epoch_sweep), "--top", "1", "--reseed", "1", "--no-test"]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith("seqsweep: error: $TUNE_ONLY_STORE_CHECKPOINT_SCORE_ATTRIBUTE is set: ")
        and "\n" not in err
    )
    assert err.endswith("unset it")
    assert (_runs(one_epoch_sweep) if (one_epoch_sweep / RESEED_DIR).is_dir() else []) == runs
