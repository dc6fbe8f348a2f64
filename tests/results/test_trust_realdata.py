"""On real market data: no constant guess outranks the winner, and the verdict says what the interval says.

A small TPE-free sweep (3 random `lstm` trials) on the notebook's join of ../shared/data/seed_schema
(ETHUSDT, the latest 2,000 hours). Under the pooled score a predictor that outputs one fixed class per
(target, step) outscored a real sweep's winner; under the per-cell score it cannot.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from seqsweep import cli, metrics
from seqsweep.constants import N_CLASSES
from seqsweep.results.bootstrap import signed
from seqsweep.results.evaluate import ONE_CLASS_CLAUSE, load_dataset, valid_below_clause
from seqsweep.results.experiment import read_experiment
from seqsweep.search_spaces.sweep import load_sweep
from seqsweep.tuning import run_sweep

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


@pytest.fixture(scope="module")
def real_sweep(ray_cluster: object, real_sqlite_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trust_real")
    sweep = {
        "name": "trust_real",
        "model": "lstm",
        "dataset": {
            "db": real_sqlite_url,
            "join": "notebook",
            "symbols": ["ETHUSDT"],
            "targets": ["close", "lending_rate"],
            "lookback": 12,
            "horizon": 2,
            "max_rows_per_symbol": 2000,
            "pca_components": 1,
        },
        "params": {
            "cell_size": {"type": "choice", "values": [8, 16]},
            "dropout_rate_1": {"type": "uniform", "low": 0.0, "high": 0.2},
            "batch_size": 32,
            "epochs": 3,
        },
        "search": {"algorithm": "random", "num_samples": 3, "max_concurrent": 2, "seed": 11},
        "resources": {"cpu": 1},
        "checkpoints": {"keep": 1},
        "storage_path": str(root / "runs"),
    }
    path = root / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    outcome = run_sweep(load_sweep(path), stream=io.StringIO())
    assert outcome.num_errored == 0, outcome.describe()
    return Path(outcome.experiment_dir)


@pytest.fixture(scope="module")
def results_json(real_sweep: Path) -> dict[str, Any]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["results", str(real_sweep), "--top", "2", "--json"]) == 0
    return json.loads(out.getvalue())


def best_constant_per_cell(labels: np.ndarray) -> float:
    """The highest per-cell score any input-blind predictor reaches: in each (step, target) cell the best
    fixed class (the cell's most frequent one, chosen with the labels' own knowledge)."""
    best = np.full(labels.shape[1:], -np.inf)
    for c in range(N_CLASSES):
        cells = metrics.cell_macro_f1(labels, np.full_like(labels, c))
        best = np.maximum(best, np.nan_to_num(cells, nan=-np.inf))
    return float(best[np.isfinite(best)].mean())


def test_no_constant_guess_per_cell_outranks_the_winner(
    real_sweep: Path, results_json: dict[str, Any]
) -> None:
    dataset = load_dataset(read_experiment(real_sweep))
    labels = dataset.splits["valid"].labels
    winner = results_json["winners"][0]
    constant = best_constant_per_cell(labels)
    assert constant < 0.25  # at most 2p/(3(1+p)) per cell: the best class's share p is well below 0.6 here
    assert winner["val_macro_f1"] > constant, (winner["val_macro_f1"], constant)
    # the pooled score of the same constant guesses is far higher: what let them win before
    guess = np.stack([np.full(labels.shape[:2], t % N_CLASSES) for t in range(labels.shape[2])], axis=-1)
    assert metrics.scores(labels, guess)["macro_f1_pooled"] > constant


def test_the_verdict_sentence_matches_its_interval(results_json: dict[str, Any]) -> None:
    winners = results_json["test"]["winners"]
    assert len(winners) == 2
    for winner in winners:
        versus = winner["vs_baselines"]["persistence"]
        low, high = versus["ci95"]
        assert low <= versus["delta"] <= high
        assert "too_short" not in versus  # the real test split holds enough blocks for an interval
        if low > 0:
            expected = f"beats persistence on test by {signed(versus['delta'])} (95 % interval {signed(low)} to {signed(high)})"
        else:
            reading = (
                "a tie within the noise, the interval holds 0"
                if high >= 0
                else "it scores below it, the whole interval is under 0"
            )
            expected = f"does not beat persistence on test ({signed(versus['delta'])}, interval {signed(low)} to {signed(high)}): {reading}"
        clauses = []
        constant = winner["vs_baselines"]["majority"]
        if constant["ci95"][0] <= 0:  # no better than a constant guess: the sentence says so too
            clauses.append(("majority, a constant guess that ignores the input", constant))
        chance = winner["vs_baselines"]["chance"]  # no better than its own class shares at random
        if chance["ci95"][0] <= 0 and not winner.get("one_class"):
            clauses.append(("chance, a random guess in its own class shares that ignores the input", chance))
        for i, (named, versus_it) in enumerate(clauses):
            joined = ", but it does not beat" if low > 0 and i == 0 else "; nor does it beat"
            expected += (
                f"{joined} {named} ({signed(versus_it['delta'])}, "
                f"interval {signed(versus_it['ci95'][0])} to {signed(versus_it['ci95'][1])})"
            )
        valid = results_json["valid"]  # a lead on test that validation, where it was chosen, did not show
        mine = next(w for w in valid["winners"] if w["name"] == winner["name"])["macro_f1"]
        persistence = next(b for b in valid["baselines"] if b["name"] == "persistence")["macro_f1"]
        if low > 0 and mine < persistence:
            expected += f"; {valid_below_clause(mine, persistence)}"
        if winner.get("one_class"):  # one class in every cell: it ignores its input, whatever it beat
            expected += f"; {ONE_CLASS_CLAUSE.format(split='test')}"
        assert winner["verdict"] == expected
    assert {b["name"] for b in results_json["valid"]["baselines"]} == {"majority", "persistence"}
