"""`PruningOptunaSearch` keeps Ray's `OptunaSearch` contract for any trainable (issue 16, item 6).

The same points as Ray's own Optuna cases in `python/ray/tune/tests/test_searchers.py`: save/restore
round trip, suggest after restore, evaluated points, invalid values and errors, single and multiple
objectives. Where seqsweep adds nothing (no scheduler cut recorded), every call sequence must leave
the study exactly as Ray's searcher leaves it; the end-to-end cases run trivial function trainables
that know nothing of seqsweep's loop (no `final_epoch`) on a real local Ray.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from optuna.samplers import RandomSampler
from optuna.trial import TrialState
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.optuna import OptunaSearch

from seqsweep.tuning.searchers import PruningOptunaSearch, RecordingASHAScheduler, StopRecord

SPACE = {"a": tune.uniform(0.0, 5.0)}
METRIC = "metric"


def _make(cls: type[OptunaSearch], **kwargs: Any) -> OptunaSearch:
    return cls(space=SPACE, metric=METRIC, mode="max", sampler=RandomSampler(seed=7), **kwargs)


def _states(searcher: OptunaSearch) -> list[tuple[str, Any]]:
    return [(t.state.name, t.values) for t in searcher._ot_study.get_trials()]


Scenario = Callable[[OptunaSearch], None]


def _full_run(s: OptunaSearch) -> None:
    s.suggest("t")
    for step in (1, 2, 3):
        s.on_trial_result("t", {"training_iteration": step, METRIC: 0.1 * step})
    s.on_trial_complete("t", {"training_iteration": 4, METRIC: 0.4})


def _no_training_iteration(s: OptunaSearch) -> None:
    s.suggest("t")
    s.on_trial_complete("t", {METRIC: 0.7})


def _no_metric(s: OptunaSearch) -> None:
    s.suggest("t")
    s.on_trial_complete("t", {"training_iteration": 1, "other": 1.0})


def _no_result(s: OptunaSearch) -> None:
    s.suggest("t")
    s.on_trial_complete("t")


def _error(s: OptunaSearch) -> None:
    s.suggest("t")
    s.on_trial_result("t", {"training_iteration": 1, METRIC: 0.2})
    s.on_trial_complete("t", None, error=True)


def _report_too_often(s: OptunaSearch) -> None:
    s.suggest("trial_1")
    s.on_trial_result("trial_1", {"training_iteration": 1, METRIC: 1})
    s.on_trial_complete("trial_1", {"training_iteration": 2, METRIC: 1})
    s.on_trial_result("trial_1", {"training_iteration": 3, METRIC: 1})  # after complete: no failure
    s.on_trial_complete("trial_1", {"training_iteration": 4, METRIC: 1})


def _invalid_values(s: OptunaSearch) -> None:
    for i, value in enumerate((float("inf"), float("-inf"), float("nan"), 0.5)):
        s.suggest(f"t{i}")
        s.on_trial_complete(f"t{i}", {"training_iteration": 1, METRIC: value})


SCENARIOS: dict[str, Scenario] = {
    "ran to its end (no final_epoch mark)": _full_run,
    "result without training_iteration": _no_training_iteration,
    "result without the metric": _no_metric,
    "no result": _no_result,
    "error": _error,
    "reported after complete": _report_too_often,
    "inf, -inf, NaN": _invalid_values,
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_same_study_as_rays_searcher(name: str) -> None:
    ours, rays = _make(PruningOptunaSearch), _make(OptunaSearch)
    SCENARIOS[name](ours)
    SCENARIOS[name](rays)
    assert _same(_states(ours), _states(rays)), (_states(ours), _states(rays))


def _same(a: list[tuple[str, Any]], b: list[tuple[str, Any]]) -> bool:
    def norm(values: Any) -> Any:
        return None if values is None else [("nan" if math.isnan(v) else v) for v in values]

    return [(s, norm(v)) for s, v in a] == [(s, norm(v)) for s, v in b]


def test_completion_is_decided_by_the_scheduler_not_by_a_result_key() -> None:
    stops = StopRecord()
    searcher = _make(PruningOptunaSearch, stops=stops)
    for trial_id in ("full", "cut", "cut_at_its_last"):
        searcher.suggest(trial_id)
    searcher.on_trial_result("full", {"training_iteration": 1, METRIC: 0.3})
    searcher.on_trial_complete("full", {"training_iteration": 2, METRIC: 0.5})
    stops.add("cut")
    searcher.on_trial_complete("cut", {"training_iteration": 1, METRIC: 0.9})
    stops.add("cut_at_its_last")  # seqsweep's loop says the cut fell on its own last epoch
    searcher.on_trial_complete("cut_at_its_last", {"training_iteration": 1, METRIC: 0.4, "final_epoch": True})
    trials = {t.user_attrs["ray_trial_id"]: t for t in searcher._ot_study.get_trials()}
    assert trials["full"].state == TrialState.COMPLETE and trials["full"].value == pytest.approx(0.5)
    assert trials["cut"].state == TrialState.PRUNED
    assert trials["cut"].intermediate_values == {1: pytest.approx(0.9)}
    assert trials["cut_at_its_last"].state == TrialState.COMPLETE


def test_asha_records_cuts_before_max_t_only() -> None:
    stops = StopRecord()
    scheduler = RecordingASHAScheduler(
        time_attr="training_iteration", metric=METRIC, mode="max", max_t=4, grace_period=1, stops=stops
    )

    class FakeTrial:
        def __init__(self, trial_id: str) -> None:
            self.trial_id = trial_id
            self.config: dict[str, Any] = {}

    trials = [FakeTrial(f"t{i}") for i in range(3)]
    for trial in trials:
        scheduler.on_trial_add(None, trial)  # type: ignore[arg-type]
    assert scheduler.on_trial_result(None, trials[0], {"training_iteration": 1, METRIC: 0.9}) == "CONTINUE"  # type: ignore[arg-type]
    assert scheduler.on_trial_result(None, trials[1], {"training_iteration": 1, METRIC: 0.1}) == "STOP"  # type: ignore[arg-type]
    assert scheduler.on_trial_result(None, trials[2], {"training_iteration": 4, METRIC: 0.9}) == "STOP"  # type: ignore[arg-type]
    assert stops.trial_ids == {"t1"}  # t2 reached max_t: complete, not cut


def test_save_restore_round_trip_and_suggest_after_restore(tmp_path: Path) -> None:
    """Ray's SaveRestoreCheckpointTest.testOptuna, on seqsweep's searcher."""
    checkpoint = str(tmp_path / "checkpoint.pkl")
    config = {"a": tune.uniform(0.0, 5.0)}

    def callbacks(searcher: OptunaSearch, trial_id: str) -> None:
        result = {"training_iteration": 1, METRIC: 1, "config/a": 1.0, "time_total_s": 1}
        searcher.on_trial_result(trial_id, result)
        searcher.on_trial_complete(trial_id, result)

    searcher = PruningOptunaSearch(space=config, metric=METRIC, mode="max")
    searcher.set_search_properties(metric=METRIC, mode="max", config=config)
    for trial_id in ("1", "2", "not_completed"):
        searcher.suggest(trial_id)
    callbacks(searcher, "1")
    searcher.save(checkpoint)

    restored = PruningOptunaSearch()  # restoring needs no set_search_properties
    restored.restore(checkpoint)
    callbacks(restored, "2")
    assert restored.suggest("3") is not None
    callbacks(restored, "3")
    assert "not_completed" in restored._ot_trials
    states = [t.state for t in restored._ot_study.get_trials()]
    assert states.count(TrialState.COMPLETE) == 3
    assert isinstance(restored._stops, StopRecord) and restored._budget is None


def test_restore_keeps_the_driver_links(tmp_path: Path) -> None:
    checkpoint = str(tmp_path / "checkpoint.pkl")
    searcher = _make(PruningOptunaSearch)
    searcher.suggest("x")
    searcher.save(checkpoint)
    stops = StopRecord()
    restored = _make(PruningOptunaSearch)
    restored.link(stops)
    restored.restore(checkpoint)
    assert restored._stops is stops


def test_evaluated_points() -> None:
    """Ray's AddEvaluatedPointTest.testOptuna (without its Tune run), on seqsweep's searcher."""
    point = {"report": 1.0}
    space = {"report": tune.uniform(0.0, 5.0)}
    seeded = PruningOptunaSearch(
        space=space, metric=METRIC, mode="max", points_to_evaluate=[point], evaluated_rewards=[1.0]
    )
    assert len(seeded._ot_study.trials) > 0

    searcher = PruningOptunaSearch(space=space, metric=METRIC, mode="max")
    assert len(searcher._ot_study.trials) == 0
    searcher.add_evaluated_point(point, 1.0, intermediate_values=[0.8, 0.9])
    assert searcher._ot_study.trials[-1].state == TrialState.COMPLETE
    searcher.add_evaluated_point(point, 1.0, intermediate_values=[0.8, 0.9], error=True)
    assert searcher._ot_study.trials[-1].state == TrialState.FAIL
    searcher.add_evaluated_point(point, 1.0, intermediate_values=[0.8, 0.9], pruned=True)
    assert searcher._ot_study.trials[-1].state == TrialState.PRUNED
    assert len(searcher._ot_study.trials) == 3
    assert searcher.suggest("1") is not None

    def define_by_run(trial: Any) -> dict[str, float]:
        return {"report": trial.suggest_float("report", 0.0, 5.0)}

    dbr = PruningOptunaSearch(space=define_by_run, metric=METRIC, mode="max")
    with pytest.raises(TypeError):
        dbr.add_evaluated_point(point, 1.0)


def test_multiple_objectives_without_ray() -> None:
    searcher = PruningOptunaSearch(
        space={"a": tune.uniform(0, 1), "b": tune.uniform(0, 1)},
        metric=["a", "b"],
        mode=["max", "min"],
        sampler=RandomSampler(seed=1),
    )
    searcher.suggest("t")
    searcher.on_trial_result("t", {"training_iteration": 1, "a": 1.0, "b": 2.0})  # ignored, as Ray does
    searcher.on_trial_complete("t", {"training_iteration": 1, "a": 1.0, "b": 2.0})
    (trial,) = searcher._ot_study.get_trials()
    assert trial.state == TrialState.COMPLETE and trial.values == [1.0, 2.0]


# --- on a real local Ray ------------------------------------------------------------------------


def _trainables() -> tuple[Callable[[dict[str, Any]], None], Callable[[dict[str, Any]], None]]:
    """Ray's ASHA example objective (shortened) and its multi-objective one, made here so that
    cloudpickle ships them by value (Ray's workers cannot import this test module)."""

    def asha_example(config: dict[str, Any]) -> None:
        from ray import tune as worker_tune

        for step in range(1, 9):
            worker_tune.report({"mean_loss": (0.1 + config["width"] / 100) / step + config["height"] * 0.1})

    def multi_objective(config: dict[str, Any]) -> None:
        from ray import tune as worker_tune

        worker_tune.report({"a": config["a"] * 100, "b": config["b"] * -100, "c": config["c"]})

    return asha_example, multi_objective


@pytest.mark.slow
@pytest.mark.parametrize("scheduler_cls", [ASHAScheduler, RecordingASHAScheduler])
def test_asha_example_trials_that_ran_every_iteration_are_complete(
    ray_cluster: None, tmp_path: Path, scheduler_cls: type[ASHAScheduler]
) -> None:
    stops = StopRecord()
    searcher = PruningOptunaSearch(sampler=RandomSampler(seed=3), stops=stops)
    linked = {"stops": stops} if scheduler_cls is RecordingASHAScheduler else {}
    tuner = tune.Tuner(
        _trainables()[0],
        param_space={"width": tune.uniform(0, 20), "height": tune.uniform(-1, 1)},
        tune_config=tune.TuneConfig(
            metric="mean_loss",
            mode="min",
            search_alg=searcher,
            scheduler=scheduler_cls(max_t=8, grace_period=1, reduction_factor=2, **linked),
            num_samples=6,
            max_concurrent_trials=2,
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="asha", verbose=0),
    )
    grid = tuner.fit()
    iterations = {r.metrics["trial_id"]: r.metrics["training_iteration"] for r in grid}
    states = {t.number: t.state for t in searcher._ot_study.get_trials()}
    by_ray = {tid: searcher._ot_trials[tid].number for tid in iterations}
    assert any(n == 8 for n in iterations.values())
    for trial_id, n in iterations.items():
        state = states[by_ray[trial_id]]
        if n == 8:
            assert state == TrialState.COMPLETE, (trial_id, n)
        elif scheduler_cls is RecordingASHAScheduler:
            assert state == TrialState.PRUNED, (trial_id, n)  # a cut that seqsweep's ASHA recorded
        else:
            assert state == TrialState.COMPLETE, (trial_id, n)  # Ray's ASHA: Ray's own answer


@pytest.mark.slow
def test_multiple_objectives_on_ray(ray_cluster: None, tmp_path: Path) -> None:
    """Ray's MultiObjectiveTest.testOptuna, on seqsweep's searcher (it raised TypeError before)."""
    np.random.seed(1000)
    searcher = PruningOptunaSearch(
        sampler=RandomSampler(seed=1234), metric=["a", "b", "c"], mode=["max", "min", "max"]
    )
    grid = tune.Tuner(
        _trainables()[1],
        param_space={"a": tune.uniform(0, 1), "b": tune.uniform(0, 1), "c": tune.uniform(0, 1)},
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            num_samples=16,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="multi", verbose=0),
    ).fit()
    assert grid.num_errors == 0
    assert grid.get_best_result("a", "max").config["a"] >= 0.8
    assert grid.get_best_result("b", "min").config["b"] >= 0.8
    assert grid.get_best_result("c", "max").config["c"] >= 0.8
    trials = searcher._ot_study.get_trials()
    assert len(trials) == 16 and all(t.state == TrialState.COMPLETE and len(t.values) == 3 for t in trials)
