"""Winners you can trust: validation baselines, test intervals, verdicts, per-cell tables, importances
gating, val_mse ranking, and the selection sentence printed once.

The interval and verdict tests use crafted arrays whose answer is known; the baseline and JSON tests
use the crafted experiment (a real Ray Tune run) on the generated sample database.
"""

from __future__ import annotations

import dataclasses
import html
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml
from results_helpers import crafted_mse, run_crafted_experiment

from seqsweep import cli, metrics
from seqsweep.baselines import majority_predictions, persistence_moves, persistence_predictions
from seqsweep.constants import STUDY_URL_ENV, VAL_MACRO_F1_FOLD_STD
from seqsweep.data.bundle import DatasetBundle
from seqsweep.layout import STUDY_DB
from seqsweep.results import bootstrap
from seqsweep.results.bootstrap import BootstrapSettings, Interval, block_length, block_weights, compare
from seqsweep.results.evaluate import (
    CHANCE,
    TEST_NOTE,
    TEST_SPLIT,
    Evaluations,
    ScoreSet,
    evaluate_split,
    load_dataset,
    macro_f1_by_symbol,
    predicts_one_class,
    window_symbols,
)
from seqsweep.results.experiment import Experiment, TrialSummary, read_experiment
from seqsweep.results.leaderboard import BELOW_PERSISTENCE, leaderboard_rows, repeated_config_lines, tie_line
from seqsweep.results.pipeline import winner_confusion, write_results
from seqsweep.results.plots import MIN_IMPORTANCE_TRIALS, write_plots
from seqsweep.results.report import render_report
from seqsweep.results.score_tables import cell_rows, interval_rows, symbol_line, symbol_rows
from seqsweep.results.sections import ANSWER, answer_section, report_sections
from seqsweep.results.winner_outputs import WinnerOutput
from seqsweep.testing.bundles import make_bundle
from seqsweep.tuning.study_owner import OWNER_ATTR, OWNER_DIR_ATTR, RAY_TRIAL_ID_ATTR

# --- the bootstrap on crafted arrays ---------------------------------------------------------------


def _crafted(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2, 2) labels with a few masked positions, and each window's symbol (3 symbols)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=(n, 2, 2)).astype(np.int8)
    labels[rng.random(labels.shape) < 0.05] = -50
    return labels, np.repeat(np.arange(3), n // 3)


def test_identical_predictors_differ_by_exactly_zero() -> None:
    labels, groups = _crafted()
    guess = np.random.default_rng(1).integers(0, 3, size=labels.shape).astype(np.int8)
    got = compare(labels, {"a": guess, "b": guess.copy()}, [("a", "b")], groups, BootstrapSettings(block=24))
    assert got[("a", "b")] == Interval(0.0, 0.0, 0.0)
    assert not got[("a", "b")].beats


def test_always_right_beats_always_wrong_with_a_positive_interval() -> None:
    labels, groups = _crafted()
    right = np.where(labels == -50, 0, labels).astype(np.int8)
    wrong = ((right + 1) % 3).astype(np.int8)
    noisy = np.where(np.random.default_rng(2).random(labels.shape) < 0.6, right, wrong).astype(np.int8)
    settings = BootstrapSettings(block=24, draws=1000, seed=5)
    got = compare(labels, {"right": right, "wrong": wrong, "noisy": noisy},
                  [("right", "wrong"), ("noisy", "wrong")], groups, settings)  # fmt: skip
    perfect = got[("right", "wrong")]
    assert perfect.delta == pytest.approx(1.0) and perfect.low == pytest.approx(1.0)
    partial = got[("noisy", "wrong")]
    assert 0 < partial.low <= partial.delta <= partial.high < 1
    point = metrics.scores(labels, noisy)["macro_f1"] - metrics.scores(labels, wrong)["macro_f1"]
    assert partial.delta == pytest.approx(point)
    assert partial.beats


def test_a_test_split_of_too_few_blocks_beats_nothing_and_says_so() -> None:
    """Two symbols of 20 test windows each, blocks of 24: every draw is the whole split rotated, so the
    interval is the point itself; a small lead must not read as a sure win ("beats ... +0.05 to +0.05")."""
    labels, groups = _crafted(40)
    groups = np.repeat(np.arange(2), 20)
    right = np.where(labels == -50, 0, labels).astype(np.int8)
    wrong = ((right + 1) % 3).astype(np.int8)
    mostly = np.where(np.random.default_rng(3).random(labels.shape) < 0.3, right, wrong).astype(np.int8)
    got = compare(labels, {"mostly": mostly, "wrong": wrong}, [("mostly", "wrong")], groups,
                  BootstrapSettings(block=24, draws=200, seed=0))[("mostly", "wrong")]  # fmt: skip
    assert got.delta > 0 and got.low == pytest.approx(got.delta)  # the draws do not vary at all
    assert got.too_short and got.blocks == 0 and not got.beats
    assert bootstrap.verdict(got, "persistence") == (
        f"is not shown to beat persistence on test ({bootstrap.signed(got.delta)}; too short for an "
        "interval: its windows hold 0.0 blocks of 24 windows, an interval needs 4; lengthen the test split)"
    )
    assert got.to_dict()["too_short"] == {"blocks": 0.0, "block_windows": 24, "needed": 4}
    assert bootstrap.resampled_blocks(np.repeat(np.arange(2), 60), 24) == pytest.approx(5.0)
    enough = compare(labels.repeat(3, axis=0), {"a": mostly.repeat(3, axis=0), "b": wrong.repeat(3, axis=0)},
                     [("a", "b")], np.repeat(np.arange(2), 60), BootstrapSettings(block=24, draws=200))  # fmt: skip
    assert not enough[("a", "b")].too_short and "too_short" not in enough[("a", "b")].to_dict()


def test_the_interval_is_seeded_and_contains_the_point_estimate() -> None:
    labels, groups = _crafted(900)
    rng = np.random.default_rng(3)
    a = np.where(rng.random(labels.shape) < 0.4, np.clip(labels, 0, 2), rng.integers(0, 3, labels.shape))
    b = rng.integers(0, 3, size=labels.shape)
    predictions = {"a": a.astype(np.int8), "b": b.astype(np.int8)}
    settings = BootstrapSettings(block=30, draws=1000, seed=11)
    first = compare(labels, predictions, [("a", "b")], groups, settings)[("a", "b")]
    again = compare(labels, predictions, [("a", "b")], groups, settings)[("a", "b")]
    other = compare(labels, predictions, [("a", "b")], groups, dataclasses.replace(settings, seed=12))
    assert first == again
    assert other[("a", "b")] != first
    assert first.low < first.delta < first.high


def test_block_weights_keep_each_symbol_whole_and_blocks_contiguous() -> None:
    groups = np.repeat([0, 1], [50, 7])  # symbol 1 is shorter than a block
    weights = block_weights(groups, block=10, draws=2000, rng=np.random.default_rng(0))
    assert weights.shape == (2000, 57)
    # circular blocks: the first and last windows are drawn as often as the middle ones
    np.testing.assert_allclose(weights[:, :50].mean(axis=0), 1.0, atol=0.1)
    np.testing.assert_array_equal(weights[:, :50].sum(axis=1), 50)
    np.testing.assert_array_equal(weights[:, 50:], 1)  # a block as long as the symbol: drawn whole
    # a window inside the series is drawn as often as its neighbours' blocks allow: weight <= 5 blocks
    assert weights.max() <= 5
    assert block_length(12, 2, None) == 14
    assert block_length(12, 2, pd.Timedelta("1h")) == 24
    assert block_length(30, 10, pd.Timedelta("1h")) == 40


def test_a_thousand_draws_on_four_thousand_windows_take_seconds() -> None:
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, size=(4000, 4, 3)).astype(np.int8)
    predictions = {name: rng.integers(0, 3, size=labels.shape).astype(np.int8) for name in "wpm"}
    start = time.perf_counter()
    compare(labels, predictions, [("w", "p"), ("w", "m")], np.repeat(np.arange(16), 250),
            BootstrapSettings(block=24))  # fmt: skip
    assert time.perf_counter() - start < 10  # about 0.2 s on one core; generous for a loaded machine


# --- the verdict sentence --------------------------------------------------------------------------


def test_the_verdict_follows_the_interval() -> None:
    assert (
        bootstrap.verdict(Interval(0.031, 0.004, 0.058), "persistence")
        == "beats persistence on test by +0.031 (95 % interval +0.004 to +0.058)"
    )
    assert (
        bootstrap.verdict(Interval(-0.021, -0.044, 0.002), "persistence")
        == "does not beat persistence on test (−0.021, interval −0.044 to +0.002): a tie within the noise, "
        "the interval holds 0"
    )
    # a positive delta whose interval reaches 0 does not beat
    assert bootstrap.verdict(Interval(0.02, 0.0, 0.04), "majority").startswith("does not beat majority")
    assert bootstrap.verdict(Interval(0.0, 0.0, 0.0), "persistence") == (
        "does not beat persistence on test (+0.000, interval +0.000 to +0.000): a tie within the noise, "
        "the interval holds 0"
    )


def test_an_interval_from_few_blocks_is_shown_but_called_rough() -> None:
    """A test split just past `MIN_BLOCKS` gave a percentile interval read like one from many blocks,
    though from a handful of blocks it is too narrow."""
    few = Interval(0.031, 0.004, 0.058, blocks=6.0, block=24)
    assert few.beats and few.rough and not few.too_short
    assert bootstrap.verdict(few, "persistence") == (
        "beats persistence on test by +0.031 (95 % interval +0.004 to +0.058; a rough interval: its "
        "windows hold 6.0 blocks of 24 windows, under 10)"
    )
    assert few.to_dict()["rough"] == {"blocks": 6.0, "block_windows": 24, "below": bootstrap.ROUGH_BLOCKS}
    tie = bootstrap.verdict(Interval(0.01, -0.02, 0.04, blocks=6.0, block=24), "persistence")
    assert tie.endswith("under 10): a tie within the noise, the interval holds 0")
    enough = Interval(0.031, 0.004, 0.058, blocks=float(bootstrap.ROUGH_BLOCKS), block=24)
    assert not enough.rough and "rough" not in bootstrap.verdict(enough, "persistence")
    assert "rough" not in enough.to_dict()
    short = Interval(0.031, 0.004, 0.058, blocks=3.0, block=24)
    assert short.too_short and not short.rough and "rough" not in short.to_dict()


def test_a_lead_inside_the_noise_is_a_tie_and_a_deficit_outside_it_is_below() -> None:
    """A positive delta whose interval holds 0 is read as a tie, not as a lead nor as a loss; a whole
    interval under 0 is read as scoring below the baseline, not merely as "does not beat" it."""
    inside = bootstrap.verdict(Interval(0.031, -0.004, 0.066), "persistence")
    assert inside == (
        "does not beat persistence on test (+0.031, interval −0.004 to +0.066): a tie within the noise, "
        "the interval holds 0"
    )
    below = bootstrap.verdict(Interval(-0.042, -0.086, -0.001), "persistence")
    assert below == (
        "does not beat persistence on test (−0.042, interval −0.086 to −0.001): it scores below it, the "
        "whole interval is under 0"
    )
    # the reading goes before the other baselines' clauses, on the persistence sentence only
    winner = ScoreSet(
        "w",
        "winner",
        "",
        {},
        [],
        [],
        np.zeros((3, 3)),
        vs_baselines={
            "persistence": Interval(0.031, -0.004, 0.066),
            "majority": Interval(0.0, -0.012, 0.011),
        },
    )
    assert winner.verdict() == (
        f"{inside}; nor does it beat majority, a constant guess that ignores the input (+0.000, interval "
        "−0.012 to +0.011)"
    )


# --- validation baselines and test intervals on the sample database ------------------------------


@pytest.fixture(scope="module")
def crafted_dataset(crafted_experiment: Path, sample_db_url: str) -> DatasetBundle:
    """The crafted sweep's dataset (LINKUSDT, UNIUSDT; close; lookback 6, horizon 2) from the sample DB."""
    return load_dataset(read_experiment(crafted_experiment), sample_db_url)


@pytest.fixture(scope="module")
def baselines_outcome(
    crafted_experiment: Path, crafted_dataset: DatasetBundle, sample_db_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Any:  # fmt: skip
    """`results` with validation baselines but no test (the crafted checkpoints are not models)."""
    out = tmp_path_factory.mktemp("baselines_report")
    return write_results(crafted_experiment, top=3, evaluate=False, baselines=True, db_url=sample_db_url,
                         out_dir=out)  # fmt: skip


def test_validation_baselines_are_printed_above_the_leaderboard(baselines_outcome: Any) -> None:
    text = baselines_outcome.describe()
    assert text.index("validation split, baselines") < text.index("leaderboard (top ")
    head = text[: text.index("leaderboard (top ")]
    assert "majority" in head and "persistence" in head and "macro_f1_pooled" in head
    # the winners' validation scores won a selection: the note says they are biased and which verdict to read
    assert (
        "the winners were chosen for these scores, the best of many tries, so theirs are biased upward"
        in head
    )
    assert text.count("never used to choose") == 1


def test_valid_baselines_in_the_json_have_the_shape_of_test_baselines(
    baselines_outcome: Any, crafted_dataset: DatasetBundle
) -> None:
    document = json.loads((baselines_outcome.report_dir / "winners.json").read_text())
    valid = document["valid"]
    assert valid["split"] == "valid" and valid["n_windows"] == len(crafted_dataset.splits["valid"])
    names = [b["name"] for b in valid["baselines"]]
    assert names == ["majority", "persistence"]
    labels = crafted_dataset.splits["valid"].labels
    persistence = valid["baselines"][1]
    expected = metrics.scores(labels, persistence_predictions(crafted_dataset, "valid"))
    for key, value in expected.items():
        assert persistence[key] == pytest.approx(value, abs=1e-12), key
    assert {"name", "kind", "description", "macro_f1", "macro_f1_pooled", "by_step", "confusion"} <= set(
        persistence
    )


def test_trials_below_persistence_on_validation_are_marked(
    baselines_outcome: Any, crafted_experiment: Path
) -> None:
    document = json.loads((baselines_outcome.report_dir / "winners.json").read_text())
    persistence = document["valid"]["baselines"][1]["macro_f1"]
    rows = leaderboard_rows(read_experiment(crafted_experiment), None, persistence)
    assert all(r[BELOW_PERSISTENCE] == (r["val_macro_f1"] < persistence) for r in rows)
    for winner in document["winners"]:
        assert winner[BELOW_PERSISTENCE] == (winner["val_macro_f1"] < persistence)
    assert BELOW_PERSISTENCE in baselines_outcome.describe()
    csv_text = (baselines_outcome.report_dir / "leaderboard.csv").read_text()
    assert BELOW_PERSISTENCE in csv_text.splitlines()[0]


def test_leaderboard_shows_pooled_skill_and_mse_when_reported(crafted_experiment: Path) -> None:
    experiment = read_experiment(crafted_experiment)
    row = leaderboard_rows(experiment, 1)[0]
    assert {"val_macro_f1", "val_macro_f1_pooled", "val_skill", "val_mse"} <= set(row)
    assert row["val_macro_f1_pooled"] == pytest.approx(row["val_macro_f1"] + 0.1)
    # an experiment from before these metrics existed: no such keys, no such columns, still ranked
    old = tuple(
        dataclasses.replace(t, best_metrics={k: v for k, v in t.best_metrics.items() if k in
                                             ("train_loss", "val_loss", "val_macro_f1", "val_accuracy")})
        for t in experiment.trials
    )  # fmt: skip
    old_row = leaderboard_rows(dataclasses.replace(experiment, trials=old), 1)[0]
    assert not {"val_macro_f1_pooled", "val_skill", "val_mse"} & set(old_row)
    assert old_row["trial_id"] == row["trial_id"]


def test_the_leaderboard_shows_the_walk_forward_folds_spread(crafted_experiment: Path) -> None:
    """Walk-forward trials report `val_macro_f1_fold_std` beside the mean that ranks them; the leaderboard
    left it out, so a lead won in one fold alone (a large spread) looked like any other."""
    experiment = read_experiment(crafted_experiment)
    assert VAL_MACRO_F1_FOLD_STD not in leaderboard_rows(experiment, 1)[0]
    folded = tuple(
        dataclasses.replace(t, best_metrics={**t.best_metrics, VAL_MACRO_F1_FOLD_STD: 0.12})
        for t in experiment.trials
    )
    row = leaderboard_rows(dataclasses.replace(experiment, trials=folded), 1)[0]
    assert row[VAL_MACRO_F1_FOLD_STD] == 0.12


def test_test_intervals_and_verdicts_on_crafted_predictions(crafted_dataset: DatasetBundle) -> None:
    """An oracle beats both baselines; a copy of persistence differs from it by exactly 0; a constant
    guess (the majority class) is named as one, whatever its sentence on persistence says."""
    labels = crafted_dataset.splits[TEST_SPLIT].labels
    oracle = np.where(labels == -50, 1, labels).astype(np.int8)
    copy = persistence_predictions(crafted_dataset, TEST_SPLIT)
    winners = {
        "oracle": ("knows the answers", WinnerOutput(oracle)),
        "copy": ("persistence", WinnerOutput(copy)),
        "constant": ("ignores its input", WinnerOutput(majority_predictions(crafted_dataset, TEST_SPLIT))),
    }
    settings = bootstrap.settings_for(crafted_dataset, TEST_SPLIT, draws=1000, seed=0)
    assert settings.block >= crafted_dataset.spec.lookback + crafted_dataset.spec.horizon
    evaluation = evaluate_split(crafted_dataset, TEST_SPLIT, winners, intervals=settings)
    document = json.loads(json.dumps(evaluation.to_dict()))
    by_name = {w["name"]: w for w in document["winners"]}
    for baseline in ("majority", "persistence"):
        entry = by_name["oracle"]["vs_baselines"][baseline]
        # the crafted test split holds under ROUGH_BLOCKS blocks: its interval is shown, called rough
        assert set(entry) == {"delta", "ci95", "rough"} and entry["ci95"][0] > 0
        assert entry["ci95"][0] <= entry["delta"] <= entry["ci95"][1]
    assert by_name["copy"]["vs_baselines"]["persistence"]["ci95"] == [0.0, 0.0]
    assert by_name["copy"]["vs_baselines"]["persistence"]["delta"] == 0.0
    assert by_name["oracle"]["verdict"].startswith("beats persistence on test by +")
    assert "constant guess" not in by_name["oracle"]["verdict"]
    assert by_name["copy"]["verdict"].startswith(
        "does not beat persistence on test (+0.000, interval +0.000 to +0.000; a rough interval"
    )
    assert by_name["constant"]["vs_baselines"]["majority"]["ci95"] == [0.0, 0.0]
    assert by_name["constant"]["vs_baselines"]["majority"]["delta"] == 0.0
    assert by_name["constant"]["verdict"].endswith(
        "beat majority, a constant guess that ignores the input (+0.000, interval +0.000 to +0.000); and "
        "it predicts one class in every (target, step) cell on test: a constant guess that ignores its "
        "input, whatever it beats"
    )
    assert document["bootstrap"]["draws"] == 1000 and "Künsch" in document["bootstrap"]["method"]
    cells = cell_rows(evaluation)
    assert len(cells) == crafted_dataset.spec.horizon * len(crafted_dataset.target_names)
    assert {"target", "step", "oracle", "copy", "majority", "persistence"} <= set(cells[0])
    assert all(row["oracle"] == pytest.approx(1.0) for row in cells)


def test_test_mse_sits_beside_the_zero_move_and_persistence_baselines(crafted_dataset: DatasetBundle) -> None:
    """A regression winner that forecasts persistence's moves has exactly persistence's MSE."""
    moves = persistence_moves(crafted_dataset, TEST_SPLIT)[0]
    copy = WinnerOutput(persistence_predictions(crafted_dataset, TEST_SPLIT), moves=moves)
    evaluation = evaluate_split(crafted_dataset, TEST_SPLIT, {"copy": ("persistence", copy)})
    truth = crafted_dataset.splits[TEST_SPLIT].moves
    assert set(evaluation.mse_baselines) == {"zero_move", "persistence"}
    assert evaluation.mse_baselines["zero_move"] == pytest.approx(
        metrics.masked_mse(truth, np.zeros_like(truth))
    )
    assert evaluation.winners[0].mse == pytest.approx(evaluation.mse_baselines["persistence"])
    assert evaluation.mse_baselines["persistence"] != evaluation.mse_baselines["zero_move"]


# --- parameter importances only from enough trials ------------------------------------------------


def _study_with(
    path: Path, name: str, trial_ids: list[str], owner: dict[str, str] | None = None, seeded: int = 0
) -> None:
    """A study holding one COMPLETE trial per Ray trial id, then `seeded` trials without one (the points
    a `warm_start` copies from an earlier experiment through Ray's `add_evaluated_point`)."""
    storage = f"sqlite:///{path / STUDY_DB}"
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    for key, value in (owner or {}).items():
        study.set_user_attr(key, value)
    distributions = {
        "cell_size": optuna.distributions.CategoricalDistribution([4, 8, 13, 7]),
        "learning_rate": optuna.distributions.FloatDistribution(0.001, 0.1, log=True),
    }
    rng = np.random.default_rng(0)
    ids: list[str | None] = [*trial_ids, *[None] * seeded]
    for i, trial_id in enumerate(ids):
        params = {"cell_size": [4, 8, 13, 7][i % 4], "learning_rate": float(10 ** rng.uniform(-3, -1))}
        study.add_trial(
            optuna.trial.create_trial(
                params=params, distributions=distributions, value=0.3 + params["cell_size"] / 40,
                user_attrs={} if trial_id is None else {RAY_TRIAL_ID_ATTR: trial_id},
            )
        )  # fmt: skip


def _with_ranked_trials(experiment: Experiment, n: int) -> Experiment:
    """`experiment` with `n` ranked trials (copies of its first ranked one under new ids)."""
    first = experiment.ranked()[0]
    return dataclasses.replace(
        experiment, trials=tuple(dataclasses.replace(first, trial_id=f"copy{i}") for i in range(n))
    )


@pytest.mark.parametrize("finished", [MIN_IMPORTANCE_TRIALS - 1, MIN_IMPORTANCE_TRIALS])
def test_importances_are_drawn_only_from_enough_trials(
    finished: int, crafted_experiment: Path, tmp_path: Path
) -> None:
    experiment = _with_ranked_trials(read_experiment(crafted_experiment), finished)
    _study_with(tmp_path, experiment.name, [t.trial_id for t in experiment.trials])
    moved = dataclasses.replace(experiment, path=tmp_path)
    plots = write_plots(moved, moved.top(1), tmp_path / "figures")
    drawn = (tmp_path / "figures" / "param_importances.png").exists()
    if finished < MIN_IMPORTANCE_TRIALS:
        assert not drawn and "param_importances" in plots.absent
        reason = plots.absent["param_importances"]
        assert f"at least {MIN_IMPORTANCE_TRIALS}" in reason and f"has {finished}" in reason
    else:
        assert drawn and not plots.absent
        assert any(p.kind == "param_importances" for p in plots.files)


def test_importances_leave_out_warm_start_points_and_trials_the_experiment_does_not_rank(
    crafted_experiment: Path, tmp_path: Path
) -> None:
    """A `warm_start` copies the earlier experiment's trials into this study as COMPLETE trials without
    a Ray trial id: they counted, so 2 trials of this experiment drew a chart "from 11 trials". Trials
    the experiment does not rank (errored, NaN) do not count either, even where the study holds them
    as COMPLETE."""
    experiment = read_experiment(crafted_experiment)
    ranked = len(experiment.ranked())  # 4 ranked, 4 errored or NaN
    assert ranked < MIN_IMPORTANCE_TRIALS <= len(experiment.trials) + 5
    # the experiment ranks enough trials to open the study (copies of its first), the study holds 4 of them
    unranked = tuple(t for t in experiment.trials if not t.ranked)
    many = _with_ranked_trials(experiment, MIN_IMPORTANCE_TRIALS)
    many = dataclasses.replace(many, trials=(*many.trials, *unranked), path=tmp_path)
    in_study = [t.trial_id for t in many.trials[:ranked]] + [t.trial_id for t in unranked]
    _study_with(tmp_path, experiment.name, in_study, seeded=5)
    plots = write_plots(many, many.top(1), tmp_path / "figures")
    assert not (tmp_path / "figures" / "param_importances.png").exists()
    reason = plots.absent["param_importances"]
    assert f"has {ranked} " in reason
    assert "the 5 warm-start points from an earlier experiment left out" in reason


def test_an_experiment_ranking_too_few_trials_never_opens_its_study(
    crafted_experiment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fewer ranked trials than `MIN_IMPORTANCE_TRIALS` cannot give importances whatever the study holds:
    the study is not opened (its storage would cost Optuna's import and a connection)."""
    experiment = read_experiment(crafted_experiment)
    assert len(experiment.ranked()) < MIN_IMPORTANCE_TRIALS
    _study_with(tmp_path, experiment.name, [f"other{i}" for i in range(MIN_IMPORTANCE_TRIALS + 4)])

    def opened(*args: object, **kwargs: object) -> None:
        raise AssertionError("the study was opened")

    monkeypatch.setattr(optuna, "load_study", opened)
    moved = dataclasses.replace(experiment, path=tmp_path)
    plots = write_plots(moved, moved.top(1), tmp_path / "figures")
    assert f"has {len(experiment.ranked())} " in plots.absent["param_importances"]


def test_importances_never_come_from_another_experiments_study(
    crafted_experiment: Path, tmp_path: Path
) -> None:
    """A study of the same name in the storage opened (a relative `search.storage` read from another
    folder) but owned by another experiment: its trials are not this experiment's."""
    experiment = _with_ranked_trials(read_experiment(crafted_experiment), MIN_IMPORTANCE_TRIALS)
    _study_with(
        tmp_path, experiment.name, [f"other{i}" for i in range(MIN_IMPORTANCE_TRIALS + 4)],
        owner={OWNER_ATTR: "another-id", OWNER_DIR_ATTR: "/elsewhere/runs/other"},
    )  # fmt: skip
    moved = dataclasses.replace(experiment, path=tmp_path)
    plots = write_plots(moved, moved.top(1), tmp_path / "figures")
    assert not (tmp_path / "figures" / "param_importances.png").exists()
    assert (
        "is not this experiment's (it belongs to /elsewhere/runs/other" in plots.absent["param_importances"]
    )


@pytest.mark.parametrize(
    "storage",
    [
        "postgresql+psycopg2://postgres:pw-7731@127.0.0.1:5432/seqsweep_no_such_database",
        "sqlite:///{tmp}/gone.db",
    ],
    ids=["server database dropped", "SQLite file gone"],
)
def test_a_study_storage_that_cannot_be_opened_leaves_the_report_without_importances(
    storage: str, crafted_experiment: Path, tmp_path: Path
) -> None:
    """An unreachable or dropped study database ended `results` with an unexpected error (exit 3) and no
    report; a SQLite study file that is gone was made anew, empty, by `optuna.load_study`."""
    from seqsweep.search_spaces.credentials import replace_storage

    experiment = _with_ranked_trials(read_experiment(crafted_experiment), MIN_IMPORTANCE_TRIALS)
    assert experiment.sweep is not None
    url = storage.format(tmp=tmp_path)
    moved = dataclasses.replace(experiment, sweep=replace_storage(experiment.sweep, url))
    plots = write_plots(moved, moved.top(1), tmp_path / "figures")
    reason = plots.absent["param_importances"]
    assert (
        "cannot open the study storage" in reason and "does not exist" in reason
    ) or "has no file" in reason
    assert "pw-7731" not in reason
    assert not (tmp_path / "gone.db").exists()
    assert (tmp_path / "figures" / "loss_curves.png").exists()  # the rest of the report is drawn


def test_a_relative_sqlite_study_storage_is_stored_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`search.storage: sqlite:///study.db` was stored relative: `resume` and `results` from another folder
    said the study does not exist (and `results` made an empty study.db there)."""
    from seqsweep.search_spaces.sweep import parse_sweep
    from seqsweep.tuning.runner import with_resolved_database

    monkeypatch.chdir(tmp_path)
    raw = {
        "name": "relx", "model": "lstm", "dataset": {"db": "sqlite:///data.db"},
        "params": {"cell_size": {"type": "choice", "values": [4, 8]}},
        "search": {"algorithm": "tpe", "num_samples": 2, "storage": "sqlite:///study.db"},
    }  # fmt: skip
    resolved = with_resolved_database(parse_sweep(raw))
    assert resolved.file.search.storage == f"sqlite:///{tmp_path / 'study.db'}"
    assert resolved.file.dataset.db == f"sqlite:///{tmp_path / 'data.db'}"


def test_a_hidden_study_password_is_taken_only_from_the_same_storage(
    crafted_experiment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment = read_experiment(crafted_experiment)
    assert experiment.sweep is not None
    stored = "mysql+pymysql://alice:***@db.example:3306/studies"
    search = dataclasses.replace(experiment.sweep.file.search, storage=stored)
    sweep = dataclasses.replace(
        experiment.sweep, file=dataclasses.replace(experiment.sweep.file, search=search)
    )
    hidden = dataclasses.replace(experiment, sweep=sweep)
    monkeypatch.delenv(STUDY_URL_ENV, raising=False)
    assert hidden.study_storage()[0] is None and f"${STUDY_URL_ENV}" in hidden.study_storage()[1]
    monkeypatch.setenv(STUDY_URL_ENV, "mysql+pymysql://alice:pw2@other.example:3306/studies")
    url, why = hidden.study_storage()
    assert url is None and "other.example" in why and "pw2" not in why
    monkeypatch.setenv(STUDY_URL_ENV, "mysql+pymysql://alice:s3cret@db.example:3306/studies")
    assert hidden.study_storage() == ("mysql+pymysql://alice:s3cret@db.example:3306/studies", "")


# --- ranking by val_mse (mode min) ----------------------------------------------------------------


def test_results_rank_by_val_mse_with_mode_min(ray_cluster: object, tmp_path: Path) -> None:
    experiment_dir = run_crafted_experiment(
        tmp_path, name="by_mse", search={"algorithm": "grid", "max_concurrent": 2, "seed": 0,
                                          "metric": "val_mse", "mode": "min"},
    )  # fmt: skip
    experiment = read_experiment(experiment_dir)
    assert (experiment.metric, experiment.mode) == ("val_mse", "min")
    ranked = experiment.ranked()
    values = [t.best_value for t in ranked]
    assert values == sorted(values)  # lowest first
    best = ranked[0]
    assert best.best_epoch == 1
    assert best.best_value == crafted_mse(best.params["cell_size"], best.params["learning_rate"], 1)
    assert (best.params["cell_size"], best.params["learning_rate"]) == (4, 0.01)
    rows = leaderboard_rows(experiment, 2)
    assert rows[0]["val_mse"] == best.best_value
    outcome = write_results(experiment_dir, top=2, evaluate=False, out_dir=tmp_path / "report")
    assert "val_mse (min)" in outcome.describe()
    sweep = yaml.safe_load((experiment_dir / "sweep.yaml").read_text())
    assert sweep["search"]["metric"] == "val_mse"


def test_no_test_reads_no_dataset_and_says_so(
    crafted_experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["results", str(crafted_experiment), "--no-test", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "validation split, baselines" not in out and "not evaluated (--no-test)" in out
    assert "Parameter importances are not drawn" in out and f"at least {MIN_IMPORTANCE_TRIALS}" in out
    page = (tmp_path / "index.html").read_text()
    assert "Parameter importances are not drawn" in page


def test_a_repeated_epoch_counts_once_with_its_last_report() -> None:
    from seqsweep.results.experiment import one_row_per_epoch

    frame = pd.DataFrame(
        {"epoch": [1, 2, 2, 3], "training_iteration": [1, 2, 3, 4], "val_macro_f1": [0.1, 0.9, 0.2, 0.3]}
    )
    once = one_row_per_epoch(frame)
    assert once["epoch"].tolist() == [1, 2, 3]
    assert once["val_macro_f1"].tolist() == [0.1, 0.2, 0.3]  # the retrained epoch 2, not the stale 0.9
    assert one_row_per_epoch(frame.drop(columns="epoch")).equals(frame.drop(columns="epoch"))


@pytest.mark.parametrize(
    "damage",
    [lambda text: text[: len(text) // 2], lambda text: "[]"],
    ids=["cut short", "a list"],
)
def test_a_damaged_experiment_state_is_one_line_naming_it(
    damage: Any, crafted_experiment: Path, tmp_path: Path
) -> None:
    """A state file cut short ended `results` and `export` with `unexpected error: JSONDecodeError` (exit 3)."""
    import shutil

    from seqsweep.errors import ConfigError
    from seqsweep.layout import STATE_GLOB

    copy = tmp_path / crafted_experiment.name
    shutil.copytree(crafted_experiment, copy)
    state = sorted(copy.glob(STATE_GLOB))[-1]
    state.write_text(damage(state.read_text()))
    with pytest.raises(
        ConfigError, match=rf"Ray Tune's experiment state {state.name} cannot be read .*restore it"
    ):
        read_experiment(copy)


def test_a_winner_that_predicts_one_class_per_cell_is_named_as_a_constant_guess(
    crafted_dataset: DatasetBundle,
) -> None:
    """A winner that predicts, in every (target, step) cell, the class most frequent on test (not the
    train majority) beats majority; its verdict still says that it ignores its input, in the sentence the
    terminal, the page and the bundle's card print, and a winner that varies its answers is not named so."""
    labels = crafted_dataset.splits[TEST_SPLIT].labels
    counts = np.stack([(labels == c).sum(axis=0) for c in range(3)], axis=-1)  # (H, T, 3)
    best = counts.argmax(axis=-1).astype(np.int8)
    majority = majority_predictions(crafted_dataset, TEST_SPLIT)
    assert (best != majority[0]).any()  # another constant than majority's
    constant = np.broadcast_to(best, labels.shape).copy()
    copy = persistence_predictions(crafted_dataset, TEST_SPLIT)
    winners = {
        "constant": ("ignores its input", WinnerOutput(constant)),
        "copy": ("persistence", WinnerOutput(copy)),
    }
    settings = bootstrap.settings_for(crafted_dataset, TEST_SPLIT, draws=200, seed=0)
    evaluation = evaluate_split(crafted_dataset, TEST_SPLIT, winners, intervals=settings)
    by_name = {w.name: w for w in evaluation.winners}
    assert by_name["constant"].vs_baselines["majority"].delta > 0
    verdict = by_name["constant"].verdict()
    assert verdict is not None and verdict.endswith(
        "and it predicts one class in every (target, step) cell on test: a constant guess that ignores "
        "its input, whatever it beats"
    )
    assert by_name["constant"].to_dict()["one_class"] is True
    assert "one class" not in (by_name["copy"].verdict() or "")
    assert "one_class" not in by_name["copy"].to_dict()
    assert predicts_one_class(labels, constant)
    assert not predicts_one_class(labels, copy)
    assert not predicts_one_class(np.full_like(labels, -50), constant)  # nothing scored


def test_a_winner_that_ignores_its_input_is_named_so_though_it_beats_both_baselines() -> None:
    """`make_bundle`'s levels are noise, so its moves revert and persistence scores below chance. A winner
    guessing at random, blind to its input, beat persistence and majority and the answer said only
    "beats persistence on test by +0.122 (95 % interval +0.099 to +0.144)"; one predicting one class 98 %
    of the time (so not named a one-class guess) was not named at all. Both are now compared with chance,
    their own class shares at random; a winner that follows the labels beats it and is not named so."""
    bundle = make_bundle(n_rows=4000, seed=1)
    labels = bundle.splits[TEST_SPLIT].labels
    rng = np.random.default_rng(7)
    guess = rng.integers(0, 3, size=labels.shape).astype(np.int8)
    nearly = np.ones_like(labels)
    nearly[rng.random(labels.shape) < 0.02] = 0
    follows = np.where(rng.random(labels.shape) < 0.4, np.clip(labels, 0, 2), guess).astype(np.int8)
    winners = {name: (name, WinnerOutput(classes)) for name, classes in
               (("guess", guess), ("nearly", nearly), ("follows", follows))}  # fmt: skip
    settings = bootstrap.settings_for(bundle, TEST_SPLIT, draws=500, seed=0)
    evaluation = evaluate_split(bundle, TEST_SPLIT, winners, intervals=settings)
    by_name = {w.name: w for w in evaluation.winners}
    random = by_name["guess"]
    assert random.vs_baselines["persistence"].beats and random.vs_baselines["majority"].beats
    assert not random.vs_baselines[CHANCE].beats
    clause = "chance, a random guess in its own class shares that ignores the input ("
    assert f"), but it does not beat {clause}" in (random.verdict() or "")
    assert (random.verdict() or "").startswith("beats persistence on test by +")
    assert not predicts_one_class(labels, nearly)
    assert f"; nor does it beat {clause}" in (by_name["nearly"].verdict() or "")
    skilled = by_name["follows"]
    assert skilled.vs_baselines[CHANCE].beats and skilled.vs_baselines["persistence"].beats
    assert "chance" not in (skilled.verdict() or "")
    chance = json.loads(json.dumps(evaluation.to_dict()))["winners"][0]["vs_baselines"][CHANCE]
    point = metrics.scores(labels, guess)["macro_f1"] - metrics.chance_macro_f1(labels, guess)
    assert chance["delta"] == pytest.approx(point) and chance["ci95"][0] <= point <= chance["ci95"][1]
    assert {row["baseline"] for row in interval_rows(evaluation)} == {"majority", "persistence", CHANCE}


def test_an_unscored_first_winner_is_never_answered_for_by_the_second(
    crafted_experiment: Path, crafted_dataset: DatasetBundle
) -> None:
    """A training function's #1 winner without a kept checkpoint is not scored on test while #2 is: the
    answer read "#1 <#2's id> ...", the intervals section numbered #2 as "#1", and the confusion figure
    titled "Winner <#1's id>" showed #2's matrix."""
    experiment = read_experiment(crafted_experiment)
    first, second = (t.trial_id for t in experiment.ranked()[:2])
    copy = persistence_predictions(crafted_dataset, TEST_SPLIT)
    settings = bootstrap.settings_for(crafted_dataset, TEST_SPLIT, draws=50, seed=0)
    unavailable = f"test scores unavailable for winner {first} of m:f: no kept checkpoint at the best epoch"
    test = evaluate_split(crafted_dataset, TEST_SPLIT, {second: ("#2", WinnerOutput(copy))},
                          note=f"{TEST_NOTE} {unavailable}.", intervals=settings)  # fmt: skip
    sections = {s.key: s for s in report_sections(experiment, 2, Evaluations(valid=None, test=test))}
    assert sections[ANSWER].lines == [f"#1 {first} has no test score, so no verdict: {unavailable}."]
    assert sections["intervals"].lines[0].startswith(f"#2 {second} does not beat persistence on test")
    assert winner_confusion(test, first) == (None, test.note)
    confusion, title = winner_confusion(test, second)
    assert confusion is test.winners[0].confusion and title.startswith(f"Winner {second} on the test split")
    assert winner_confusion(None, first) == (None, "")


def test_the_winners_verdict_is_the_reports_first_section(
    crafted_experiment: Path, crafted_dataset: DatasetBundle
) -> None:
    """The answer comes first, on the terminal and the page (set off there), before any table that
    shows the winner's scores: a winner that does not beat persistence is read as one from the top."""
    copy = persistence_predictions(crafted_dataset, TEST_SPLIT)
    settings = bootstrap.settings_for(crafted_dataset, TEST_SPLIT, draws=200, seed=0)
    test = evaluate_split(
        crafted_dataset, TEST_SPLIT, {"copy": ("persistence", WinnerOutput(copy))}, intervals=settings
    )
    experiment = read_experiment(crafted_experiment)
    sections = report_sections(experiment, 1, Evaluations(valid=None, test=test))
    verdict = test.winners[0].verdict()
    assert verdict is not None and verdict.startswith("does not beat persistence on test")
    assert sections[0].key == ANSWER and sections[0].lines == [f"#1 copy {verdict}."]
    assert sections[0].text().startswith("answer (the winner on test, ")
    page = render_report(experiment, [], sections, test)
    assert f'<p class="note"><b>#1 copy {html.escape(verdict)}.</b></p>' in page
    assert page.index('id="answer"') < page.index('id="leaderboard"') < page.index('id="test"')
    untested = report_sections(experiment, 1, Evaluations(valid=None, test=None))
    assert answer_section(Evaluations(valid=None, test=None)) is None
    assert all(s.key != ANSWER for s in untested)


def _summary(trial_id: str, value: float, epochs: int) -> TrialSummary:
    """A ranked trial whose best val_macro_f1 is `value`, after `epochs` epochs."""
    return TrialSummary(
        trial_id=trial_id,
        family="f",
        status="ok",
        params={},
        config={},
        best_epoch=epochs,
        best_value=value,
        val_macro_f1=value,
        val_accuracy=None,
        best_metrics={},
        epochs_run=epochs,
        stopped_early=False,
        plateau_stopped=False,
        wall_time_s=None,
        checkpoint=None,
        path=None,
    )


def test_a_first_place_tied_on_validation_is_said_to_be_the_tie_breaks_choice(
    crafted_dataset: DatasetBundle,
) -> None:
    """Trials that score exactly as well as #1 on validation: the ranking still names one #1 (fewer
    epochs, then trial id), and the answer and the leaderboard say that the tie-break chose it, not
    validation; an untied #1 gets no such line."""
    tied = [
        _summary("t_3", 0.41, 4),
        _summary("t_1", 0.41, 4),
        _summary("t_2", 0.41, 3),
        _summary("t_0", 0.3, 1),
    ]
    experiment = Experiment(Path("/x"), "x", "val_macro_f1", "max", "f", (), tuple(tied))
    assert [t.trial_id for t in experiment.ranked()] == ["t_2", "t_1", "t_3", "t_0"]
    line = (
        "#1 t_2 ties on val_macro_f1 (0.4100) with t_1, t_3: validation does not tell them apart; #1 was "
        "chosen by the tie-break (fewer epochs, then trial id)."
    )
    assert tie_line(experiment) == line
    copy = persistence_predictions(crafted_dataset, TEST_SPLIT)
    settings = bootstrap.settings_for(crafted_dataset, TEST_SPLIT, draws=50, seed=0)
    test = evaluate_split(
        crafted_dataset, TEST_SPLIT, {"t_2": ("#1", WinnerOutput(copy))}, intervals=settings
    )
    sections = {s.key: s for s in report_sections(experiment, 2, Evaluations(valid=None, test=test))}
    assert sections[ANSWER].lines == [f"#1 t_2 {test.winners[0].verdict()}.", line]
    assert sections["leaderboard"].lines[0] == line
    alone = dataclasses.replace(experiment, trials=(tied[0], _summary("t_1", 0.40, 4)))
    assert tie_line(alone) is None
    sections = {s.key: s for s in report_sections(alone, 2, Evaluations(valid=None, test=None))}
    assert ANSWER not in sections and line not in sections["leaderboard"].lines
    assert not any("ties on" in text for text in sections["leaderboard"].lines)


def test_winners_that_are_one_configuration_under_other_seeds_are_said_to_be() -> None:
    """Two of the top trials with the same family and searched values differ only by their training
    seed: the leaderboard says their gap is seed noise; distinct configurations get no such line, and
    a repeat below the top is not named."""

    def trial(trial_id: str, value: float, cell: int) -> TrialSummary:
        return dataclasses.replace(_summary(trial_id, value, 4), params={"cell_size": cell})

    trials = (trial("a", 0.5, 4), trial("b", 0.45, 8), trial("c", 0.4, 4), trial("d", 0.3, 8))
    experiment = Experiment(Path("/x"), "x", "val_macro_f1", "max", "f", ("cell_size",), trials)
    line = (
        "#1 a and #3 c are one configuration (the same searched values), trained under different seeds: "
        "the gap between them is seed noise."
    )
    assert repeated_config_lines(experiment, 3) == [line]
    sections = {s.key: s for s in report_sections(experiment, 3, Evaluations(valid=None, test=None))}
    assert sections["leaderboard"].lines == [line]
    assert repeated_config_lines(experiment, 2) == []
    assert len(repeated_config_lines(experiment, 4)) == 2
    other = dataclasses.replace(trials[2], family="g")  # another family's model is another configuration
    assert repeated_config_lines(dataclasses.replace(experiment, trials=(*trials[:2], other)), 3) == []


# --- where a score comes from: each symbol's windows alone ----------------------------------------


def test_macro_f1_by_symbol_scores_each_symbols_windows_alone_and_leaves_out_unscored_ones() -> None:
    """A symbol whose labels are all masked would read 0.0, a score of nothing: it is left out."""
    labels, groups = _crafted(n=300)
    symbols = np.array(["AAA", "BBB", "CCC"], dtype=object)[groups]
    labels[symbols == "CCC"] = -50
    guess = np.random.default_rng(3).integers(0, 3, size=labels.shape).astype(np.int8)
    got = macro_f1_by_symbol(labels, guess, symbols)
    assert list(got) == ["AAA", "BBB"]
    for name in got:
        mine = symbols == name
        assert got[name] == pytest.approx(metrics.scores(labels[mine], guess[mine])["macro_f1"])
    assert got["AAA"] != got["BBB"]


def test_the_report_says_on_how_many_symbols_a_winner_beats_persistence(
    crafted_experiment: Path, crafted_dataset: DatasetBundle
) -> None:
    """A winner that knows the answers on one symbol's test windows and copies persistence on the others
    beats persistence overall; the breakdown says its lead comes from that one symbol."""
    symbols = window_symbols(crafted_dataset, TEST_SPLIT)
    assert symbols is not None and len(set(symbols.tolist())) >= 2
    labels = crafted_dataset.splits[TEST_SPLIT].labels
    persistence = persistence_predictions(crafted_dataset, TEST_SPLIT)
    first = sorted(set(symbols.tolist()))[0]
    oracle = np.where(labels == -50, 1, labels).astype(np.int8)
    lucky = np.where((symbols == first)[:, None, None], oracle, persistence).astype(np.int8)
    test = evaluate_split(crafted_dataset, TEST_SPLIT, {"lucky": ("one symbol", WinnerOutput(lucky))})
    winner, base = test.winner("lucky"), test.baseline("persistence")
    n = len(set(symbols.tolist()))
    assert winner.scores["macro_f1"] > base.scores["macro_f1"]
    assert winner.by_symbol[first] > base.by_symbol[first]
    assert all(winner.by_symbol[s] == base.by_symbol[s] for s in winner.by_symbol if s != first)
    line = symbol_line(winner, base, 1)
    assert line is not None and line.startswith(
        f"#1 lucky scores above persistence on 1 of {n} symbols, below on 0, level on {n - 1} (from "
    )
    assert line.endswith(f"to {first} {bootstrap.signed(winner.by_symbol[first] - base.by_symbol[first])}).")
    document = json.loads(json.dumps(test.to_dict()))
    assert sum(document["symbol_windows"].values()) == test.n_windows
    assert document["winners"][0]["by_symbol"][first] == pytest.approx(winner.by_symbol[first])
    rows = symbol_rows(test)
    assert [r["symbol"] for r in rows] == sorted(set(symbols.tolist()))
    assert {"symbol", "windows", "lucky", "majority", "persistence"} == set(rows[0])
    experiment = read_experiment(crafted_experiment)
    sections = {s.key: s for s in report_sections(experiment, 1, Evaluations(valid=None, test=test))}
    assert sections["symbols_test"].lines[0] == line
    assert f"{first} " in sections["symbols_test"].text()


def test_a_split_of_one_symbol_has_no_breakdown_by_symbol() -> None:
    bundle = make_bundle(n_rows=600, seed=2)
    labels = bundle.splits[TEST_SPLIT].labels
    test = evaluate_split(bundle, TEST_SPLIT, {"w": ("w", WinnerOutput(np.ones_like(labels)))})
    assert window_symbols(bundle, TEST_SPLIT) is None
    assert test.symbol_windows == {} and test.winners[0].by_symbol == {}
    assert "by_symbol" not in test.winners[0].to_dict() and "symbol_windows" not in test.to_dict()
    assert symbol_line(test.winners[0], test.baseline("persistence"), 1) is None


def test_the_validation_clause_compares_the_fold_means_the_winner_was_ranked_by(
    fold_bundle: DatasetBundle,
) -> None:
    """Under walk-forward folds a trial is ranked by its mean val_macro_f1 over the folds, but the verdict's
    validation clause compared the last fold's model with persistence on the last validation block only:
    a winner below persistence on the mean (as ranked) was not told so when its last fold was above, and
    one above on the mean was told it was below when its last fold was."""
    from seqsweep.baselines import persistence_valid_f1
    from seqsweep.results.evaluate import (
        PERSISTENCE,
        TEST_SPLIT,
        VALID_SPLIT,
        evaluate_split,
        valid_below_clause,
        with_valid_scores,
    )
    from seqsweep.results.winner_outputs import WinnerOutput

    bundle = fold_bundle
    mean_persistence = float(np.mean([persistence_valid_f1(bundle.fold(f)) for f in range(3)]))

    def output(split: str, right: bool) -> WinnerOutput:
        labels = bundle.splits[split].labels
        return WinnerOutput(np.where(labels == -50, 1, labels if right else (labels + 1) % 3).astype(np.int8))

    test = evaluate_split(bundle, TEST_SPLIT, {"w": ("w", output(TEST_SPLIT, True))})
    beats = Interval(0.6, 0.5, 0.7, blocks=20, block=24)  # the sample's test block is too short for one
    test = dataclasses.replace(
        test, winners=(dataclasses.replace(test.winner("w"), vs_baselines={PERSISTENCE: beats}),)
    )
    for last_fold_right, ranked in ((True, mean_persistence - 0.01), (False, mean_persistence + 0.01)):
        valid = evaluate_split(bundle, VALID_SPLIT, {"w": ("w", output(VALID_SPLIT, last_fold_right))})
        last_fold_above = (
            valid.winner("w").scores["macro_f1"] > valid.baseline(PERSISTENCE).scores["macro_f1"]
        )
        assert last_fold_above == last_fold_right  # the last fold alone says the opposite of the mean
        winner = with_valid_scores(test, valid, [_summary("w", ranked, 3)], bundle).winner("w")
        assert winner.valid_vs_persistence == (ranked, mean_persistence)
        clause = valid_below_clause(ranked, mean_persistence, 3)
        assert "means over the 3 walk-forward folds it was ranked by" in clause
        assert (clause in str(winner.verdict())) == (ranked < mean_persistence)
        assert ("on validation" in str(winner.verdict())) == (ranked < mean_persistence)
