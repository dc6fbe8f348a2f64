"""Reading, ranking, plotting and reporting on a crafted experiment (a real Ray Tune run, no model code)."""

from __future__ import annotations

import base64
import csv
import json
import math
import re
import shutil
import struct
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from results_helpers import CUT_SHORT, NAN_CELL, PLATEAU, RAISING_CELL, crafted_score, run_crafted_experiment

from seqsweep import cli
from seqsweep.errors import NoValidTrialsError
from seqsweep.results.experiment import ERRORED, LOST, NAN, OK, RUNNING, UNFINISHED, read_experiment
from seqsweep.results.leaderboard import leaderboard_rows
from seqsweep.results.pipeline import write_results
from seqsweep.results.plots import DPI, FIGURE_SIZES
from seqsweep.tuning.experiment_lock import experiment_lock
from seqsweep.tuning.experiment_state import StateFile, state_files


def _stored_reports(trial_dir: Path) -> list[dict]:
    """What Ray wrote for a trial, read straight from its result.json (one JSON object per report)."""
    return [json.loads(line) for line in (trial_dir / "result.json").read_text().splitlines() if line.strip()]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    return width, height


@pytest.fixture(scope="module")
def outcome(crafted_experiment: Path, tmp_path_factory: pytest.TempPathFactory):
    return write_results(crafted_experiment, top=3, evaluate=False, out_dir=tmp_path_factory.mktemp("report"))


def test_a_result_json_that_lost_rows_is_read_from_progress_csv(
    crafted_experiment: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Ray's result.json kept only a trial's first reports (seen after a node died), progress.csv all
    copy = tmp_path / crafted_experiment.name
    shutil.copytree(crafted_experiment, copy)
    whole = {t.trial_id: t for t in read_experiment(copy).ranked()}
    trial = max(whole.values(), key=lambda t: t.best_epoch or 0)
    assert trial.best_epoch is not None and trial.best_epoch > 1
    result_json = Path(str(trial.path)) / "result.json"
    assert result_json.is_relative_to(copy)  # never the session's experiment
    result_json.write_text(result_json.read_text().splitlines(keepends=True)[0])

    with caplog.at_level("WARNING", logger="seqsweep.results.experiment"):
        again = {t.trial_id: t for t in read_experiment(copy).ranked()}[trial.trial_id]
    assert (again.epochs_run, again.best_epoch, again.best_value) == (
        trial.epochs_run,
        trial.best_epoch,
        trial.best_value,
    )
    assert f"trial {trial.trial_id}: Ray's result.json holds 1 report(s)" in caplog.text


def test_leaderboard_matches_the_metrics_ray_stored(crafted_experiment: Path) -> None:
    experiment = read_experiment(crafted_experiment)
    ranked = experiment.ranked()
    assert len(ranked) == 4
    for trial in ranked:
        reports = _stored_reports(Path(str(trial.path)))
        finite = [
            r for r in reports if all(math.isfinite(r[k]) for k in ("val_macro_f1", "train_loss", "val_loss"))
        ]
        best = max(finite, key=lambda r: r["val_macro_f1"])
        assert trial.best_epoch == best["epoch"]
        assert trial.val_macro_f1 == best["val_macro_f1"]
        assert trial.val_accuracy == best["val_accuracy"]
        assert trial.best_metrics["val_loss"] == best["val_loss"]
        assert trial.epochs_run == len(reports)
        assert trial.stopped_early is (not reports[-1]["final_epoch"])
        assert trial.wall_time_s == pytest.approx(reports[-1]["time_total_s"])
        cell, rate = trial.params["cell_size"], trial.params["learning_rate"]
        assert trial.val_macro_f1 == crafted_score(cell, rate, 2)  # the crafted scores peak at epoch 2
        # the checkpoint Tune kept for that epoch is the one the leaderboard points at
        state = json.loads((Path(str(trial.checkpoint)) / "state.json").read_text())
        assert state["epoch"] == trial.best_epoch
    values = [t.val_macro_f1 for t in ranked]
    assert values == sorted(values, reverse=True)
    rows = leaderboard_rows(experiment, top=2)
    assert [r["trial_id"] for r in rows] == [t.trial_id for t in ranked[:2]]
    assert set(rows[0]) >= {"cell_size", "learning_rate", "best_epoch", "val_macro_f1", "stopped_early"}


def test_errored_and_nan_trials_are_listed_apart_and_never_win(crafted_experiment: Path) -> None:
    experiment = read_experiment(crafted_experiment)
    by_cell: dict[int, set[str]] = {}
    for trial in experiment.trials:
        by_cell.setdefault(trial.params["cell_size"], set()).add(trial.status)
    assert by_cell[RAISING_CELL] == {ERRORED}
    assert by_cell[NAN_CELL] == {NAN}
    assert {t.status for t in experiment.excluded} == {ERRORED, NAN} and len(experiment.excluded) == 4
    # both reported val_macro_f1 0.99, above every valid trial, and still do not win
    winner = experiment.ranked()[0]
    assert winner.status == OK
    assert (winner.params["cell_size"], winner.params["learning_rate"]) == (8, 0.1)
    errored = [t for t in experiment.excluded if t.status == ERRORED]
    assert all("cell_size 13 is refused" in str(t.error) for t in errored)


def test_stopped_from_outside_and_plateau_stops_are_told_apart(crafted_experiment: Path) -> None:
    experiment = read_experiment(crafted_experiment)
    by_params = {(t.params["cell_size"], t.params["learning_rate"]): t for t in experiment.trials}
    cut, plateau = by_params[CUT_SHORT], by_params[PLATEAU]
    assert cut.stopped_early is True and cut.epochs_run == 2
    assert plateau.stopped_early is False and plateau.plateau_stopped is True and plateau.epochs_run == 3


def test_no_valid_trial_says_so_in_one_line_with_exit_2(
    ray_cluster: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params = {
        "cell_size": {"type": "choice", "values": [RAISING_CELL, NAN_CELL]},
        "learning_rate": 0.1,
        "epochs": 2,
    }
    experiment = run_crafted_experiment(tmp_path, name="all_bad", params=params)
    capsys.readouterr()
    with pytest.raises(NoValidTrialsError):
        read_experiment(experiment).ranked()
    assert cli.main(["results", str(experiment), "--no-test"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1, err
    assert "no valid trial" in err and "errored" in err and "nan" in err
    # and which trial failed how: the leaderboard's "not ranked" rows, which a user lost with the table
    listed = captured.out.splitlines()
    assert listed[0] == "no trial can be ranked:", captured.out
    trials = read_experiment(experiment).trials
    assert len(listed) == 1 + len(trials)
    errored = [line for line in listed if " errored: " in line]
    assert errored and all("cell_size 13 is refused" in line for line in errored), listed
    assert all(line.endswith("error.txt)") for line in errored), listed


def test_results_files_agree_with_the_ranking(outcome, crafted_experiment: Path) -> None:
    report = outcome.report_dir
    names = {p.name for p in outcome.files}
    assert {"leaderboard.csv", "winners.json", "loss_curves.png", "confusion_winner.png"} <= names
    assert {"f1_vs_cell_size.png", "f1_vs_learning_rate.png", "index.html"} <= names
    assert "param_importances.png" not in names  # 4 valid trials: below the 8 importances need
    ranked = read_experiment(crafted_experiment).ranked()
    with (report / "leaderboard.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["trial_id"] for r in rows if r["rank"]] == [t.trial_id for t in ranked]
    assert {r["status"] for r in rows if not r["rank"]} == {ERRORED, NAN}
    for row, trial in zip(rows, ranked, strict=False):
        assert float(row["val_macro_f1"]) == trial.val_macro_f1
    winners = json.loads((report / "winners.json").read_text())
    assert [w["trial_id"] for w in winners["winners"]] == [t.trial_id for t in ranked[:3]]
    assert "test split is never used to choose" in winners["selection"].lower()
    assert len(winners["excluded"]) == 4 and winners["test"] is None and winners["valid"] is None
    assert outcome.describe().count("never used to choose") == 1  # the selection sentence, once


def test_every_png_is_a_non_empty_image_of_the_stated_size(outcome) -> None:
    pngs = [p for p in outcome.files if p.suffix == ".png"]
    assert len(pngs) == 4  # loss curves, confusion, two parameter scatters; no importances from 4 trials
    kinds = {"loss_curves": "loss_curves", "confusion_winner": "confusion"}
    for path in pngs:
        kind = kinds.get(path.stem, "f1_vs_param")
        width, height = FIGURE_SIZES[kind]
        assert _png_size(path) == (round(width * DPI), round(height * DPI)), path
        pixels = matplotlib.image.imread(path)
        assert pixels.shape[:2] == (round(height * DPI), round(width * DPI))
        assert float(np.ptp(pixels[..., :3])) > 0.1, f"{path.name} is blank"


def test_report_page_is_self_contained(outcome) -> None:
    page = (outcome.report_dir / "index.html").read_text()
    assert not re.search(r"https?://", page)
    assert "<link" not in page and "<script" not in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    pngs = {p.read_bytes() for p in outcome.files if p.suffix == ".png"}
    assert len(images) == len(pngs)
    assert {base64.b64decode(data) for data in images} == pngs
    assert "Leaderboard" in page and "never used to choose" in page


def test_results_json_is_the_winners_document(
    crafted_experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["results", str(crafted_experiment), "--top", "2", "--no-test", "--json", "--out", str(tmp_path)]
    assert cli.main(args) == 0
    document = json.loads(capsys.readouterr().out)
    assert [w["rank"] for w in document["winners"]] == [1, 2]
    assert document["metric"] == "val_macro_f1" and document["test"] is None
    assert {e["status"] for e in document["excluded"]} == {ERRORED, NAN}
    assert "index.html" in document["files"]


def test_export_and_predict_refuse_what_they_cannot_use_in_one_line(
    crafted_experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    errored = next(t for t in read_experiment(crafted_experiment).excluded if t.status == ERRORED)
    args = ["export", str(crafted_experiment), "--out", str(tmp_path / "b"), "--trial", errored.trial_id]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot export a trial with status errored" in err
    assert not (tmp_path / "b").exists()
    assert cli.main(["predict", str(tmp_path), "--db", "sqlite:///nowhere.db"]) == 2
    assert "not a seqsweep bundle" in capsys.readouterr().err


def test_a_trial_whose_folder_is_gone_is_lost_not_pending_and_export_will_not_guess(
    crafted_experiment: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The winner's folder deleted by hand: it showed as "pending" with 0 epochs, the runner-up was ranked
    first, and `export` shipped the runner-up's weights without a word."""
    copy = tmp_path / crafted_experiment.name
    shutil.copytree(crafted_experiment, copy)
    before = read_experiment(copy).ranked()
    winner, runner_up = before[0], before[1]
    shutil.rmtree(Path(str(winner.path)))
    with caplog.at_level("WARNING", logger="seqsweep.results.experiment"):
        after = read_experiment(copy)
    [lost] = after.lost
    assert lost.trial_id == winner.trial_id and lost.status == LOST and not lost.ranked
    assert f"trial {winner.trial_id} (TERMINATED in Tune's state): its folder" in caplog.text
    assert after.ranked()[0].trial_id == runner_up.trial_id  # the ranking of what is left
    out = tmp_path / "bundle"
    assert cli.main(["export", str(copy), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"trial {winner.trial_id} ran but its folder" in err[0] and "--trial" in err[0]
    assert not out.exists()


def test_a_winner_whose_checkpoint_is_gone_is_named_as_the_winner(
    crafted_experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`export` without `--trial` named a flag the user never gave: "--trial X: cannot export ..."."""
    copy = tmp_path / crafted_experiment.name
    shutil.copytree(crafted_experiment, copy)
    winner = read_experiment(copy).ranked()[0]
    assert winner.checkpoint is not None
    shutil.rmtree(winner.checkpoint)  # read from the copy: its checkpoint is the copy's
    assert cli.main(["export", str(copy), "--out", str(tmp_path / "bundle")]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"seqsweep: error: the winner (trial {winner.trial_id}): cannot export"), line
    assert "--trial" not in line


def test_an_interrupted_sweep_s_unended_trials_are_unfinished_unless_a_sweep_holds_it(
    crafted_experiment: Path, tmp_path: Path
) -> None:
    """After `run` was interrupted, `results` showed the trial Tune left RUNNING as `running` (header, table,
    page), with no word that the sweep was incomplete, though no process ran it any more."""
    copy = tmp_path / crafted_experiment.name
    shutil.copytree(crafted_experiment, copy)
    best = read_experiment(copy).ranked()[0]
    state = StateFile(state_files(copy)[-1])
    [entry] = [e for e in state.entries if e.trial_id == best.trial_id]
    entry.trial["status"] = "RUNNING"  # as Tune saved it on the way out of an interrupted run
    state.save()
    total = len(state.entries)
    line = f"sweep interrupted: {total - 1} of {total} trials finished; continue with seqsweep resume {copy}"

    left = read_experiment(copy)  # no lock file: no run holds it
    assert left.trial(best.trial_id).status == UNFINISHED and left.interrupted == line
    assert left.ranked()[0].trial_id == best.trial_id  # ranked on what it reported, as a running trial is
    outcome = write_results(copy, top=1, evaluate=False, out_dir=tmp_path / "report")
    text = outcome.describe()
    assert f"1 {UNFINISHED}" in text.splitlines()[0] and text.splitlines()[1] == line
    assert f" {RUNNING}" not in text.splitlines()[0]
    assert line in (tmp_path / "report" / "index.html").read_text()
    with (tmp_path / "report" / "leaderboard.csv").open() as handle:
        rows = {row["trial_id"]: row for row in csv.DictReader(handle)}
    assert rows[best.trial_id]["status"] == UNFINISHED

    with experiment_lock(copy):  # a live `run` or `resume` holds it: the trial does run
        live = read_experiment(copy)
        text = write_results(copy, top=1, evaluate=False, out_dir=tmp_path / "live").describe()
    assert live.trial(best.trial_id).status == RUNNING and live.interrupted is None
    assert f"1 {RUNNING}" in text.splitlines()[0] and "sweep interrupted" not in text
    assert "sweep interrupted" not in (tmp_path / "live" / "index.html").read_text()
    assert read_experiment(copy).trial(best.trial_id).status == UNFINISHED  # the lock went with its holder


def test_a_stored_sweep_breaking_a_later_run_rule_is_read_with_a_warning_and_refused_by_resume(
    crafted_experiment: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An experiment run by an older seqsweep whose stored sweep.yaml breaks a rule added since (a choice
    value twice, ASHA keys without a type) was refused by `results`, though its trials exist and ran as the
    file reads. `results` now reads it with one warning line per rule; `resume`, which would start more
    trials, still refuses, naming the rule and what to do."""
    import logging

    import yaml

    from seqsweep.errors import ConfigError
    from seqsweep.layout import SWEEP_COPY
    from seqsweep.tuning.sweep_copy import write_sweep_copy

    copy = tmp_path / "crafted"
    shutil.copytree(crafted_experiment, copy)
    raw = yaml.safe_load((copy / SWEEP_COPY).read_text(encoding="utf-8"))
    raw["params"]["learning_rate"]["values"] = [0.01, 0.1, 0.1]
    raw["scheduler"] = {"grace_period": 1}
    write_sweep_copy(copy, yaml.safe_dump(raw, sort_keys=False))  # as the older seqsweep recorded it

    with caplog.at_level(logging.WARNING, logger="seqsweep"):
        assert cli.main(["results", str(copy), "--no-test", "--top", "1"]) == 0
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2 and all(len(line.splitlines()) == 1 for line in warned)
    assert (
        sum("(params.learning_rate: `values` lists 0.1 twice; list each value once)" in w for w in warned)
        == 1
    )
    assert sum("(scheduler.grace_period: read only by `type: asha`" in w for w in warned) == 1
    assert all("breaks a rule for sweeps about to run" in line for line in warned)
    assert len(read_experiment(copy).ranked()) == len(read_experiment(crafted_experiment).ranked())

    from seqsweep.tuning.runner import load_stored_sweep

    with pytest.raises(ConfigError) as refused:
        load_stored_sweep(copy)
    message = str(refused.value)
    assert message.startswith(f"{copy / SWEEP_COPY}: cannot resume: scheduler.grace_period: read only by")
    assert "another `name`" in message and len(message.splitlines()) == 1
