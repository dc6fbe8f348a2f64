"""Results, export and predict on two tiny real sweeps (Keras `lstm`, torch `gru`) on the sample database."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from ray import tune
from results_helpers import GRU_PARAMS, LSTM_PARAMS, tiny_sweep

import seqsweep.trainables
from seqsweep import cli, metrics
from seqsweep.constants import MASK_VALUE
from seqsweep.data.build import build_count
from seqsweep.data.bundle import DatasetBundle
from seqsweep.layout import DATASETS_DIR, PREDICTIONS_DIR
from seqsweep.results.evaluate import load_dataset, window_symbols
from seqsweep.results.experiment import read_experiment
from seqsweep.results.export import export_bundle
from seqsweep.results.score_tables import symbol_breadth
from seqsweep.search_spaces.sweep import load_sweep
from seqsweep.trainables import load_checkpoint
from seqsweep.tuning import run_sweep

pytestmark = pytest.mark.slow

FRESH_PROCESS_PREDICT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from seqsweep.results.model_bundle import load_bundle

    bundle = load_bundle(sys.argv[1])
    np.save(sys.argv[3], bundle.predict_proba(np.load(sys.argv[2])))
    assert "ray" not in sys.modules, "loading a bundle imported ray"
    """
)
CLI_WITHOUT_RAY = textwrap.dedent(
    """
    import sys
    from seqsweep import cli

    code = cli.main(sys.argv[1:])
    print("RAY_IMPORTED=" + str("ray" in sys.modules))
    sys.exit(code)
    """
)


@pytest.fixture(scope="module")
def sweeps(
    ray_cluster: object, sample_db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """One tiny sweep per framework, sharing one storage path (so one cached dataset)."""
    root = tmp_path_factory.mktemp("real")
    experiments = {}
    for model, params in (("lstm", LSTM_PARAMS), ("gru", GRU_PARAMS)):
        path = root / f"tiny_{model}.yaml"
        path.write_text(
            yaml.safe_dump(tiny_sweep(f"tiny_{model}", model, params, sample_db_url, root / "runs"))
        )
        outcome = run_sweep(load_sweep(path), stream=io.StringIO())
        assert outcome.num_errored == 0, outcome.describe()
        experiments[model] = outcome.experiment_dir
    return experiments


@pytest.fixture(scope="module")
def dataset(sweeps: dict[str, Path]) -> DatasetBundle:
    return load_dataset(read_experiment(sweeps["lstm"]))


@pytest.fixture(scope="module")
def lstm_report(sweeps: dict[str, Path]) -> dict[str, Any]:
    """`seqsweep results DIR --top 2` once, recording every checkpoint the evaluation loads."""
    loaded: list[str] = []
    real_load = seqsweep.trainables.load_checkpoint

    def spy(directory: Any, device: Any = None) -> Any:
        loaded.append(str(directory))
        return real_load(directory, device)

    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out):
        patch.setattr(seqsweep.trainables, "load_checkpoint", spy)
        code = cli.main(["results", str(sweeps["lstm"]), "--top", "2"])
    assert code == 0
    report = sweeps["lstm"] / "report"
    return {"stdout": out.getvalue(), "loaded": loaded, "report": report,
            "winners": json.loads((report / "winners.json").read_text())}  # fmt: skip


def test_results_prints_the_leaderboard_and_writes_the_report(lstm_report: dict[str, Any]) -> None:
    stdout = lstm_report["stdout"]
    assert "leaderboard (top 2 of 3 ranked trials):" in stdout and "never used to choose" in stdout
    assert "majority" in stdout and "persistence" in stdout
    for name in ("leaderboard.csv", "winners.json", "loss_curves.png", "confusion_winner.png",
                 "f1_vs_cell_size.png", "f1_vs_dropout_rate_1.png", "index.html"):  # fmt: skip
        assert (lstm_report["report"] / name).stat().st_size > 0, name
    assert not (lstm_report["report"] / "param_importances.png").exists()  # 3 trials: too few to weigh
    assert "Parameter importances are not drawn" in stdout


def test_leaderboard_matches_the_metrics_ray_stored(sweeps: dict[str, Path]) -> None:
    experiment = read_experiment(sweeps["lstm"])
    analysis = tune.ExperimentAnalysis(str(sweeps["lstm"]))
    frames = analysis.trial_dataframes  # keyed by trial id
    assert len(experiment.ranked()) == len(frames) == 3
    for trial in experiment.ranked():
        frame = frames[trial.trial_id]
        best = frame.loc[frame["val_macro_f1"].idxmax()]
        assert trial.val_macro_f1 == best["val_macro_f1"]
        assert trial.best_epoch == best["epoch"]
        assert trial.epochs_run == len(frame)
        assert Path(str(trial.checkpoint)).name == best["checkpoint_dir_name"]


def test_test_metrics_are_computed_for_the_winners_only(
    sweeps: dict[str, Path], lstm_report: dict[str, Any]
) -> None:
    experiment = read_experiment(sweeps["lstm"])
    winners = experiment.top(2)
    assert len(experiment.ranked()) > len(winners)
    assert lstm_report["loaded"] == [t.checkpoint for t in winners]
    test = lstm_report["winners"]["test"]
    assert [w["name"] for w in test["winners"]] == [t.trial_id for t in winners]
    assert "never used to choose" in test["note"]


def test_winner_test_scores_come_from_its_best_checkpoint(
    sweeps: dict[str, Path], lstm_report: dict[str, Any], dataset: DatasetBundle
) -> None:
    winner = read_experiment(sweeps["lstm"]).top(1)[0]
    probs = load_checkpoint(str(winner.checkpoint)).predict_proba(dataset.windows("test"))
    labels = dataset.splits["test"].labels
    predictions = metrics.predicted_classes(probs)
    stored = lstm_report["winners"]["test"]["winners"][0]
    for key, value in metrics.scores(labels, predictions).items():
        assert stored[key] == pytest.approx(value, abs=1e-12)
    by_step = metrics.scores_by_step(labels, predictions, dataset.target_names)
    assert [(r["target"], r["step"]) for r in stored["by_step"]] == [
        (r["target"], r["step"]) for r in by_step
    ]
    assert [r["macro_f1"] for r in stored["by_step"]] == pytest.approx([r["macro_f1"] for r in by_step])
    assert len(by_step) == 2 * 2  # targets × horizon steps


def test_results_again_reads_the_kept_predictions_and_loads_no_checkpoint(
    sweeps: dict[str, Path], lstm_report: dict[str, Any], tmp_path: Path
) -> None:
    winners = read_experiment(sweeps["lstm"]).top(2)
    kept = sweeps["lstm"] / PREDICTIONS_DIR
    assert sorted(p.name for p in kept.iterdir()) == sorted(t.trial_id for t in winners)
    for trial in winners:
        assert sorted(p.name.split("-")[0] for p in (kept / trial.trial_id).iterdir()) == ["test", "valid"]

    def no_load(directory: Any, device: Any = None) -> Any:
        raise AssertionError(f"{directory} was loaded although its predictions are kept")

    out = tmp_path / "again"
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(io.StringIO()):
        patch.setattr(seqsweep.trainables, "load_checkpoint", no_load)
        assert cli.main(["results", str(sweeps["lstm"]), "--top", "2", "--out", str(out)]) == 0
    again = json.loads((out / "winners.json").read_text())
    assert again["test"] == lstm_report["winners"]["test"]
    assert again["valid"] == lstm_report["winners"]["valid"]


def test_a_checkpoint_changed_after_results_is_loaded_and_scored_again(
    sweeps: dict[str, Path], lstm_report: dict[str, Any], tmp_path: Path
) -> None:
    """The winner's checkpoint files replaced by the runner-up's (in a copy of the experiment, its kept
    predictions copied too): the winner is scored as the runner-up's model, never from what was kept."""
    storage = sweeps["lstm"].parent
    copy = tmp_path / "runs" / sweeps["lstm"].name
    shutil.copytree(storage / DATASETS_DIR, tmp_path / "runs" / DATASETS_DIR)
    shutil.copytree(sweeps["lstm"], copy)
    first, second = read_experiment(copy).top(2)
    assert first.checkpoint is not None and second.checkpoint is not None
    shutil.rmtree(first.checkpoint)
    shutil.copytree(second.checkpoint, first.checkpoint)
    loaded: list[str] = []
    real_load = seqsweep.trainables.load_checkpoint

    def spy(directory: Any, device: Any = None) -> Any:
        loaded.append(str(directory))
        return real_load(directory, device)

    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(io.StringIO()):
        patch.setattr(seqsweep.trainables, "load_checkpoint", spy)
        assert cli.main(["results", str(copy), "--top", "2"]) == 0
    assert loaded == [first.checkpoint]  # the runner-up's own files are unchanged: its predictions are kept
    scored = {
        w["name"]: w for w in json.loads((copy / "report" / "winners.json").read_text())["test"]["winners"]
    }
    before = {w["name"]: w for w in lstm_report["winners"]["test"]["winners"]}
    assert scored[first.trial_id]["macro_f1"] == before[second.trial_id]["macro_f1"]
    assert scored[first.trial_id]["confusion"] == before[second.trial_id]["confusion"]
    assert len(list((copy / PREDICTIONS_DIR / first.trial_id).iterdir())) == 2  # the old key's files replaced


def _persistence(dataset: DatasetBundle) -> np.ndarray:
    """The persistence baseline written out plainly, one window at a time."""
    prep = dataset.preprocessing
    test = dataset.splits["test"]
    out = np.ones(test.labels.shape, dtype=np.int8)
    for i, end in enumerate(test.ends):
        for t, target in enumerate(dataset.target_names):
            column = prep.raw_columns.index(target)
            last, before = dataset.features[end, column], dataset.features[end - 1, column]
            if MASK_VALUE in (last, before) or dataset.row_symbol[end - 1] != dataset.row_symbol[end]:
                continue
            for h in range(dataset.spec.horizon):
                move = np.float32((h + 1) * (float(last) - float(before)))
                low, high = prep.thresholds[h, t]
                out[i, h, t] = 0 if move < low else (2 if move > high else 1)
    return out


def test_baselines_are_scored_on_the_same_test_windows(
    lstm_report: dict[str, Any], dataset: DatasetBundle
) -> None:
    test = lstm_report["winners"]["test"]
    labels = dataset.splits["test"].labels
    assert test["n_windows"] == len(dataset.splits["test"]) > 0
    assert test["n_positions"] == int((labels != MASK_VALUE).sum())
    train = dataset.splits["train"].labels
    majority = np.empty(labels.shape, dtype=np.int8)
    for h in range(train.shape[1]):
        for t in range(train.shape[2]):
            valid = train[:, h, t][train[:, h, t] != MASK_VALUE]
            majority[:, h, t] = np.bincount(valid, minlength=3).argmax()
    expected = {"majority": majority, "persistence": _persistence(dataset)}
    baselines = {b["name"]: b for b in test["baselines"]}
    assert set(baselines) == set(expected)
    for name, predictions in expected.items():
        for key, value in metrics.scores(labels, predictions).items():
            assert baselines[name][key] == pytest.approx(value, abs=1e-12), (name, key)
        assert baselines[name]["confusion"] == metrics.confusion(labels, predictions).tolist()


@pytest.mark.parametrize("model", ["lstm", "gru"])
def test_exported_bundle_predicts_like_the_checkpoint_in_a_fresh_process(
    model: str, sweeps: dict[str, Path], dataset: DatasetBundle, tmp_path: Path
) -> None:
    bundle_dir = tmp_path / f"{model}_bundle"
    outcome = export_bundle(sweeps[model], bundle_dir)
    winner = read_experiment(sweeps[model]).ranked()[0]
    assert outcome.trial.trial_id == winner.trial_id
    framework_files = {
        "lstm": ["model/model.keras"],
        "gru": ["model/model.torchscript.pt", "model/state_dict.pt"],
    }
    for name in ["bundle.json", "preprocessing.npz", "preprocessing.json", "dataset.yaml", "sweep.yaml",
                 "metrics.json", "versions.json", "README.md", *framework_files[model]]:  # fmt: skip
        assert (bundle_dir / name).is_file(), name
    assert not list(tmp_path.glob(f".{bundle_dir.name}.*")), "the temporary folder was left behind"
    card = (bundle_dir / "README.md").read_text()
    assert winner.trial_id in card and "never used to choose" in card
    metrics_json = json.loads((bundle_dir / "metrics.json").read_text())
    verdict = metrics_json["test"]["verdict"]
    assert verdict.startswith(  # a test split under MIN_BLOCKS blocks cannot tell
        ("beats persistence on test", "does not beat persistence on test", "is not shown to beat persistence")
    )
    assert f"**Verdict:** trial {winner.trial_id} {verdict}." in card and "macro-F1 (pooled)" in card
    assert "macro_f1_pooled" in metrics_json["test"]["model"]
    persistence = next(b for b in metrics_json["test"]["baselines"] if b["name"] == "persistence")
    by_symbol = metrics_json["test"]["model"].get("by_symbol", {})
    breadth = symbol_breadth(by_symbol, "persistence", persistence.get("by_symbol", {}))
    assert (breadth is not None) == (window_symbols(dataset, "test") is not None)
    assert (
        breadth is None
        or f"By symbol (each symbol's test windows alone, no intervals), it {breadth}." in card
    )
    windows = dataset.windows("test")
    np.save(tmp_path / "windows.npy", windows)
    subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS_PREDICT, str(bundle_dir), str(tmp_path / "windows.npy"),
         str(tmp_path / "probs.npy")],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    fresh = np.load(tmp_path / "probs.npy")
    expected = load_checkpoint(str(winner.checkpoint)).predict_proba(windows)
    assert fresh.shape == expected.shape == (len(windows), 2, 2, 3)
    np.testing.assert_allclose(fresh, expected, atol=1e-6)


def test_predict_answers_from_the_database_without_ray(
    sweeps: dict[str, Path], dataset: DatasetBundle, sample_db_url: str, tmp_path: Path
) -> None:
    bundle_dir = tmp_path / "gru_bundle"
    export_bundle(sweeps["gru"], bundle_dir)
    # the last test window of LINKUSDT: predict from the rows up to its end, as of that time
    symbol = dataset.symbols.index("LINKUSDT")
    test = dataset.splits["test"]
    index = int(np.flatnonzero(dataset.row_symbol[test.ends] == symbol)[-1])
    at = pd.Timestamp(int(dataset.row_time[test.ends[index]]))
    args = ["predict", str(bundle_dir), "--db", sample_db_url, "--symbols", "LINKUSDT", "CRVUSDT",
            "--at", at.isoformat(), "--json"]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", CLI_WITHOUT_RAY, *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    *payload, marker = done.stdout.strip().splitlines()
    assert marker == "RAY_IMPORTED=False"
    answer = json.loads("\n".join(payload))
    by_symbol = {s["symbol"]: s for s in answer["symbols"]}
    assert set(by_symbol) == {"LINKUSDT", "CRVUSDT"}
    for entry in by_symbol.values():
        assert pd.Timestamp(entry["window_end"]) == at
        assert len(entry["predictions"]) == 2 * 2  # targets × steps
        for row in entry["predictions"]:
            assert row["p_down"] + row["p_flat"] + row["p_up"] == pytest.approx(1.0, abs=1e-5)
    assert by_symbol["LINKUSDT"]["seen_in_training"] and not by_symbol["LINKUSDT"]["note"]
    assert not by_symbol["CRVUSDT"]["seen_in_training"]
    assert (
        "not in the training data" in by_symbol["CRVUSDT"]["note"] and "PCA" in by_symbol["CRVUSDT"]["note"]
    )
    # the same feature code as training: the answer equals the checkpoint on that very test window
    winner = read_experiment(sweeps["gru"]).ranked()[0]
    expected = load_checkpoint(str(winner.checkpoint)).predict_proba(dataset.windows("test", [index]))[0]
    got = {
        (r["target"], r["step"]): [r["p_down"], r["p_flat"], r["p_up"]]
        for r in by_symbol["LINKUSDT"]["predictions"]
    }
    for t, target in enumerate(dataset.target_names):
        for h in range(2):
            np.testing.assert_allclose(got[(target, h + 1)], expected[h, t], atol=1e-5)


def test_report_carries_validation_baselines_intervals_verdicts_and_cell_tables(
    lstm_report: dict[str, Any],
) -> None:
    document = lstm_report["winners"]
    assert [b["name"] for b in document["valid"]["baselines"]] == ["majority", "persistence"]
    assert [w["name"] for w in document["valid"]["winners"]] == [
        w["name"] for w in document["test"]["winners"]
    ]
    for winner in document["test"]["winners"]:
        assert "macro_f1_pooled" in winner
        for baseline in ("majority", "persistence"):
            entry = winner["vs_baselines"][baseline]
            low, high = entry["ci95"]
            assert low <= entry["delta"] <= high or low == high
        versus = winner["vs_baselines"]["persistence"]
        beats = versus["ci95"][0] > 0
        opening = "beats persistence" if beats else "does not beat persistence"
        assert winner["verdict"].startswith("is not shown to beat" if "too_short" in versus else opening)
        assert winner["verdict"] in lstm_report["stdout"]
    assert document["test"]["bootstrap"]["draws"] >= 1000
    stdout = lstm_report["stdout"]
    assert stdout.index("validation split, baselines") < stdout.index("leaderboard (top 2 of ")
    assert "macro-F1 per target and step, valid split" in stdout
    assert "macro-F1 per target and step, test split" in stdout
    assert stdout.count("never used to choose") == 1
    page = (lstm_report["report"] / "index.html").read_text()
    assert "per target and step, test split" in page and document["test"]["winners"][0]["verdict"] in page


def test_results_read_the_recorded_dataset_without_the_database(
    sweeps: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import seqsweep.data
    from seqsweep.errors import DataError
    from seqsweep.layout import DATASET_FILE
    from seqsweep.tuning.dataset_record import recorded_dataset_key

    experiment = read_experiment(sweeps["lstm"])
    key = recorded_dataset_key(experiment.path)
    assert key is not None

    def no_build(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the recorded dataset was rebuilt from the database")

    with monkeypatch.context() as patch:
        patch.setattr(seqsweep.data, "build_dataset", no_build)
        assert load_dataset(experiment).cache_key == key
    # a recorded dataset the cache no longer has, while the database gives other rows: refused once the
    # rows are read, before a dataset is built for nothing (the cache set aside, so a build would show)
    record = Path(experiment.path) / DATASET_FILE
    saved = record.read_text()
    with _recorded_key_and_no_cache(experiment.path, key):
        before = build_count()
        with pytest.raises(
            DataError, match=r"a rebuild gives another .*the database no longer gives the rows"
        ):
            load_dataset(experiment)
        assert build_count() == before
    assert record.read_text() == saved


@contextlib.contextmanager
def _recorded_key_and_no_cache(experiment_dir: Path, key: str) -> Iterator[None]:
    """For the block: the experiment records another dataset (key 0...0, as if the rows had changed since)
    and its cached dataset `key` is set aside; both put back after."""
    from seqsweep.layout import DATASET_FILE, dataset_cache_dir

    record = Path(experiment_dir) / DATASET_FILE
    saved = record.read_text()
    cached = Path(dataset_cache_dir(str(Path(experiment_dir).parent)) or "") / key
    aside = cached.with_name(f"{key}.aside")
    cached.rename(aside)
    try:
        record.write_text(json.dumps({"key": "0" * 20}))
        yield
    finally:
        record.write_text(saved)
        aside.rename(cached)


def test_resume_on_changed_rows_is_refused_before_a_dataset_is_built(sweeps: dict[str, Path]) -> None:
    """A resume whose rows changed since the experiment ran is refused, naming both datasets; it used to
    build the whole new dataset (embeddings, statistics, windows) first, only to refuse it. Now it stops
    once the rows are read, and the experiment is left as it was."""
    from seqsweep.errors import DataError
    from seqsweep.tuning.dataset_record import recorded_dataset_key
    from seqsweep.tuning.runner import resume_sweep

    experiment = sweeps["gru"]
    key = recorded_dataset_key(experiment)
    assert key is not None
    before_files = sorted(p.name for p in experiment.iterdir())
    with _recorded_key_and_no_cache(experiment, key):
        before = build_count()
        with pytest.raises(
            DataError, match=rf"^resume {experiment}: dataset 0{{20}}, now {key}: .*start a new"
        ):
            resume_sweep(experiment, stream=io.StringIO())
        assert build_count() == before
    assert sorted(p.name for p in experiment.iterdir()) == before_files
    assert recorded_dataset_key(experiment) == key


def test_an_edited_bundle_that_still_parses_is_refused(sweeps: dict[str, Path], tmp_path: Path) -> None:
    """`target_names` swapped in bundle.json: `predict` gave each target the other's probabilities."""
    import shutil

    from seqsweep.errors import ConfigError
    from seqsweep.results.model_bundle import load_bundle

    bundle_dir = tmp_path / "gru_bundle"
    export_bundle(sweeps["gru"], bundle_dir)
    checked = subprocess.run(
        ["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=bundle_dir, capture_output=True
    )
    assert checked.returncode == 0, checked.stdout  # the list is sha256sum's own format
    load_bundle(bundle_dir)
    edited = tmp_path / "edited"
    shutil.copytree(bundle_dir, edited)
    manifest = json.loads((edited / "bundle.json").read_text())
    manifest["target_names"] = manifest["target_names"][::-1]
    (edited / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match=r"bundle\.json is not the file `seqsweep export` wrote"):
        load_bundle(edited)
    (edited / "bundle.json").write_text((bundle_dir / "bundle.json").read_text())
    (edited / "extra.txt").write_text("added")
    with pytest.raises(ConfigError, match=r"extra\.txt is not the file `seqsweep export` wrote"):
        load_bundle(edited)
    # deleting the list switched the check off: the swapped targets predicted without a word
    (edited / "extra.txt").unlink()
    (edited / "bundle.json").write_text(json.dumps(manifest))
    (edited / "SHA256SUMS").unlink()
    with pytest.raises(ConfigError, match=r"SHA256SUMS is not the file `seqsweep export` wrote"):
        load_bundle(edited)
