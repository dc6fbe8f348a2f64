"""Row 4 of the benchmarks (`benchmarks/search_efficiency.py`): its epoch budget and its verdict.

The row ends each TPE + ASHA sweep through the runner's `_make_budget` hook, so a change of the
runner's internals must fail here rather than silently run an uncapped sweep; and the verdict counts a
seed that never reached the target as infinitely late, so that noise in one seed cannot decide it;
and it says whether the grid's points differ by more than the training seed moves them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(
    0, str(Path(__file__).resolve().parents[1])
)  # `benchmarks` is a folder of the repo, not installed

from benchmarks.common import SCALES, Context, sweep_spec
from benchmarks.search_efficiency import (
    SEARCH_SCALES,
    EpochCap,
    Report,
    Sweep,
    compare,
    epoch_capped,
    first_reaching,
    point_effect,
)
from seqsweep.tuning.budget import StopRecord


def test_epoch_cap_ends_the_sweep_at_the_count_and_stops_later_reports() -> None:
    stops = StopRecord()
    cap = EpochCap(3, stops=stops)
    decisions = [cap.check(trial, {"val_macro_f1": 0.1}) for trial in ("a", "b", "a", "b", "c")]
    assert decisions == [False, False, True, True, True]
    assert cap.ended and {"a", "b", "c"} <= stops.trial_ids
    assert "epoch budget of 3" in (cap.reason() or "")


def test_epoch_cap_keeps_the_sweeps_own_stop_at_target() -> None:
    cap = EpochCap(100, stop_at={"val_macro_f1": 0.5})
    assert not cap.check("a", {"val_macro_f1": 0.4})
    assert cap.check("a", {"val_macro_f1": 0.6})
    assert "stop_at reached" in (cap.reason() or "")


def test_epoch_capped_swaps_the_runners_budget_and_restores_it() -> None:
    from seqsweep.tuning import runner

    spec = sweep_spec("lstm_vae_tpe", {"search": {"time_budget_s": 60}})
    before = runner._make_budget
    with epoch_capped(7):
        budget = runner._make_budget(spec, StopRecord())
        assert isinstance(budget, EpochCap)
        assert budget.max_epochs == 7 and budget.time_budget_s == 60
    assert runner._make_budget is before


def sweep(name: str, seed: int, scores: list[float]) -> Sweep:
    reports = [
        Report(timestamp=100.0 + i, epoch=1, trial=f"t{i}", score=s, trial_start=99.0 + i)
        for i, s in enumerate(scores)
    ]
    return Sweep(name=name, seed=seed, reports=reports, wall_s=float(len(scores)))


def test_first_reaching_counts_epochs_in_report_order() -> None:
    reports = sweep("x", 0, [0.1, 0.3, 0.2]).reports
    assert first_reaching(reports, 0.25) == 2
    assert first_reaching(reports, 0.31) is None


def test_verdict_counts_a_seed_that_never_reached_the_target_as_never(tmp_path: Path) -> None:
    ctx = Context(scale=SCALES["small"], workdir=tmp_path)
    scale = SEARCH_SCALES["small"]  # budget 4 × 3 = 12 epochs, goal ≤ 4
    grids = [sweep("g", s, [0.2, best]) for s, best in enumerate((0.3, 0.4, 0.5))]  # target 0.4
    early = [0.45] + [0.1] * 11
    never = [0.1] * 12
    reached_by_two = compare(
        ctx, scale, grids, [sweep("t", 0, early), sweep("t", 1, early), sweep("t", 2, never)]
    )
    assert reached_by_two.met and "reached in 2/3 seeds" in reached_by_two.value
    reached_by_one = compare(
        ctx, scale, grids, [sweep("t", 0, early), sweep("t", 1, never), sweep("t", 2, never)]
    )
    assert not reached_by_one.met and "median never" in reached_by_one.value
    assert (tmp_path / "search_efficiency.json").is_file()


def grid_sweeps(bests: dict[str, list[float]]) -> list[Sweep]:
    """One grid sweep per seed: each point's trial reports a worse first epoch, then its best."""
    seeds = len(next(iter(bests.values())))
    sweeps = []
    for seed in range(seeds):
        reports = [
            Report(
                timestamp=float(i),
                epoch=epoch,
                trial=f"{point}-{seed}",
                score=score,
                trial_start=0.0,
                point=point,
            )
            for i, (point, values) in enumerate(bests.items())
            for epoch, score in ((1, values[seed] - 0.1), (2, values[seed]))
        ]
        sweeps.append(Sweep(name="g", seed=seed, reports=reports, wall_s=1.0))
    return sweeps


def test_point_effect_tells_points_that_differ_from_points_the_seed_alone_moves() -> None:
    differ = point_effect(grid_sweeps({"a": [0.50, 0.51, 0.49], "b": [0.20, 0.21, 0.19]}))
    assert differ is not None and differ.points_differ and differ.p_value < 1e-4
    assert (differ.points, differ.seeds) == (2, 3)
    assert differ.spread > differ.noise_spread
    assert "the points differ" in differ.text()

    same = point_effect(grid_sweeps({"a": [0.3, 0.5, 0.4], "b": [0.5, 0.3, 0.4], "c": [0.4, 0.4, 0.4]}))
    assert same is not None and not same.points_differ and same.p_value > 0.9
    assert same.spread < same.noise_spread
    assert same.within == pytest.approx((2 * 0.01 / 3) ** 0.5)  # mean of the variances 0.01, 0.01, 0
    assert "not told apart" in same.text()

    assert point_effect(grid_sweeps({"a": [0.3, 0.5]})) is None  # one point: nothing to compare
