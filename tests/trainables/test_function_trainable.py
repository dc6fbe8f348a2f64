"""Any training function as a trial (`trainable: package.module:function`): the scikit-learn example
through a real TPE + ASHA sweep on a local Ray, then results, export and predict; and the same results
and export when the function's module has no `predict` hook (test scores unavailable, never a crash)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from seqsweep.cli import main
from seqsweep.errors import ConfigError
from seqsweep.testing.sweeps import tiny_dataset

TRAINABLE = "seqsweep.examples.sklearn_gbm:train"


def function_sweep(db_url: str, storage: Path) -> dict[str, Any]:
    return {
        "name": "gbm_tiny",
        "trainable": TRAINABLE,
        "dataset": tiny_dataset(db_url),
        "params": {
            "learning_rate": {"type": "loguniform", "low": 0.05, "high": 0.3},
            "max_leaf_nodes": {"type": "choice", "values": [4, 8]},
            "iters_per_stage": 3,
            "epochs": 3,
        },
        "search": {"algorithm": "tpe", "num_samples": 3, "max_concurrent": 2, "seed": 3},
        "scheduler": {"type": "asha", "grace_period": 1, "reduction_factor": 2},
        "resources": {"cpu": 1},
        "failure": {"max_retries": 0},
        "storage_path": str(storage),
    }


@pytest.fixture(scope="module")
def function_experiment(
    ray_cluster: object, sample_db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    folder = tmp_path_factory.mktemp("function_sweep")
    path = folder / "gbm_tiny.yaml"
    path.write_text(yaml.safe_dump(function_sweep(sample_db_url, folder / "runs"), sort_keys=False))
    assert main(["run", str(path)]) == 0
    return folder / "runs" / "gbm_tiny"


def test_view_offers_train_and_valid_only(synthetic_bundle: Any) -> None:
    from seqsweep.trainables.function import DatasetView

    view = DatasetView(synthetic_bundle, seed=1)
    x = view.windows("train")
    assert x.shape == (view.n_windows("train"), view.shape.lookback, view.shape.n_features)
    assert view.labels("valid").shape == (view.n_windows("valid"), view.shape.horizon, view.shape.n_targets)
    with pytest.raises(ConfigError, match="split 'test' is not offered"):
        view.windows("test")


@pytest.mark.slow
def test_function_sweep_ranks_tests_exports_and_predicts(
    function_experiment: Path, sample_db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from seqsweep.results.experiment import read_experiment

    experiment = read_experiment(function_experiment)
    assert experiment.family == TRAINABLE
    assert len(experiment.trials) == 3
    assert all(t.status == "ok" for t in experiment.trials)
    for trial in experiment.trials:  # one report per boosting stage, numbered by the function
        assert list(trial.history["epoch"]) == list(range(1, trial.epochs_run + 1))

    capsys.readouterr()
    assert main(["results", str(function_experiment), "--top", "2", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    test = document["test"]
    assert len(test["winners"]) == 2  # scored through the module's predict hook
    assert 0.0 <= test["winners"][0]["macro_f1"] <= 1.0
    assert {b["name"] for b in test["baselines"]} == {"persistence", "majority"}

    out = tmp_path / "bundle"
    assert main(["export", str(function_experiment), "--out", str(out)]) == 0
    manifest = json.loads((out / "bundle.json").read_text())
    assert manifest["framework"] == "function"
    assert manifest["trainable"] == {
        "trainable": TRAINABLE,
        "predict_hook": "seqsweep.examples.sklearn_gbm:predict",
    }
    assert (out / "model" / "checkpoint" / "models.pkl").is_file()
    card = (out / "README.md").read_text()
    assert f"training function `{TRAINABLE}`" in card
    assert "seqsweep.examples.sklearn_gbm:predict" in card
    capsys.readouterr()
    assert main(["predict", str(out), "--db", sample_db_url, "--symbols", "LINKUSDT", "--json"]) == 0
    assert "LINKUSDT" in capsys.readouterr().out


@pytest.mark.slow
def test_without_a_predict_hook_results_say_so_and_export_copies(
    function_experiment: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import seqsweep.trainables.function as function

    monkeypatch.setattr(function, "predict_hook", lambda spec: None)
    capsys.readouterr()
    assert main(["results", str(function_experiment), "--out", str(tmp_path / "report")]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "test scores unavailable" in line]
    assert len(lines) == 1, out
    assert "has no `predict(checkpoint_dir, windows)` hook" in lines[0]
    assert "leaderboard (top 3 of 3 ranked trials)" in out
    # the confusion figure gives the same reason, not the `--no-test` the user never passed
    page = (tmp_path / "report" / "index.html").read_text()
    assert "confusion matrix on the test split, not computed: test scores unavailable" in page
    assert "--no-test" not in page

    bundle = tmp_path / "bundle"
    assert main(["export", str(function_experiment), "--out", str(bundle)]) == 0
    manifest = json.loads((bundle / "bundle.json").read_text())
    assert manifest["trainable"]["predict_hook"] is None
    assert (bundle / "model" / "checkpoint" / "models.pkl").is_file()
    assert "cannot predict" in (bundle / "README.md").read_text()
    metrics = json.loads((bundle / "metrics.json").read_text())
    assert metrics["test"]["model"] is None


@pytest.mark.slow
def test_a_winner_without_a_checkpoint_leaves_the_other_winners_scored(function_experiment: Path) -> None:
    """One winner that reported no checkpoint took every winner's test score away (`test.winners` empty)."""
    import dataclasses

    from seqsweep.results.evaluate import evaluate_winners
    from seqsweep.results.experiment import read_experiment

    experiment = read_experiment(function_experiment)
    first, second = experiment.top(2)
    winners = [dataclasses.replace(first, checkpoint=None), second]
    tested = evaluate_winners(experiment, winners, draws=20).test
    assert tested is not None
    assert [w.name for w in tested.winners] == [second.trial_id]
    assert f"test scores unavailable for winner {first.trial_id} of " in tested.note
    assert "the other winners are scored" in tested.note


C_LOCALES: dict[str, dict[str, str]] = {
    # the C locale turns Python's UTF-8 mode on (files UTF-8), PYTHONIOENCODING makes stdio ASCII, strict
    "strict": {"LANG": "C", "LC_ALL": "C", "PYTHONIOENCODING": "ascii"},
    # UTF-8 mode off: files and stdio in ASCII, stdio with surrogateescape
    "surrogateescape": {"LC_ALL": "C", "PYTHONUTF8": "0"},
}
"""Environments whose streams (and, without UTF-8 mode, files) cannot encode `−`, `×` or `ü`."""
ESCAPED = re.compile(r"\\(x[0-9a-f]{2}|u[0-9a-f]{4})")
"""A character written as its backslash escape (`\\xfc`, `\\u2212`)."""


def seqsweep_in(locale: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`seqsweep ARGS` in a subprocess under `C_LOCALES[locale]`; its output read back as UTF-8."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEQSWEEP_", "RAY_", "TF_", "LC_"))}
    env = {k: v for k, v in env.items() if k not in ("LANG", "PYTHONIOENCODING", "PYTHONUTF8")}
    env.update(C_LOCALES[locale], HF_HUB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "seqsweep", *args],
        env=env,
        capture_output=True,
        encoding="utf-8",
        timeout=300,  # far above its need on a busy 2-core machine; a hang fails instead of blocking
    )


@pytest.mark.slow
@pytest.mark.parametrize("locale", sorted(C_LOCALES))
def test_output_the_locale_cannot_encode_is_escaped_and_files_stay_utf_8(
    locale: str, function_experiment: Path, sample_db_url: str, tmp_path: Path
) -> None:
    """`results`, `export` and `predict` under a C or ASCII locale died with UnicodeEncodeError (exit 3)
    on the first `−`, `×` or `ü` they printed; such a character is now written as its escape. Without
    UTF-8 mode files were written in the locale's encoding too: the model card's `×` made `export` exit
    3. Files are UTF-8 whatever the locale, and `predict` reads the bundle back under the same locale."""
    results = seqsweep_in(locale, "results", str(function_experiment), "--out", str(tmp_path / "report"))
    assert results.returncode == 0, results.stderr
    assert results.stdout.isascii() and ESCAPED.search(results.stdout), results.stdout
    bundle = tmp_path / "bundle"
    exported = seqsweep_in(locale, "export", str(function_experiment), "--out", str(bundle))
    assert exported.returncode == 0 and exported.stdout.isascii(), exported
    assert " rows × " in (bundle / "README.md").read_bytes().decode("utf-8")
    predicted = seqsweep_in(locale, "predict", str(bundle), "--db", sample_db_url, "--symbols", "LINKUSDT")
    assert predicted.returncode == 0 and predicted.stdout.isascii(), predicted


def test_function_resumes_from_its_checkpoint_and_numbers_steps_on(
    synthetic_bundle: Any, tmp_path: Path
) -> None:
    """Without Ray: the reporter adds the checkpoint marker, and a trial restored from step 2 reports
    step 3 exactly as the uninterrupted one did (the marker carries the step count over)."""
    from seqsweep.trainables import InMemoryReporter
    from seqsweep.trainables.function import read_marker, train_function

    config = {"learning_rate": 0.1, "max_leaf_nodes": 4, "iters_per_stage": 2, "epochs": 3}
    full = InMemoryReporter(trial_id="t1", root=tmp_path)
    train_function(TRAINABLE, config, synthetic_bundle, full, sweep_seed=5)
    assert [r["epoch"] for r in full.reports] == [1, 2, 3]
    assert read_marker(full.checkpoints[1]) == {"trainable": TRAINABLE, "epoch": 2}
    resumed = InMemoryReporter(trial_id="t1", root=tmp_path, restore_from=full.checkpoints[1])
    train_function(TRAINABLE, config, synthetic_bundle, resumed, sweep_seed=5)
    assert [r["epoch"] for r in resumed.reports] == [3]
    assert resumed.reports[0]["val_macro_f1"] == full.reports[2]["val_macro_f1"]
    assert "val_skill" in resumed.reports[0]


def test_a_function_that_never_reports_fails_its_trial_unless_resumed(
    synthetic_bundle: Any, tmp_path: Path
) -> None:
    """Tune recorded such a trial as finished with no metric: `best none`, exit 0, Tune's own
    `Trial ... completed. Last result:` lines. A trial resumed after its last report has nothing left."""
    from seqsweep.errors import TrialError
    from seqsweep.trainables import InMemoryReporter
    from seqsweep.trainables.function import train_function

    # pytest puts this folder on sys.path: "tiny_user_models:..." imports as a sweep file names it
    fresh = InMemoryReporter(trial_id="t1", root=tmp_path)
    with pytest.raises(TrialError, match=r"returned without reporting any epoch; call reporter\.report"):
        train_function("tiny_user_models:never_reports", {"epochs": 2}, synthetic_bundle, fresh)
    (tmp_path / "last").mkdir()
    resumed = InMemoryReporter(trial_id="t1", root=tmp_path, restore_from=tmp_path / "last")
    train_function("tiny_user_models:never_reports", {"epochs": 2}, synthetic_bundle, resumed)
    assert resumed.reports == []


def test_a_report_without_the_search_metric_fails_its_trial_naming_it(
    synthetic_bundle: Any, tmp_path: Path
) -> None:
    """Tune ended the whole sweep on such a report with its own TuneError (exit 3) naming no trainable."""
    from seqsweep.errors import TrialError
    from seqsweep.trainables import InMemoryReporter
    from seqsweep.trainables.function import train_function

    reporter = InMemoryReporter(trial_id="t1", root=tmp_path)

    def train(metric: str) -> None:
        config = {"epochs": 2, "folder": str(tmp_path)}
        train_function(
            "tiny_user_models:reports_its_loss_only", config, synthetic_bundle, reporter, metric=metric
        )

    with pytest.raises(
        TrialError,
        match=r"epoch 1 has no 'val_macro_f1', the sweep's search metric \(it gave: epoch, val_loss\)",
    ):
        train("val_macro_f1")
    assert reporter.reports == []
    train("val_loss")
    assert [r["val_loss"] for r in reporter.reports] == [1.0, 1.0]


def test_a_predict_hook_that_raises_is_one_line_naming_the_hook(tmp_path: Path) -> None:
    """A `predict` hook raising (a bug in the user's module) made `results` and `predict` exit 3 with
    "unexpected error", as if seqsweep had failed, and one calling sys.exit(0) made them exit 0 silently;
    the line now names the hook and the checkpoint."""
    import numpy as np

    from seqsweep.trainables.function import HookModel

    def hook(checkpoint: Path, windows: np.ndarray) -> np.ndarray:
        raise KeyError("weights.pkl, from postgresql://bob:H00ksecret@pg/x")

    model = HookModel(hook, tmp_path, "mypkg.fit:train")
    with pytest.raises(ConfigError) as caught:
        model.predict_proba(np.zeros((2, 3, 4), dtype=np.float32))
    message = str(caught.value)
    assert message.startswith(f"mypkg.fit:predict on the checkpoint {tmp_path}: raised KeyError: ")
    assert "H00ksecret" not in message and message.endswith("fix the hook")

    def exits(checkpoint: Path, windows: np.ndarray) -> np.ndarray:
        raise SystemExit(0)  # ended `results` and `predict` with exit 0 and no output

    with pytest.raises(
        ConfigError, match=r"mypkg.fit:predict on the checkpoint .*: called sys.exit\(0\); fix"
    ):
        HookModel(exits, tmp_path, "mypkg.fit:train").predict_proba(np.zeros((2, 3, 4), dtype=np.float32))


def test_a_module_that_cannot_be_imported_is_named_where_its_hook_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SyntaxError in the function's module read as "has no predict hook": `results` ranked on validation
    only and `predict` refused a bundle, neither saying that the module itself was broken."""
    import numpy as np

    from seqsweep.trainables.function import HookModel, predict_hook

    (tmp_path / "broken_fit.py").write_text("def predict(checkpoint_dir, windows)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert predict_hook("broken_fit:train") is None
    with pytest.raises(
        ConfigError,
        match=r"has no broken_fit:predict hook \(importing its module failed: SyntaxError: .*\), so",
    ):
        HookModel(None, tmp_path, "broken_fit:train").predict_proba(np.zeros((1, 2, 3), dtype=np.float32))


def test_a_checkpoint_dir_that_is_no_folder_fails_the_trial_naming_it(
    synthetic_bundle: Any, tmp_path: Path
) -> None:
    """`reporter.report(metrics, "/no/such/dir")` failed the trial with `FileNotFoundError: ...
    '/no/such/dir/seqsweep_function.json'`, naming seqsweep's own marker file, not the folder given."""
    from seqsweep.errors import TrialError
    from seqsweep.trainables import InMemoryReporter
    from seqsweep.trainables.function import train_function

    reporter = InMemoryReporter(trial_id="t1", root=tmp_path)
    with pytest.raises(
        TrialError, match=r"checkpoint_dir '/nonexistent/seqsweep-test-checkpoint', which is not a folder"
    ):
        train_function(
            "tiny_user_models:reports_a_missing_checkpoint_dir", {"epochs": 1}, synthetic_bundle, reporter
        )
    assert reporter.reports == []
