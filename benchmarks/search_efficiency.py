"""Ratio 4: search efficiency as time to quality: the notebook's 12-point LSTM-VAE grid vs TPE + ASHA.

Both searches are the product's built-in sweep files, run with `seqsweep.tuning.runner.run_sweep`:
`lstm_vae_grid` (latent divisor 6 / 3 / 2 × KL weight 0.01 / 0.05 / 0.1 / 0.2, every point trained to
the last epoch) and `lstm_vae_tpe` (the same space, Optuna TPE with ASHA stopping weak trials early).
The data is the real `shared/data/seed_schema/` loaded into SQLite with `load_csv`; the notebook's join
keeps ETHUSDT only. The scale (rows, cell size, epochs E) is reduced to fit the time budget; it is in
`SEARCH_SCALES` and in the row's text.

So that noise cannot decide the row:

- both sides run with the same sweep seeds (`search.seed` 0 … S−1, S ≥ 5 at full scale): the sweep
  seed seeds Optuna's sampler and, with each trial's index in its sweep, the trial's training
  (`trial_seed`; the index is in the trial id, `seqsweep.tuning.trial_ids`). The S sweeps of each side
  are S draws of the training noise, and the same draws in every run of the table: the grid's target
  no longer moves between runs (it did while trial ids were random). TPE + ASHA runs 2 trials at a
  time, so which point its k-th trial gets still depends on which trials finished first;
- both sides get the same total budget of epochs: the grid's points × E. TPE + ASHA may start as many
  trials as it likes; `EpochCap`, the product's sweep budget (`search.time_budget_s` / `stop_at`)
  extended with a count of reported epochs, ends its sweep once that many epochs were reported
  (running trials stop after the epoch they are in), and the reports are read up to that count;
- the target is the median over the grid's seeds of the grid's best validation score.

Reported: the grid's bests (median, min–max), and for TPE + ASHA the epochs and wall seconds until its
first report at or above the target (median, min–max, how many seeds reached it) and its best within
the budget. Epochs are counted in the order the reports happened (trial start + time since start, to
about 1 s); wall seconds run from the sweep's first trial start to that report. The goal, "the grid's
best within ≤ 1/3 of the grid's epochs", is met when the median seed's epochs to the target (a seed
that never reached it counts as never) are at most a third of the budget.

Why the row has stayed unmet: the row's one-way ANOVA finds the grid's 12 points indistinguishable
at this scale (real ETHUSDT, 2026-12-01: F = 0.74, p = 0.70). The same grid on the generated ETHUSDT
of the embedded default (all 1,200 h, cell 16, E 4, seeds 0–4, run once on 2026-12-01 to see whether
the real data was the cause) gave F = 0.77, p = 0.67: the latent divisor and KL weight do not move the
per-cell macro-F1 beyond the training seed's noise on either. On a flat landscape the first report at
or above the grid's best is a draw of that noise, so no search can reach it in a third of the epochs
except by luck; a verdict needs a scale at which the points differ (the notebook's cell 124 and 20
epochs: hours per seed on 2 cores).

At the notebook's own scale (`--scale notebook`: cell 124, E = 20, budget 240 epochs, seeds 0–4; measured
2026-12-01) the points do differ (F = 2.04, p = 0.04; `kl_weight` 0.01 best), and TPE + ASHA reached the
grid's median best in 2 of 5 seeds only (20 and 155 epochs), ending lower (0.265 against 0.271): ASHA cut
most trials after 2 epochs, before the VAE's scores separate. The goal is not met there either, for a
reason of substance rather than noise.

The score is `val_macro_f1`, the per-cell macro-F1 (the mean over (target, step) cells of each cell's
three-class macro-F1, `seqsweep.metrics`), not the notebook's pooled score. Rows measured before
2026-11-30 used the pooled score and compared a grid of 1 seed with 3 seeds of 12 TPE + ASHA trials.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import statistics
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import Context, Row, sweep_spec
from seqsweep.tuning.budget import StopRecord, SweepBudget

METRIC = "val_macro_f1"
GOAL_FRACTION = 1 / 3
GRID, TPE = "lstm_vae_grid", "lstm_vae_tpe"


@dataclass(frozen=True)
class SearchScale:
    """How big row 4 is at one `--scale` (kept here, not in `common.Scale`)."""

    rows: int | None
    """Latest rows of the real ETHUSDT join (None = all 24,001)."""
    cell_size: int
    epochs: int
    """E: epochs per trial (ASHA's `max_t`); the budget of each side is the grid's points × E."""
    seeds: int
    """Sweep seeds 0 … seeds−1, run by both sides."""
    small_space: bool
    """True: 2 × 2 of the grid's values (a wiring check, not the issue's grid)."""


SEARCH_SCALES: dict[str, SearchScale] = {
    "small": SearchScale(rows=1500, cell_size=16, epochs=3, seeds=2, small_space=True),
    "full": SearchScale(rows=1500, cell_size=16, epochs=4, seeds=5, small_space=False),
    "notebook": SearchScale(rows=1500, cell_size=124, epochs=20, seeds=5, small_space=False),
}

SMALL_SPACE = {
    "latent_divisor": {"type": "choice", "values": [6, 2]},
    "kl_weight": {"type": "choice", "values": [0.01, 0.2]},
}
"""`--scale small` only: 4 of the grid's 12 points, so that the wiring check takes minutes."""


@dataclass(frozen=True)
class Report:
    timestamp: float
    epoch: int
    trial: str
    score: float
    trial_start: float
    """When the report's trial started (s since the epoch)."""
    point: str = ""
    """The trial's hyperparameters (its `config` as sorted JSON): the grid point it trained."""


def read_reports(experiment_dir: Path) -> list[Report]:
    """Every epoch report of every trial, from the trials' `result.json` files, in the order they happened.

    A report's time is its trial's start plus its `time_total_s` (sub-second); the start is the latest
    `timestamp - time_total_s` over the trial's reports (Ray's `timestamp` is whole seconds).
    """
    reports = []
    for result_file in sorted(experiment_dir.glob("*/result.json")):
        rows = [json.loads(line) for line in result_file.read_text().splitlines() if line.strip()]
        rows = [row for row in rows if METRIC in row]
        if not rows:
            continue
        start = max(float(row["timestamp"]) - float(row["time_total_s"]) for row in rows)
        reports += [
            Report(
                timestamp=start + float(row["time_total_s"]),
                epoch=int(row.get("epoch", row.get("training_iteration", 0))),
                trial=str(row.get("trial_id", result_file.parent.name)),
                score=float(row[METRIC]),
                trial_start=start,
                point=json.dumps(row.get("config", {}), sort_keys=True),
            )
            for row in rows
        ]
    return sorted(reports, key=lambda r: (r.timestamp, r.epoch, r.trial))


def first_reaching(reports: Sequence[Report], target: float) -> int | None:
    """1-based place (= epochs spent, all trials, in report order) of the first report >= target; None if never."""
    for count, report in enumerate(reports, start=1):
        if report.score >= target - 1e-12:
            return count
    return None


class EpochCap(SweepBudget):
    """The product's sweep budget, also ended once `max_epochs` epoch reports (all trials) were seen.

    The sweep's scheduler shows the budget every report (`check`), so the count is of reports in the
    order Tune received them; the report that reaches the count and each running trial's next report
    stop their trials, and the searcher starts no new trial (`SweepBudget`'s rules). A few epochs past
    the cap may be recorded (at most one per running trial); `run_search` reads up to the cap only.
    """

    def __init__(
        self,
        max_epochs: int,
        time_budget_s: float | None = None,
        stop_at: Mapping[str, float] | None = None,
        stops: StopRecord | None = None,
    ) -> None:
        super().__init__(time_budget_s, stop_at, stops)
        self.max_epochs = max_epochs
        self.epochs_seen = 0

    @property
    def active(self) -> bool:
        return True

    @property
    def ended(self) -> bool:
        return self.epochs_seen >= self.max_epochs or super().ended

    def check(self, trial_id: str, result: Mapping[str, Any]) -> bool:
        self.epochs_seen += 1
        return super().check(trial_id, result)

    def reason(self) -> str | None:
        if self.epochs_seen >= self.max_epochs:
            return f"epoch budget of {self.max_epochs} spent; the sweep ended there"
        return super().reason()


@contextlib.contextmanager
def epoch_capped(max_epochs: int) -> Iterator[None]:
    """Run `run_sweep` with an `EpochCap` of `max_epochs` as its budget (the product's `_make_budget` hook)."""
    from seqsweep.tuning import runner

    if not hasattr(runner, "_make_budget"):
        raise RuntimeError(
            "seqsweep.tuning.runner._make_budget is gone; update benchmarks/search_efficiency.py"
        )
    saved = runner._make_budget

    def make_budget(spec: Any, stops: StopRecord) -> SweepBudget:
        search = spec.file.search
        return EpochCap(max_epochs, search.time_budget_s, search.stop_at, stops)

    runner._make_budget = make_budget
    try:
        yield
    finally:
        runner._make_budget = saved


@dataclass(frozen=True)
class Sweep:
    """One seed of one side: its reports (up to the budget) and its own wall time."""

    name: str
    seed: int
    reports: list[Report]
    wall_s: float
    """`run_sweep` from call to return (dataset from the cache, trials, checkpoint pruning)."""

    @property
    def best(self) -> float:
        return max(r.score for r in self.reports)

    @property
    def trials(self) -> int:
        """Trials with at least one report within the budget."""
        return len({r.trial for r in self.reports})

    @property
    def start(self) -> float:
        """The first trial's start (s since the epoch): the search's clock starts there."""
        return min(r.trial_start for r in self.reports)

    def to_target(self, target: float) -> tuple[int, float] | None:
        """(epochs, wall seconds since the first trial's start) to the first report >= target; None if never."""
        place = first_reaching(self.reports, target)
        if place is None:
            return None
        return place, self.reports[place - 1].timestamp - self.start


@dataclass(frozen=True)
class PointEffect:
    """Whether the grid's points differ by more than the training seed moves one point's score.

    Each (point, seed) contributes its trial's best score; the groups are the points. `f_statistic` and
    `p_value` are a one-way ANOVA over the points (`scipy.stats.f_oneway`; Fisher's F test, e.g.
    Montgomery, *Design and Analysis of Experiments*, ch. 3). `spread` is the standard deviation of the
    points' mean bests; `noise_spread` is what seed noise alone gives those means, sqrt(mean within-point
    variance / seeds); `within` is that within-point standard deviation.
    """

    points: int
    seeds: int
    f_statistic: float
    p_value: float
    spread: float
    noise_spread: float
    within: float

    @property
    def points_differ(self) -> bool:
        """The points' bests differ at the 5 % level."""
        return self.p_value < 0.05

    def text(self) -> str:
        verdict = (
            "the points differ (p < 0.05)"
            if self.points_differ
            else "at this scale the points are not told apart: the training seed moves a point's best more "
            "than the hyperparameters move it, so epochs to the target count draws of that noise more than "
            "the search's skill"
        )
        return (
            f"Do the grid's points differ? One-way ANOVA of each point's best over the {self.seeds} seeds: "
            f"F = {self.f_statistic:.2f}, p = {self.p_value:.2f}; the {self.points} points' mean bests spread "
            f"(sd) {self.spread:.3f} against {self.noise_spread:.3f} expected from the seed alone (sd within "
            f"a point {self.within:.3f}): {verdict}"
        )


def point_effect(grids: Sequence[Sweep]) -> PointEffect | None:
    """`PointEffect` of the grid sweeps' bests per (point, seed); None with fewer than 2 points of 2 seeds."""
    from scipy.stats import f_oneway

    by_point: dict[str, list[float]] = {}
    for grid in grids:
        trial_best: dict[tuple[str, str], float] = {}
        for r in grid.reports:
            key = (r.point, r.trial)
            trial_best[key] = max(trial_best.get(key, -math.inf), r.score)
        for (point, _), best in trial_best.items():
            by_point.setdefault(point, []).append(best)
    groups = [values for values in by_point.values() if len(values) >= 2]
    if len(groups) < 2:
        return None
    seeds = min(len(values) for values in groups)
    result = f_oneway(*groups)
    within = statistics.fmean(statistics.variance(values) for values in groups)
    return PointEffect(
        points=len(groups),
        seeds=seeds,
        f_statistic=float(result.statistic),
        p_value=float(result.pvalue),
        spread=statistics.stdev(statistics.fmean(values) for values in groups),
        noise_spread=math.sqrt(within / seeds),
        within=math.sqrt(within),
    )


def overrides(ctx: Context, scale: SearchScale, seed: int, base: str, budget: int) -> dict[str, Any]:
    params: dict[str, Any] = {"cell_size": scale.cell_size, "epochs": scale.epochs}
    search: dict[str, Any] = {"seed": seed, "max_concurrent": 2}
    if scale.small_space:
        params |= SMALL_SPACE
    if base == TPE:
        search["num_samples"] = budget  # never binding: every trial reports at least one epoch
    return {
        "name": f"{base}_seed{seed}",
        "dataset": {"db": ctx.real_db_url(), "max_rows_per_symbol": scale.rows},
        "params": params,
        "search": search,
        "storage_path": str(ctx.workdir / "search_efficiency"),
    }


def run_search(ctx: Context, scale: SearchScale, base: str, seed: int, budget: int) -> Sweep:
    """One seeded sweep of `base` (grid: as it is; TPE + ASHA: capped at `budget` epochs), reports up to `budget`."""
    from seqsweep.tuning.runner import run_sweep

    spec = sweep_spec(base, overrides(ctx, scale, seed, base, budget))
    started = time.perf_counter()
    with epoch_capped(budget) if base == TPE else contextlib.nullcontext():
        outcome = run_sweep(spec)
    wall = time.perf_counter() - started
    if outcome.num_errored:
        raise RuntimeError(
            f"search: {outcome.num_errored} trial(s) of {spec.name} errored ({outcome.experiment_dir})"
        )
    with (ctx.workdir / "search_efficiency_sweeps.jsonl").open("a") as log:  # to rebuild a cut-off run
        log.write(
            json.dumps({"name": base, "seed": seed, "wall_s": wall, "dir": str(outcome.experiment_dir)})
            + "\n"
        )
    reports = read_reports(outcome.experiment_dir)[:budget]
    if not reports:
        raise RuntimeError(f"search: {spec.name} reported no {METRIC} ({outcome.experiment_dir})")
    return Sweep(name=base, seed=seed, reports=reports, wall_s=wall)


def summary(values: Sequence[float], fmt: str) -> str:
    """`median (min–max)` of the values; `—` for none."""
    if not values:
        return "—"
    mid = fmt.format(statistics.median(values))
    return f"{mid} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def to_target_text(values: Sequence[float | None], fmt: str, unit: str = "") -> str:
    """`median X (reached: min–max)`; a seed that never reached the target counts as infinitely late."""
    median = median_or_never(values)
    reached = [v for v in values if v is not None]
    mid = "never" if math.isinf(median) else fmt.format(median) + unit
    if not reached:
        return f"median {mid}"
    return (
        f"median {mid} (seeds that reached it: {fmt.format(min(reached))}–{fmt.format(max(reached))}{unit})"
    )


def median_or_never(values: Sequence[float | None]) -> float:
    """The median with None (never reached) counted as infinitely late."""
    return float(statistics.median([math.inf if v is None else v for v in values]))


def scores(values: Sequence[float]) -> str:
    return " / ".join(f"{v:.3f}" for v in values)


def measure(ctx: Context) -> list[Row]:
    scale = SEARCH_SCALES[ctx.scale.name]
    points = 4 if scale.small_space else 12
    budget = points * scale.epochs
    # Seed by seed, grid then TPE + ASHA: a drift in the machine's load falls on both sides alike.
    pairs = [
        (run_search(ctx, scale, GRID, s, budget), run_search(ctx, scale, TPE, s, budget))
        for s in range(scale.seeds)
    ]
    grids, tpes = [g for g, _ in pairs], [t for _, t in pairs]
    return [compare(ctx, scale, grids, tpes)]


def compare(ctx: Context, scale: SearchScale, grids: Sequence[Sweep], tpes: Sequence[Sweep]) -> Row:
    """Row 4 from the seeded sweeps of both sides (each read up to the same budget); also writes the numbers
    to `search_efficiency.json` in the run's folder."""
    points = 4 if scale.small_space else 12
    budget = points * scale.epochs
    target = float(statistics.median(g.best for g in grids))
    reached = [t.to_target(target) for t in tpes]
    epochs = [None if r is None else r[0] for r in reached]
    seconds = [None if r is None else r[1] for r in reached]
    grid_epochs = [None if r is None else r[0] for r in (g.to_target(target) for g in grids)]
    effect = point_effect(grids)
    record = {
        "scale": asdict(scale),
        "budget_epochs": budget,
        "target": target,
        "grid": [
            {"seed": g.seed, "best": g.best, "wall_s": g.wall_s, "epochs_to_target": e}
            for g, e in zip(grids, grid_epochs, strict=True)
        ],
        "tpe": [
            {"seed": t.seed, "best": t.best, "wall_s": t.wall_s, "trials": t.trials, "to_target": r}
            for t, r in zip(tpes, reached, strict=True)
        ],
        "point_effect": None if effect is None else asdict(effect),
    }
    (ctx.workdir / "search_efficiency.json").write_text(json.dumps(record, indent=1))

    met = median_or_never(epochs) <= budget * GOAL_FRACTION
    n_reached = sum(e is not None for e in epochs)
    value = (
        f"TPE+ASHA to the grid's median best {target:.3f}: reached in {n_reached}/{len(tpes)} seeds; epochs "
        f"{to_target_text(epochs, '{:g}')} of {budget} (goal ≤ {budget * GOAL_FRACTION:g}); wall "
        f"{to_target_text(seconds, '{:.0f}', ' s')}. Best within the budget: TPE+ASHA "
        f"{summary([t.best for t in tpes], '{:.3f}')}, grid {summary([g.best for g in grids], '{:.3f}')}"
    )
    rows_text = f"latest {scale.rows:,} rows" if scale.rows is not None else "all 24,001 rows"
    grid_text = (
        "a 4-point subset (small scale) of the notebook's 12-point LSTM-VAE grid"
        if scale.small_space
        else "the notebook's 12-point LSTM-VAE grid"
    )
    measured = (
        f"search efficiency as time to quality on the real ETHUSDT join ({rows_text}), per-cell validation "
        f"macro-F1: {grid_text} (`lstm_vae_grid`, every point fully trained) vs TPE + ASHA (`lstm_vae_tpe`, "
        f"grace 2, factor 2, as many trials as fit); scale: cell_size {scale.cell_size} (notebook 124), "
        f"E = {scale.epochs} epochs per trial (notebook 20), batch 50, 2 trials at a time; sweep seeds "
        f"0–{scale.seeds - 1} on both sides (a sweep seed fixes its k-th trial's training seed); the same "
        f"budget on both sides, {points} × {scale.epochs} = {budget} "
        f"epochs (TPE+ASHA ended by an epoch count added to the product's sweep budget, reports read up to "
        f"{budget}); epochs counted in report order, wall from the sweep's first trial start. "
        f"Grid bests per seed {scores([g.best for g in grids])}, their median is the target; the grid "
        f"itself first reached it after {to_target_text(grid_epochs, '{:g}')} epochs. TPE+ASHA per seed: "
        f"epochs to the target {' / '.join('—' if e is None else str(e) for e in epochs)}, best "
        f"{scores([t.best for t in tpes])}, trials {' / '.join(str(t.trials) for t in tpes)}. Sweeps' wall "
        f"(s): grid {summary([g.wall_s for g in grids], '{:.0f}')}, TPE+ASHA "
        f"{summary([t.wall_s for t in tpes], '{:.0f}')}; 1-min load average at the end "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other work on the cores slows every wall time)"
        + ("" if effect is None else f". {effect.text()}")
    )
    return Row(
        key="4",
        measured=measured,
        value=value,
        goal="the grid's best within ≤ 1/3 of the grid's epochs (median seed)",
        met=met,
        command=ctx.command("search"),
    )
