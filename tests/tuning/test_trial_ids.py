"""A sweep's trial ids carry each trial's index, and its seed follows the index: the same sweep file with
the same `search.seed` trains its k-th trial alike in every run (`seqsweep.tuning.trial_ids`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from ray import tune

from seqsweep.results.reseed import rerun_sweep_seed
from seqsweep.search_spaces.sweep import load_sweep
from seqsweep.trainables.seeding import derive_seed, indexed_trial_id, trial_index, trial_seed
from seqsweep.tuning import run_sweep
from seqsweep.tuning.searchers import PruningOptunaSearch
from seqsweep.tuning.trial_ids import IndexedSearchGenerator, indexed_search, inner_searcher


def test_a_trial_seed_follows_the_index_not_the_ids_random_prefix() -> None:
    first, rerun = indexed_trial_id("a1b2c", 3), indexed_trial_id("0f9e8", 3)
    assert first == "a1b2c_00003" and trial_index(first) == trial_index(rerun) == 3
    assert trial_seed(7, first) == trial_seed(7, rerun)
    assert trial_seed(7, first) != trial_seed(7, indexed_trial_id("a1b2c", 4))
    assert trial_seed(7, first) != trial_seed(8, first)
    assert trial_index(indexed_trial_id("a1b2c", 123456)) == 123456


@pytest.mark.parametrize("trial_id", ["a1b2c3d4", "throughput", "a1b2c_0003", "A1B2C_00003", "a1b2c_00003_x"])
def test_an_id_without_an_index_keys_the_seed_to_the_whole_id(trial_id: str) -> None:
    # ids of experiments made before ids carried an index: their refit must draw their old seed
    assert trial_index(trial_id) is None
    assert trial_seed(7, trial_id) == derive_seed("trial", 7, trial_id)


@pytest.mark.parametrize(("prefix", "index"), [("a1b2", 0), ("a1b2c3", 0), ("G1B2C", 0), ("a1b2c", -1)])
def test_indexed_trial_id_refuses_another_prefix_or_a_negative_index(prefix: str, index: int) -> None:
    with pytest.raises(ValueError, match="5 lower-case hex digits"):
        indexed_trial_id(prefix, index)


def test_reruns_draw_seeds_of_their_own() -> None:
    # a rerun's id carries its place in the reseed run: its sweep seed must keep it off the sweep's own
    sweep_trials = {trial_seed(0, indexed_trial_id("a1b2c", k)) for k in range(8)}
    reruns = {
        trial_seed(rerun_sweep_seed(0, of, i), indexed_trial_id("0f9e8", k))
        for k, (of, i) in enumerate((of, i) for of in ("a1b2c_00000", "a1b2c_00001") for i in range(4))
    }
    assert len(reruns) == 8 and not reruns & sweep_trials


def test_indexed_search_limits_concurrency_as_tune_would() -> None:
    searcher = PruningOptunaSearch(space={"x": optuna.distributions.FloatDistribution(0, 1)})
    generator = indexed_search(searcher, max_concurrent=2)
    assert isinstance(generator, IndexedSearchGenerator)
    assert generator.searcher.max_concurrent == 2  # Tune's ConcurrencyLimiter
    assert inner_searcher(generator) is searcher
    assert indexed_search(searcher, max_concurrent=None).searcher is searcher


@pytest.mark.slow
def test_a_sweep_run_again_with_its_seed_trains_every_trial_alike(
    ray_cluster: None, write_sweep: Callable[..., Path]
) -> None:
    def run(name: str, seed: int) -> dict[str, tuple[str, list[float]]]:
        path = write_sweep(
            name=name,
            model="gru",
            params={"hidden_size": {"type": "choice", "values": [4, 8, 12]}, "batch_size": 64, "epochs": 2},
            search={"algorithm": "grid", "num_samples": 3, "max_concurrent": 2, "seed": seed},
            scheduler={"type": "none"},
        )
        outcome = run_sweep(load_sweep(path))
        assert outcome.num_errored == 0
        analysis = tune.ExperimentAnalysis(str(outcome.experiment_dir))
        assert len(analysis.trials) == 3
        return {
            str(t.config["hidden_size"]): (
                t.trial_id,
                list(analysis.trial_dataframes[t.trial_id]["val_loss"]),
            )
            for t in analysis.trials
        }

    first, again, other = run("seeded_a", 5), run("seeded_b", 5), run("seeded_c", 6)
    for trials in (first, again, other):
        ids = sorted(trial_id for trial_id, _ in trials.values())
        assert all(re.fullmatch(r"[0-9a-f]{5}_0000[0-2]", i) for i in ids), ids
        assert [trial_index(i) for i in ids] == [0, 1, 2]
    # same seed: the grid's points come in the same order and train with the same seeds
    for point, (trial_id, losses) in first.items():
        assert trial_index(again[point][0]) == trial_index(trial_id), point
        assert again[point][1] == losses, point
    # another seed: other training draws
    assert any(other[point][1] != losses for point, (_, losses) in first.items())
