"""Read an experiment directory through Ray Tune's own readers, into one summary per trial.

`tune.ExperimentAnalysis` + `tune.ResultGrid` are what `Tuner.restore(...).get_results()` returns,
without needing the trainable: a finished, a running and a resumed experiment read alike, and no
Ray cluster is started. Every number here is one Ray stored; nothing is recomputed.
"""

from __future__ import annotations

import logging
import math
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from ray import tune
from ray.air.constants import EXPR_PROGRESS_FILE

from seqsweep.constants import (
    DEFAULT_METRIC,
    DEFAULT_MODE,
    EARLY_STOPPED,
    EPOCH,
    FINAL_EPOCH,
    SEARCH_METRICS,
    TRAIN_LOSS,
    VAL_ACCURACY,
    VAL_LOSS,
    VAL_MACRO_F1,
)
from seqsweep.errors import ConfigError, NoValidTrialsError, error_line
from seqsweep.layout import (
    STATE_GLOB,
    STUDY_DB,
    SWEEP_COPY,
    experiments_hint,
    is_tune_experiment,
    not_a_folder,
    reseed_origin,
    study_db_url,
)
from seqsweep.search_spaces.mixed import MODEL_KEY, applies_to, lookup
from seqsweep.search_spaces.run_rules import lenient_run_rules
from seqsweep.search_spaces.sweep import SweepSpec, parse_sweep
from seqsweep.tuning.experiment_lock import held_by_a_sweep
from seqsweep.tuning.experiment_state import FINISHED_STATUSES, complete_checkpoint
from seqsweep.tuning.reports import epochs_run, one_row_per_epoch, rank_key
from seqsweep.tuning.retention import kept_checkpoints
from seqsweep.tuning.sweep_copy import check_sweep_copy

OK = "ok"
"""Finished with at least one epoch whose metric and losses are finite: may win."""
RUNNING = "running"
"""Still training (or paused) in a live sweep (a `run` or `resume` holds the experiment); ranked on what it
has reported so far."""
UNFINISHED = "unfinished"
"""Left running, paused or pending by a sweep no process runs any more (interrupted, killed): `resume`
continues it. Ranked on what it reported, as a running trial is."""
ERRORED = "errored"
"""Raised (after its retries); never wins, whatever it reported before."""
NAN = "nan"
"""Reported, but no epoch had a finite metric and finite losses; never wins."""
PENDING = "pending"
"""Created but has reported nothing yet."""
LOST = "lost"
"""Started by Tune's saved state, but its folder is gone (deleted by hand, never synced back): its reports
and checkpoints are lost, so it is never ranked and `export` cannot say which trial won."""
RANKED_STATES = (OK, RUNNING, UNFINISHED)
UNENDED_STATUSES = ("RUNNING", "PAUSED", "PENDING")
"""Tune's statuses of a trial that has not ended (`resume` continues it)."""

logger = logging.getLogger(__name__)

HISTORY_COLUMNS = (EPOCH, TRAIN_LOSS, VAL_LOSS, VAL_MACRO_F1, VAL_ACCURACY)


@dataclass(frozen=True)
class TrialSummary:
    """One trial as the leaderboard shows it; `best_*` refer to its best epoch over all reports."""

    trial_id: str
    family: str
    status: str
    params: dict[str, Any]
    """The searched parameters' values (the names the sweep file searches)."""
    config: dict[str, Any]
    """The whole config Tune passed to the trial."""
    best_epoch: int | None
    best_value: float | None
    """The search metric at the best epoch."""
    val_macro_f1: float | None
    val_accuracy: float | None
    best_metrics: dict[str, float | None]
    """Every reported metric (losses, macro scores, val_skill, val_mse) present at the best epoch; an
    experiment run before a metric existed simply lacks its key."""
    epochs_run: int
    stopped_early: bool | None
    """True when the last report lacks `final_epoch` (the scheduler stopped it); None while running or errored,
    and for a training function that reports no `final_epoch` at all."""
    plateau_stopped: bool
    """True when the family's own plateau rule ended it (`early_stopped` on its last report)."""
    wall_time_s: float | None
    checkpoint: str | None
    """Directory of the best epoch's checkpoint, as Tune kept it (None if Tune did not keep it)."""
    path: str | None
    error: str | None = None
    """One line: why the trial errored, or why it cannot be ranked."""
    history: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False, repr=False)
    """Per-report rows: epoch, train_loss, val_loss, val_macro_f1, val_accuracy."""
    missing_checkpoint: str | None = None
    """The folder the best epoch's report names as its checkpoint when it is not on disk (deleted by
    hand: pruning never removes the best one and clears the reports' names of those it removes)."""

    @property
    def ranked(self) -> bool:
        return self.status in RANKED_STATES


@dataclass(frozen=True)
class Experiment:
    """What Ray stored for one sweep, plus the sweep file that produced it."""

    path: Path
    name: str
    metric: str
    mode: str
    family: str
    searched: tuple[str, ...]
    trials: tuple[TrialSummary, ...]
    sweep: SweepSpec | None = field(default=None, compare=False, repr=False)
    interrupted: str | None = None
    """One line when Tune left trials unfinished and no `run` or `resume` holds the experiment: how
    many ended, and the command that continues it (the runner's own interrupted line)."""

    @property
    def lost(self) -> list[TrialSummary]:
        """Trials Tune started whose folder is gone (`LOST`)."""
        return [t for t in self.trials if t.status == LOST]

    @property
    def excluded(self) -> list[TrialSummary]:
        """Errored, NaN, pending and lost trials: listed apart, never ranked."""
        return [t for t in self.trials if not t.ranked]

    def ranked(self) -> list[TrialSummary]:
        """Rankable trials, best first (ties: fewer epochs, then trial id); raises if there is none."""
        candidates = [t for t in self.trials if t.ranked and t.best_value is not None]
        if not candidates:
            counts = ", ".join(f"{n} {s}" for s, n in _status_counts(self.trials).items()) or "no trials"
            raise NoValidTrialsError(
                f"{self.path}: no valid trial to rank by {self.metric} ({counts}); "
                f"errored and NaN trials never win",
                tuple(unranked_line(t) for t in sorted(self.trials, key=lambda t: t.trial_id)),
            )
        return sorted(
            candidates,
            key=lambda t: rank_key(float(t.best_value or 0.0), self.mode, t.epochs_run, t.trial_id),
        )

    def top(self, k: int) -> list[TrialSummary]:
        if k < 1:
            raise ConfigError(f"--top: must be >= 1, got {k}")
        return self.ranked()[:k]

    def trial(self, trial_id: str) -> TrialSummary:
        for t in self.trials:
            if t.trial_id == trial_id:
                return t
        raise ConfigError(
            f"--trial: no trial {trial_id!r} in {self.path} (trials: {', '.join(t.trial_id for t in self.trials)})"
        )

    def study_storage(self) -> tuple[str | None, str]:
        """(the Optuna study's storage URL, "") or (None, why there is none to read).

        A storage stored with its password hidden takes it from `$SEQSWEEP_STUDY_URL`, only when that
        variable names the same storage (user, host, database); the URL may then hold the password
        and is shown only through `db_url.mask`.
        """
        if self.sweep is not None and self.sweep.file.search.storage:
            from seqsweep.constants import STUDY_URL_ENV
            from seqsweep.db_url import fill_from_same_storage

            try:
                return fill_from_same_storage(self.sweep.file.search.storage, STUDY_URL_ENV), ""
            except ConfigError as exc:
                return None, str(exc)
        if (self.path / STUDY_DB).exists():
            return study_db_url(self.path), ""
        return None, "the experiment has no Optuna study"

    @property
    def storage_root(self) -> Path:
        """The sweep's storage path (the experiment's parent), where built datasets are cached; for a run of
        `results --reseed` (`DIR/reseed/run-K`), DIR's: the reruns trained on DIR's cached dataset."""
        origin = reseed_origin(self.path)
        return (origin if origin is not None else self.path).parent


def read_sweep_copy(path: Path) -> SweepSpec:
    """The sweep file an experiment ran, parsed without importing its model family.

    Reading results must not depend on the family's code being importable here; `seqsweep run`
    checked the file against the family when it started (`parse_sweep(..., check_family=False)`).
    A rule that only protects a sweep about to run (`run_rules`: one added after an older seqsweep ran
    this experiment, say) is one warning line per rule broken, not a refusal: the trials ran as the file
    reads, and they are what is read. Raises ConfigError for a file that is not YAML or not a valid sweep.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, ValueError, TypeError, AttributeError):  # an edited `start: 2024-02-30` too
        raise ConfigError(f"{path}: not valid YAML") from None
    with lenient_run_rules() as broken:
        spec = parse_sweep(raw, where=str(path), check_family=False)
    for rule in broken:
        logger.warning(
            "%s breaks a rule for sweeps about to run (%s); its trials are read as they ran "
            "(`resume` refuses it)",
            path,
            rule,
        )
    return spec


def read_experiment(path: str | Path) -> Experiment:
    """Summarise every trial of the experiment at `path` (a local directory)."""
    path = Path(path).expanduser().resolve()
    problem = not_a_folder(path, "experiment directory")
    if problem is not None:
        raise ConfigError(f"{path}: {problem}")
    if not is_tune_experiment(path):
        raise ConfigError(
            f"{path}: not a Ray Tune experiment directory (no {STATE_GLOB}){experiments_hint(path)}"
        )
    check_sweep_copy(path)
    sweep = read_sweep_copy(path / SWEEP_COPY) if (path / SWEEP_COPY).exists() else None
    metric = sweep.file.search.metric if sweep else DEFAULT_METRIC
    mode = sweep.file.search.mode if sweep else DEFAULT_MODE
    family = sweep.model_name if sweep else "unknown"

    try:
        analysis = tune.ExperimentAnalysis(str(path), default_metric=metric, default_mode=mode)
    except (
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        EOFError,
        pickle.UnpicklingError,
    ) as exc:
        # a state file cut short (a full disk, a copy interrupted) or edited: one line naming it
        state = sorted(path.glob(STATE_GLOB))
        named = state[-1].name if state else STATE_GLOB
        raise ConfigError(
            f"{path}: Ray Tune's experiment state {named} cannot be read ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())[:160]}); it was cut short or edited: restore it from a copy"
        ) from None
    grid = tune.ResultGrid(analysis)
    configs = [dict(t.config or {}) for t in analysis.trials]
    searched = tuple(sweep.searched) if sweep else _varying_keys(configs)
    families = sweep.families if sweep else ()
    # Tune's saved state still says RUNNING for the trials of a sweep a signal or a kill stopped; only
    # the experiment's lock tells a live sweep from one nobody runs any more.
    live = held_by_a_sweep(path)
    trials = tuple(
        _summarise(trial, grid[i], metric, mode, family, searched, families, live)
        for i, trial in enumerate(analysis.trials)
    )
    return Experiment(
        path=path,
        name=sweep.name if sweep else path.name,
        metric=metric,
        mode=mode,
        family=family,
        searched=searched,
        trials=trials,
        sweep=sweep,
        interrupted=None if live else _interrupted(path, analysis.trials, sweep),
    )


def _interrupted(path: Path, trials: list[Any], sweep: SweepSpec | None) -> str | None:
    """The line for a sweep no process runs whose state left trials unended, as `run` printed it when
    interrupted (trials ended = TERMINATED or ERROR in Tune's state, of the sweep's `num_samples`)."""
    if not any(trial.status in UNENDED_STATUSES for trial in trials):
        return None
    ended = sum(1 for trial in trials if trial.status in FINISHED_STATUSES)
    origin = reseed_origin(path)
    if origin is not None:  # a run of `results --reseed` is never resumed: the same call trains the rest
        return (
            f"reruns interrupted: {ended} of {len(trials)} reruns finished; the same `seqsweep results "
            f"{origin} --reseed N` reuses them and trains the rest"
        )
    total = max(sweep.num_samples, len(trials)) if sweep else len(trials)
    return f"sweep interrupted: {ended} of {total} trials finished; continue with seqsweep resume {path}"


def _summarise(
    trial: Any,
    result: Any,
    metric: str,
    mode: str,
    family: str,
    searched: tuple[str, ...],
    families: tuple[str, ...] = (),
    live: bool = True,
) -> TrialSummary:
    """One trial; in a mixed-family sweep (`families`) its family is the one its config names, and
    its params are that family's (and the common) searched parameters only. `live`: whether a `run`
    or `resume` holds the experiment (else a trial Tune left running is `UNFINISHED`)."""
    config = dict(trial.config or {})
    if families:
        family = str(config.get(MODEL_KEY, family))
        searched = tuple(name for name in searched if applies_to(name, family))
    frame = one_row_per_epoch(stored_reports(result, str(trial.trial_id)))
    history = _history(frame, metric)
    last = frame.iloc[-1].to_dict() if len(frame) else {}
    status, error = _status(trial, result, frame, metric, live)
    best = _best_row(frame, metric, mode, _kept_iterations(result)) if status in RANKED_STATES else None
    checkpoint = _checkpoint_of(result, best) if best is not None else None
    row = best or {}
    named = row.get("checkpoint_dir_name")
    folder = Path(result.path) / named if isinstance(named, str) and named and result.path else None
    if checkpoint is None and folder is not None and _whole_checkpoint(folder):
        # written and whole, but not yet in the state Tune saved when a signal stopped the sweep
        # (`resume` takes it up the same way, `experiment_state.reconcile_for_resume`)
        checkpoint = str(folder)
    missing = str(folder) if checkpoint is None and folder is not None and not folder.exists() else None
    return TrialSummary(
        trial_id=str(trial.trial_id),
        family=family,
        status=status,
        params={name: lookup(config, name) for name in searched},
        config=config,
        best_epoch=_epoch_of(row),
        best_value=_float(row.get(metric)),
        val_macro_f1=_float(row.get(VAL_MACRO_F1)),
        val_accuracy=_float(row.get(VAL_ACCURACY)),
        best_metrics={k: _float(row.get(k)) for k in SEARCH_METRICS if k in row},
        epochs_run=epochs_run(frame),
        # a training function that never reports final_epoch: unknown, not "stopped early"
        stopped_early=(not bool(last.get(FINAL_EPOCH, False)))
        if status == OK and FINAL_EPOCH in frame
        else None,
        plateau_stopped=bool(last.get(EARLY_STOPPED, False)) if status == OK else False,
        wall_time_s=_float(last.get("time_total_s")),
        checkpoint=checkpoint,
        missing_checkpoint=missing,
        path=str(result.path) if result.path else None,
        error=error,
        history=history,
    )


def stored_reports(result: Any, trial_id: str) -> pd.DataFrame:
    """A trial's reports, one row each in report order: Ray's `metrics_dataframe` (its `result.json`),
    or the trial's `progress.csv` where that holds more rows.

    Ray's JSON and CSV loggers write the same reports. After a node died right after a trial's last
    report, the trial's `result.json` in storage held 6 of its 12 rows and `progress.csv` all 12
    (Ray 2.60: on a restart the JSON logger replaces the driver's copy with storage's, which may lag).
    Ranking on the shorter log would silently drop epochs, possibly the best; the longer one is read
    instead, with a warning naming the trial. The CSV has no `config/*` columns (the config is read
    from the trial itself).
    """
    frame = result.metrics_dataframe if result.metrics_dataframe is not None else pd.DataFrame()
    progress = Path(str(result.path)) / EXPR_PROGRESS_FILE if result.path else None
    if progress is None or not progress.is_file():
        return frame
    try:
        logged = pd.read_csv(progress)
    except (OSError, ValueError, pd.errors.ParserError):
        return frame
    if len(logged) <= len(frame):
        return frame
    logger.warning(
        "trial %s: Ray's result.json holds %d report(s), its progress.csv %d; reading progress.csv",
        trial_id,
        len(frame),
        len(logged),
    )
    return logged


def _status(
    trial: Any, result: Any, frame: pd.DataFrame, metric: str, live: bool = True
) -> tuple[str, str | None]:
    if trial.status == "ERROR" or result.error is not None:
        return ERRORED, error_line(result.error) if result.error is not None else "errored"
    if result.path and not Path(str(result.path)).is_dir() and trial.status != "PENDING":
        note = f"its folder {result.path} is gone: its reports and checkpoints are lost"
        logger.warning(
            "trial %s (%s in Tune's state): %s; it is not ranked", trial.trial_id, trial.status, note
        )
        return LOST, note
    if frame.empty or metric not in frame:
        return PENDING, None
    if _valid_rows(frame, metric).empty:
        return NAN, f"no epoch with a finite {metric} and finite losses"
    if trial.status in UNENDED_STATUSES:
        return (RUNNING if live else UNFINISHED), None
    return OK, None


def _valid_rows(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Reports whose metric and losses are all finite: only these can be a trial's best epoch."""
    finite = _finite(frame[metric])
    for loss in (TRAIN_LOSS, VAL_LOSS):
        if loss in frame:
            finite &= _finite(frame[loss])
    return frame[finite]


def _finite(series: pd.Series) -> pd.Series:
    """True where the value is a finite number (NaN, inf and non-numbers are False)."""
    return pd.Series(np.isfinite(pd.to_numeric(series, errors="coerce").astype(float)), index=series.index)


def _best_row(frame: pd.DataFrame, metric: str, mode: str, kept: set[int]) -> dict[str, Any]:
    """The best report over all epochs (scope="all"); among equal scores the one whose checkpoint Tune kept."""
    rows = _valid_rows(frame, metric)
    values = pd.to_numeric(rows[metric])
    best_value = values.max() if mode == "max" else values.min()
    tied = rows[values == best_value]
    if "training_iteration" in tied:
        with_checkpoint = tied[tied["training_iteration"].isin(kept)]
        if not with_checkpoint.empty:
            tied = with_checkpoint
    return tied.iloc[0].to_dict()


def _kept_iterations(result: Any) -> set[int]:
    return {int(m["training_iteration"]) for _, m in kept_checkpoints(result) if "training_iteration" in m}


def _whole_checkpoint(folder: Path) -> bool:
    """Whether `folder` holds a whole checkpoint: a model family's (`complete_checkpoint`) or a training
    function's (its marker, written once the function's own files are in)."""
    from seqsweep.trainables.function import read_marker

    try:
        return complete_checkpoint(folder) is not None or read_marker(folder) is not None
    except (OSError, ValueError):
        return False


def _checkpoint_of(result: Any, row: dict[str, Any]) -> str | None:
    iteration = row.get("training_iteration")
    for checkpoint, metrics in kept_checkpoints(result):
        if iteration is not None and metrics.get("training_iteration") == iteration:
            return str(checkpoint.path)
    return None


def _history(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    columns = [c for c in (*HISTORY_COLUMNS, metric) if c in frame]
    history = frame[list(dict.fromkeys(columns))].copy()
    if EPOCH not in history and "training_iteration" in frame:
        history.insert(0, EPOCH, frame["training_iteration"])
    return history.reset_index(drop=True)


def _epoch_of(row: dict[str, Any]) -> int | None:
    value = row.get(EPOCH, row.get("training_iteration"))
    return int(value) if value is not None and not pd.isna(value) else None


def _float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _varying_keys(configs: list[dict[str, Any]]) -> tuple[str, ...]:
    """Without a sweep file: the config keys whose values differ between trials."""
    keys = sorted({k for c in configs for k in c})
    return tuple(k for k in keys if len({repr(c.get(k)) for c in configs}) > 1)


def unranked_line(trial: TrialSummary, name: str | None = None) -> str:
    """`<name> <status>: <error>` (name: `trial <id>` unless given) and, for an errored trial, where its
    traceback is."""
    line = f"{name or f'trial {trial.trial_id}'} {trial.status}" + (f": {trial.error}" if trial.error else "")
    if trial.status == ERRORED and trial.path:
        line += f" (traceback: {Path(trial.path) / 'error.txt'})"
    return line


def _status_counts(trials: tuple[TrialSummary, ...]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.status] = counts.get(t.status, 0) + 1
    return counts
