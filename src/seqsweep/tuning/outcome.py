"""The end of a sweep: a completed one's checkpoints pruned (never an interrupted one's), errored trials marked,
a report `results` wrote before the rows changed removed, and what the sweep comes to (`SweepOutcome`:
trials, errors one line each, the best trial, the exit code).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

from ray import tune

from seqsweep._text import counted
from seqsweep.errors import error_line
from seqsweep.layout import (
    REPORT_DIR,
    TRAIN_SCRATCH,
)
from seqsweep.search_spaces.sweep import SweepSpec
from seqsweep.tuning.budget import SweepBudget
from seqsweep.tuning.experiment_state import (
    FINISHED_STATUSES,
    StateFile,
    mark_errored,
    replay_repeated_epochs,
    state_files,
)
from seqsweep.tuning.reports import epochs_run, one_row_per_epoch, rank_key
from seqsweep.tuning.retention import prune_checkpoints

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepOutcome:
    experiment_dir: Path
    num_trials: int
    num_errored: int
    best_trial_id: str | None
    best_value: float | None
    metric: str
    num_finished: int = 0
    """Trials that ended (finished or errored); the rest are continued by `resume`."""
    num_samples: int = 0
    interrupted_by: int | None = None
    """The signal (SIGINT, SIGTERM) that stopped the sweep before it was done; None if it completed."""
    ended_by: str | None = None
    """One line when `search.time_budget_s` or `search.stop_at` ended the sweep (it still completed), or
    when the searcher ended it short of `num_samples` for another reason."""
    trial_errors: tuple[str, ...] = ()
    """One line per errored trial (`trial_error_line`): its id, the error's last line, where the traceback is."""

    @property
    def exit_code(self) -> int:
        """0 when every trial finished, 1 when any trial errored (the sweep itself still completed),
        128 + the signal number (130 SIGINT, 143 SIGTERM) when the sweep was interrupted."""
        if self.interrupted_by is not None:
            return 128 + self.interrupted_by
        return 1 if self.num_errored else 0

    def describe(self) -> str:
        if self.interrupted_by is not None:
            return (
                f"interrupted: {self.num_finished} of {self.num_samples} trials finished; "
                f"continue with seqsweep resume {self.experiment_dir}"
            )
        best = "none" if self.best_value is None else f"{self.best_value:.4f} (trial {self.best_trial_id})"
        ended = f"{self.ended_by}\n" if self.ended_by else ""
        errors = "".join(f"{line}\n" for line in self.trial_errors)
        return (
            f"{errors}{ended}{counted(self.num_trials, 'trial')}, {self.num_errored} errored; best {self.metric} {best}\n"
            f"experiment: {self.experiment_dir}"
        )


def finish_sweep(
    grid: tune.ResultGrid,
    experiment_dir: Path,
    spec: SweepSpec,
    interrupted_by: int | None = None,
    budget: SweepBudget | None = None,
) -> SweepOutcome:
    """Prune checkpoints of a completed sweep (never of an interrupted one) and sum up the results."""
    search = spec.file.search
    if interrupted_by is None:
        prune_checkpoints(
            grid,
            keep=spec.file.checkpoints.keep,
            metric=search.metric,
            mode=search.mode,
            experiment_dir=experiment_dir,
        )
        shutil.rmtree(experiment_dir / TRAIN_SCRATCH, ignore_errors=True)
    errored = [
        Path(r.path).name for r in (grid[i] for i in range(len(grid))) if r.error is not None and r.path
    ]
    mark_errored(experiment_dir, errored)  # a worker that died left its trial saved as RUNNING
    replay_repeated_epochs(experiment_dir)  # a retried trial's lost attempt no longer ranks it in Ray's view
    drop_stale_report(experiment_dir)
    outcome = sweep_outcome(grid, experiment_dir, spec, interrupted_by)
    if interrupted_by is None and budget is not None and budget.reason() is not None:
        outcome = dataclasses.replace(outcome, ended_by=budget.reason())
    elif interrupted_by is None and outcome.num_trials < spec.num_samples:
        # Never silently short: a sweep that ended before num_samples without its budget says so.
        outcome = dataclasses.replace(
            outcome,
            ended_by=(
                f"the searcher started no more trials after {outcome.num_trials} of "
                f"search.num_samples {spec.num_samples}; the sweep ended there"
            ),
        )
    return outcome


def sweep_outcome(
    grid: tune.ResultGrid, experiment_dir: Path, spec: SweepSpec, interrupted_by: int | None = None
) -> SweepOutcome:
    metric, mode = spec.file.search.metric, spec.file.search.mode
    best: tuple[float, int, str] | None = None
    best_id, best_value = None, None
    for result in (grid[i] for i in range(len(grid))):
        if (
            result.error is not None
            or result.metrics_dataframe is None
            or metric not in result.metrics_dataframe
        ):
            continue
        rows = one_row_per_epoch(result.metrics_dataframe)
        series = rows[metric].dropna()
        series = series[series.map(math.isfinite)]
        if series.empty:
            continue
        value = float(series.max() if mode == "max" else series.min())
        trial_id = str((result.metrics or {}).get("trial_id"))
        key = rank_key(value, mode, epochs_run(rows), trial_id)  # ties as `results` breaks them
        if best is None or key < best:
            best, best_id, best_value = key, trial_id, value
    finished = _saved_finished_trials(experiment_dir) if interrupted_by is not None else None
    if finished is None:
        finished = _finished_trials(grid)
    return SweepOutcome(
        experiment_dir=experiment_dir,
        num_trials=len(grid),
        num_errored=grid.num_errors,
        trial_errors=tuple(
            trial_error_line(result.error, result.path, (result.metrics or {}).get("trial_id"))
            for result in (grid[i] for i in range(len(grid)))
            if result.error is not None
        ),
        best_trial_id=best_id,
        best_value=best_value,
        metric=metric,
        num_finished=finished,
        num_samples=spec.num_samples,
        interrupted_by=interrupted_by,
    )


def trial_error_line(error: BaseException, trial_path: str | None, trial_id: str | None) -> str:
    """One line for an errored trial: "trial <id> errored: <Type: message> (traceback: <file>)".

    Ray's error (a `RayTaskError` wrapping the trainable's exception) prints its whole traceback; the line
    gives the trainable's own exception (`errors.error_line`), its message's lines joined. Tune keeps the
    traceback in the trial's `error.txt`, which the line names.
    """
    cause = error_line(error)
    where = f" (traceback: {Path(trial_path) / 'error.txt'})" if trial_path else ""
    name = trial_id or (Path(trial_path).name if trial_path else "?")
    return f"trial {name} errored: {cause}{where}"


def _saved_finished_trials(experiment_dir: Path) -> int | None:
    """Finished trials as the experiment state saved on the way out says (what `resume` will see).

    After an interruption Tune saves the state, then stops the live trials and marks them TERMINATED
    in memory, so the ResultGrid would count a stopped trial as finished.
    """
    files = state_files(experiment_dir)
    if not files:
        return None
    entries = StateFile(files[-1]).entries
    return sum(1 for entry in entries if entry.status in FINISHED_STATUSES)


def drop_stale_report(experiment_dir: Path) -> None:
    """Remove what `results` wrote in `DIR/report` when a trial's rows changed after it (this `resume`
    trained, or pruned and rewrote them): its leaderboard, scores and winners' checkpoint paths describe
    the experiment as it was. Only `results`' own files go (a user's notes there stay); a resume that
    changed nothing leaves the report as it is. `results` writes it again."""
    report = experiment_dir / REPORT_DIR
    if not report.is_dir():
        return
    from seqsweep.results.leaderboard import LEADERBOARD_CSV, WINNERS_JSON
    from seqsweep.results.plots import FIGURE_NAME_PATTERNS
    from seqsweep.results.report import INDEX_HTML

    ours = {report / name for name in (LEADERBOARD_CSV, WINNERS_JSON, INDEX_HTML)}
    ours |= {path for pattern in FIGURE_NAME_PATTERNS for path in report.glob(pattern)}
    ours = {path for path in ours if path.is_file()}
    if not ours:
        return
    written = min(path.stat().st_mtime for path in ours)
    rows = [path.stat().st_mtime for path in experiment_dir.glob("*/result.json")]
    if not rows or max(rows) <= written:
        return
    for path in ours:
        path.unlink(missing_ok=True)
    logger.info(
        "report: removed the %d files `results` wrote in %s before this sweep went on (its scores and "
        "checkpoints are out of date); run `seqsweep results %s` again",
        len(ours),
        report,
        experiment_dir,
    )


def _finished_trials(grid: tune.ResultGrid) -> int:
    """Trials Tune ended (TERMINATED or ERROR); a trial a signal stopped is neither."""
    trials = getattr(getattr(grid, "_experiment_analysis", None), "trials", None)
    if trials is not None:
        return sum(1 for trial in trials if trial.status in ("TERMINATED", "ERROR"))
    results = [grid[i] for i in range(len(grid))]
    return len([r for r in results if r.error is not None or (r.metrics or {}).get("done")])
