"""`seqsweep results DIR --reseed N`: retrain the top configurations with new seeds, to see seed noise.

A sweep's ranking mixes the configuration's merit with the luck of one training seed. Each of the
top-k configurations is trained N more times, as one Ray Tune run over the sweep's cached dataset
(`tune.with_parameters` puts it in the object store once, as `seqsweep run` does), through the same
trainable (`seqsweep.trainables.tune_reporter.train_trial`) and loop. Every rerun trains with a new
seed, derived from the sweep seed, the original trial and the rerun's number (`rerun_sweep_seed`).
The runs live in `DIR/reseed/run-*` and a later call reuses every (configuration, seed) pair already
there that finished (ok, or a NaN score), training only what is missing. A rerun that errored (out of
memory, a lost node) is trained again, and so is every rerun of a run trained on another dataset or by
another seqsweep release than this call's: a line says which. One `results --reseed` at a time reruns
an experiment's winners (a lock on `DIR/reseed`); a second is refused at once, naming the first.

The configurations are then ranked by the mean of their best validation score over the N reruns
(the original run is shown, not averaged: it is the one that was selected, so it is biased upward),
and the report says whether #1's lead over #2 exceeds their seed spread.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ray import tune

from seqsweep._text import CELL_DIGITS, counted, signed
from seqsweep.data.bundle import DatasetBundle
from seqsweep.errors import ConfigError
from seqsweep.layout import RESEED_DIR, SWEEP_COPY, is_tune_experiment
from seqsweep.results.experiment import (
    ERRORED,
    NAN,
    OK,
    Experiment,
    TrialSummary,
    read_experiment,
    unranked_line,
)
from seqsweep.tuning.dataset_record import recorded_dataset_key
from seqsweep.tuning.experiment_lock import folder_lock

logger = logging.getLogger(__name__)

RESEED_KEY = "reseed"
"""Key of a rerun's Tune config: {"of": original trial id, "index": seed number, "config": its config}."""
KEPT = (OK, NAN)
"""Rerun states that are reused; an errored, pending or interrupted rerun is trained again."""


def rerun_sweep_seed(sweep_seed: int, original_trial_id: str, index: int) -> int:
    """The sweep seed a rerun trains under: derived from the sweep's seed, the original trial and the
    rerun's number. A rerun's trial id carries its place in the reseed run (`trial_seed` keys to it), so
    without this the i-th rerun would draw the seed of the sweep's own i-th trial."""
    from seqsweep.trainables.seeding import derive_seed

    return derive_seed("reseed", sweep_seed, original_trial_id, index)


def reseed_trial(config: dict[str, Any], bundle: Any, settings: Any) -> None:
    """Tune function trainable: `train_trial` on the original configuration stored under `RESEED_KEY`,
    under the rerun's own sweep seed (`rerun_sweep_seed`)."""
    from seqsweep.trainables.tune_reporter import train_trial

    tag = config[RESEED_KEY]
    seed = rerun_sweep_seed(settings.seed, str(tag["of"]), int(tag["index"]))
    train_trial(dict(tag["config"]), bundle, dataclasses.replace(settings, seed=seed))


@dataclass(frozen=True)
class SeedRow:
    """One configuration's reruns."""

    trial_id: str
    original_rank: int
    original_value: float | None
    values: tuple[float, ...]
    """Best validation score (the sweep's metric, over all epochs) of each finished rerun."""
    failed: int
    """Reruns that errored or never had a finite score."""
    failures: tuple[str, ...] = ()
    """One line per failed rerun: which, its status and its error (where its traceback is)."""

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.values) if self.values else None

    @property
    def sd(self) -> float | None:
        """Sample standard deviation (n - 1); None with fewer than 2 reruns."""
        return statistics.stdev(self.values) if len(self.values) >= 2 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "trial_id": self.trial_id,
            "original_rank": self.original_rank,
            "original_value": self.original_value,
            "values": list(self.values),
            "mean": self.mean,
            "sd": self.sd,
            "failed": self.failed,
            "failures": list(self.failures),
        }


@dataclass(frozen=True)
class ReseedOutcome:
    """The reruns of the top configurations, ranked by their mean best validation score."""

    metric: str
    mode: str
    seeds: int
    rows: tuple[SeedRow, ...]
    """Best mean first."""
    trained: int
    """Reruns trained by this call (0 when every one was already in `folder`)."""
    folder: Path
    notes: tuple[str, ...] = ()
    """One line per earlier run left out (another dataset or release) and for errored reruns retried."""

    def conclusion(self) -> str:
        """Whether #1's lead over #2 (by the original ranking) is larger than their seed spread."""
        by_rank = sorted(self.rows, key=lambda r: r.original_rank)
        if len(by_rank) < 2:
            return "Only one configuration was rerun, so there is no lead to weigh (use --top 2 or more)."
        first, second = by_rank[0], by_rank[1]
        if first.mean is None or second.mean is None:
            return f"#1 {first.trial_id} or #2 {second.trial_id} has no finished rerun: no conclusion."
        lead = (first.mean - second.mean) * (1 if self.mode == "max" else -1)
        # #2 ahead in the reruns' means is said so: "leads by -0.0500 ..., within training noise" read #1's
        # place as noise however far behind it fell
        ahead = (
            f"leads #2 {second.trial_id} by {signed(lead, CELL_DIGITS)}"
            if lead >= 0
            else f"trails #2 {second.trial_id} by {-lead:.4f}"
        )
        spreads = [s for s in (first.sd, second.sd) if s is not None]
        if len(spreads) < 2:
            return (
                f"#1 {first.trial_id} {ahead} in mean {self.metric}, but with fewer than 2 reruns each their "
                f"seed spread is unknown (use --reseed 2 or more)."
            )
        spread = max(spreads)
        head = f"#1 {first.trial_id} {ahead} in mean {self.metric} over {self.seeds} new seeds each"
        if -lead > spread:
            return (
                f"{head}, more than their seed spread (sd up to {spread:.4f}): #2's configuration does better "
                f"under new seeds: #1 ranked first by the luck of its seed."
            )
        if lead > spread:
            return f"{head}, more than their seed spread (sd up to {spread:.4f}): the lead is not seed noise."
        return (
            f"{head}, not more than their seed spread (sd up to {spread:.4f}): which of the two is better "
            f"is within training noise."
        )

    def table(self) -> list[dict[str, Any]]:
        """One row per configuration, best mean first: the console and page table."""
        return [
            {
                "rank_by_mean": i,
                "trial_id": r.trial_id,
                "original_rank": r.original_rank,
                f"original_{self.metric}": r.original_value,
                "mean": r.mean,
                "sd": r.sd,
                "reruns": len(r.values),
                "failed": r.failed,
            }
            for i, r in enumerate(self.rows, start=1)
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "mode": self.mode,
            "seeds": self.seeds,
            "folder": str(self.folder),
            "trained_now": self.trained,
            "notes": list(self.notes),
            "ranking": [r.to_dict() for r in self.rows],
            "conclusion": self.conclusion(),
        }


def reseed_winners(
    experiment: Experiment,
    winners: list[TrialSummary],
    seeds: int,
    bundle: DatasetBundle | None = None,
    *,
    db_url: str | None = None,
    address: str | None = None,
) -> ReseedOutcome:
    """Rerun each winner's configuration `seeds` times (only the pairs not yet in DIR/reseed) and rank.

    `bundle` is the sweep's dataset (read from the cache when None). Earlier reruns are reused when they
    finished on this dataset under this seqsweep release; errored ones are trained again. Raises
    ConfigError for `seeds` < 1, for an experiment without sweep.yaml, for a data-parallel sweep (not
    supported here) and while another `results --reseed` reruns this experiment's winners.
    """
    from seqsweep.tuning.runner import check_tune_environment

    if seeds < 1:
        raise ConfigError(f"--reseed: must be >= 1, got {seeds}")
    check_tune_environment()  # as `run` and `resume`: the reruns' checkpoints are pruned by their epoch
    if experiment.sweep is None:
        raise ConfigError(f"{experiment.path}: no sweep.yaml, so the configurations cannot be retrained")
    if experiment.sweep.file.resources.workers > 1:
        raise ConfigError(
            "--reseed: data-parallel sweeps (resources.workers > 1) cannot be rerun by `results` yet"
        )
    folder = experiment.path / RESEED_DIR
    folder.mkdir(exist_ok=True)
    with folder_lock(folder, lambda holder: _busy(folder, holder)):
        if bundle is None and recorded_dataset_key(experiment.path) is None:
            bundle = _load(experiment, db_url)  # made before it recorded its dataset: a rebuild's is the key
        key = bundle.cache_key if bundle is not None else recorded_dataset_key(experiment.path)
        earlier = _read_reruns(folder, key)
        missing = [(t, i) for t in winners for i in range(seeds) if (t.trial_id, i) not in earlier.kept]
        notes = list(earlier.left_out)
        retried = [(t, i) for t, i in missing if (t.trial_id, i) in earlier.errored]
        if retried:
            notes.append(
                f"{counted(len(retried), 'rerun')} that errored earlier (out of memory, interrupted, a bug) "
                f"{'was' if len(retried) == 1 else 'were'} trained again: an errored rerun is never reused"
            )
        reruns = earlier
        if missing:
            _train(experiment, missing, bundle or _load(experiment, db_url), folder, address)
            reruns = _read_reruns(folder, key)
    rows = []
    for rank, trial in enumerate(winners, start=1):
        found = [(i, reruns.record(trial.trial_id, i)) for i in range(seeds)]
        runs = [(i, r) for i, r in found if r is not None]
        values = tuple(float(r.best_value) for _, r in runs if r.status == OK and r.best_value is not None)
        # a failed rerun was a count in the table (`failed 1`) with no word of why
        failures = tuple(
            unranked_line(r, f"rerun {i} of {trial.trial_id}") for i, r in runs if r.status != OK
        )
        rows.append(SeedRow(trial.trial_id, rank, trial.best_value, values, seeds - len(values), failures))
    sign = -1.0 if experiment.mode == "max" else 1.0
    rows.sort(key=lambda r: (r.mean is None, sign * (r.mean or 0.0), r.original_rank))
    return ReseedOutcome(
        experiment.metric, experiment.mode, seeds, tuple(rows), len(missing), folder, tuple(notes)
    )


def _busy(folder: Path, holder: str) -> str:
    """The refusal of a second `results --reseed` while another holds `folder`'s lock."""
    return (
        f"{folder}: another `seqsweep results --reseed`{holder} is rerunning this experiment's winners; wait "
        f"for it to end, then run this again (it reuses those reruns)"
    )


def _load(experiment: Experiment, db_url: str | None) -> DatasetBundle:
    from seqsweep.results.evaluate import load_dataset

    return load_dataset(experiment, db_url)


@dataclass(frozen=True)
class _Reruns:
    """The reruns already in DIR/reseed, by (original trial id, seed number)."""

    kept: dict[tuple[str, int], TrialSummary]
    """The first finished rerun (ok or NaN) of each pair, over the runs trained on this dataset."""
    errored: dict[tuple[str, int], TrialSummary]
    """The newest errored rerun of each pair without a finished one: trained again, shown if it fails again."""
    left_out: tuple[str, ...]
    """One line per run trained on another dataset or by another seqsweep release."""

    def record(self, trial_id: str, index: int) -> TrialSummary | None:
        return self.kept.get((trial_id, index)) or self.errored.get((trial_id, index))


def _read_reruns(folder: Path, key: str | None) -> _Reruns:
    """The reruns of every run in `folder` (oldest run first) whose recorded dataset is `key` and whose
    seqsweep release is this one; a run of another is left out, with a line saying why."""
    kept: dict[tuple[str, int], TrialSummary] = {}
    errored: dict[tuple[str, int], TrialSummary] = {}
    left_out = []
    runs = [p for p in folder.iterdir() if is_tune_experiment(p)] if folder.is_dir() else []
    for run in sorted(runs, key=_run_number):
        stale = _stale_because(run, key)
        if stale is not None:
            left_out.append(f"{run}: its reruns are left out and trained again: {stale}")
            continue
        for trial in read_experiment(run).trials:
            tag = trial.config.get(RESEED_KEY)
            if not isinstance(tag, dict):
                continue
            pair = (str(tag["of"]), int(tag["index"]))
            if trial.status in KEPT:
                kept.setdefault(pair, trial)
            elif trial.status == ERRORED:
                errored[pair] = trial
    return _Reruns(kept, {p: t for p, t in errored.items() if p not in kept}, tuple(left_out))


def _stale_because(run: Path, key: str | None) -> str | None:
    """Why the reruns of `run` cannot stand beside this call's, or None when they can: another dataset
    (a run made before runs recorded theirs trained on the experiment's, `dataset_record`), or another
    seqsweep release, whose training code may differ."""
    from seqsweep import __version__
    from seqsweep.results.evaluate import dataset_record
    from seqsweep.tuning.dataset_record import recorded_dataset

    _, trained_on = dataset_record(run)
    if trained_on != key:
        return f"they trained on dataset {trained_on or '(unrecorded)'}, and this experiment's is {key}"
    release = recorded_dataset(run).get("seqsweep")
    if release is not None and release != __version__:
        return f"seqsweep {release} trained them, and this is seqsweep {__version__}"
    return None


def _run_number(run: Path) -> tuple[int, str]:
    """`run-K` by K (run-10 after run-9), anything else after."""
    number = run.name.removeprefix("run-")
    return (int(number), run.name) if number.isdigit() else (1 << 62, run.name)


def _train(
    experiment: Experiment,
    missing: list[tuple[TrialSummary, int]],
    bundle: DatasetBundle,
    folder: Path,
    address: str | None,
) -> None:
    from seqsweep.cluster.session import check_trial_fits, ray_session
    from seqsweep.trainables.base import TrialSettings
    from seqsweep.tuning.dataset_record import record_dataset_key
    from seqsweep.tuning.retention import prune_checkpoints
    from seqsweep.tuning.runner import quiet_tune

    assert experiment.sweep is not None
    spec = experiment.sweep
    wanted = spec.file.resources
    runs = [{"of": t.trial_id, "index": i, "config": dict(t.config)} for t, i in missing]
    settings = TrialSettings(
        model=spec.model_name,
        seed=spec.file.search.seed,
        fixed=spec.fixed,
        function=spec.file.trainable is not None,
        families=spec.families,
        metric=spec.file.search.metric,
    )
    trainable = tune.with_resources(
        tune.with_parameters(reseed_trial, bundle=bundle, settings=settings),
        {"cpu": wanted.cpu, "gpu": wanted.gpu},
    )
    quiet_tune()  # Ray's own "View detailed results here" and tensorboard lines stay off stdout
    with ray_session(address, sigint_deaf_start=True):
        # as `run`: reruns of GPU trials on a cluster without a GPU waited, PENDING, forever
        check_trial_fits(
            wanted,
            local=address in (None, "local"),
            gpu_fix="rerun them on a Ray cluster with GPUs (--address)",
        )
        name = _next_run_name(folder)
        (folder / name).mkdir(parents=True)
        (folder / name / SWEEP_COPY).write_text(
            (experiment.path / SWEEP_COPY).read_text(encoding="utf-8"), encoding="utf-8"
        )
        # the run names the dataset its reruns train on, as a sweep does: `results` or `export` of the run
        # reads that one back (or refuses a rebuild that differs), never the database's rows of the day
        record_dataset_key(folder / name, bundle)
        logger.info("reseed: training %d reruns into %s", len(runs), folder / name)
        grid, signum = _fit(experiment, trainable, runs, folder, name)
    if signum is not None:
        # a run is never resumed: its finished reruns are reused as they are, so they are pruned now as a
        # finished run's are (left whole, they kept every epoch's checkpoint for good); the reruns it
        # stopped half way are trained again in a new run and left as they are
        prune_checkpoints(
            _finished(grid, folder / name),
            keep=1,
            metric=experiment.metric,
            mode=experiment.mode,
            experiment_dir=folder / name,
        )
        raise ReseedInterrupted(signum, folder / name)
    prune_checkpoints(
        grid, keep=1, metric=experiment.metric, mode=experiment.mode, experiment_dir=folder / name
    )


def _finished(grid: tune.ResultGrid, run: Path) -> list[Any]:
    """The results of the reruns Tune's saved state of `run` says finished (TERMINATED). After a stop
    signal the grid itself cannot tell: Tune marks the reruns it stopped TERMINATED in memory."""
    from seqsweep.tuning.experiment_state import StateFile, state_files

    files = state_files(run)
    if not files:
        return []
    done = {entry.relative_logdir for entry in StateFile(files[-1]).entries if entry.status == "TERMINATED"}
    results = (grid[i] for i in range(len(grid)))
    return [result for result in results if result.path and Path(result.path).name in done]


def _fit(
    experiment: Experiment, trainable: Any, runs: list[dict[str, Any]], folder: Path, name: str
) -> tuple[tune.ResultGrid, int | None]:
    """Tune's run of the reruns into `folder/name`: its results and the stop signal that ended it, if any.
    As `run`: Ctrl-C stops the reruns in order (the local Ray deaf to it) and is reported, not taken for
    the end of the reruns (which went on to prune the run and report every rerun as failed, exit 0)."""
    from seqsweep.tuning.stop_signals import stop_signals

    assert experiment.sweep is not None
    spec = experiment.sweep
    with stop_signals(folder / name) as stop:
        tuner = tune.Tuner(
            trainable,
            param_space={RESEED_KEY: tune.grid_search(runs)},
            tune_config=tune.TuneConfig(
                num_samples=1, max_concurrent_trials=spec.file.search.max_concurrent, reuse_actors=True
            ),
            run_config=tune.RunConfig(
                name=name,
                storage_path=str(folder),
                failure_config=tune.FailureConfig(max_failures=spec.file.failure.max_retries),
                # every checkpoint kept while the reruns train, pruned after as a sweep's are: Tune's own
                # `num_to_keep` deleted checkpoints its result rows still named
                checkpoint_config=tune.CheckpointConfig(
                    num_to_keep=None,
                    checkpoint_score_attribute=experiment.metric,
                    checkpoint_score_order=experiment.mode,
                ),
                verbose=0,
            ),
        )
        grid = tuner.fit()
    return grid, stop.signum


class ReseedInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the reruns: nothing is reported (the finished reruns' checkpoints are
    pruned, the rest left as they are); the command exits 128 + signum."""

    def __init__(self, signum: int, run_dir: Path) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.run_dir = run_dir

    def describe(self) -> str:
        return (
            f"interrupted: the reruns stopped; those that finished stay in {self.run_dir} and the same "
            f"`seqsweep results --reseed` reuses them and trains the rest (no report was written)"
        )

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _next_run_name(folder: Path) -> str:
    taken = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    return next(f"run-{i}" for i in range(1, len(taken) + 2) if f"run-{i}" not in taken)
