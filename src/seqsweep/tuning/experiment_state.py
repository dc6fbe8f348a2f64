"""Keep Ray Tune's saved view of an experiment in step with the checkpoints on disk.

Ray 2.60 saves an experiment as `experiment_state-<session>.json` in the experiment directory:
`{"trial_data": [[trial_json, run_metadata_json], ...], "runner_data": ..., "stats": ...}`. Each
`run_metadata_json` holds the trial's `checkpoint_manager` (a cloudpickled `_CheckpointManager`
whose `_checkpoint_results` / `_latest_checkpoint_result` are `_TrainingResult(checkpoint,
metrics)`) and its `last_result`; each `trial_json` holds the trial's cloudpickled `storage`
(a `StorageContext` whose `current_checkpoint_index` numbers the next checkpoint folder). Every
result row in a trial folder's `result.json` / `progress.csv` names the checkpoint reported with it
(`checkpoint_dir_name`). `tune.ExperimentAnalysis`, `tune.ResultGrid` and `Tuner.restore` read
exactly these.

Two things change the checkpoints behind Tune's back, and both rewrite that view here, each file
atomically (temporary file + `os.replace`):

- `forget_checkpoints`: retention deletes checkpoints once a sweep is over; the state and the rows
  stop naming them *before* the folders go, so Ray never hands out a deleted checkpoint.
- `reconcile_for_resume`: a driver stopped between a trial's report and Tune's bookkeeping of its
  checkpoint (the save is a second round trip; the state is saved every few seconds) leaves a newer
  complete checkpoint than the one the state names, and result rows for epochs the state does not
  know. Before a resume each unfinished trial is pointed at its newest complete checkpoint and its
  rows are cut back to that epoch, one row per epoch, so that nothing is trained or counted twice.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import shutil
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray.cloudpickle as cloudpickle

from seqsweep._fs import atomic_write_text
from seqsweep.layout import STATE_GLOB

logger = logging.getLogger(__name__)

RESULT_JSON = "result.json"
PROGRESS_CSV = "progress.csv"
CHECKPOINT_DIR_NAME = "checkpoint_dir_name"
TRAINING_ITERATION = "training_iteration"
FINISHED_STATUSES = ("TERMINATED", "ERROR")
"""Trial statuses a resume leaves alone (seqsweep resumes neither finished nor errored trials)."""
_PICKLED = "CLOUDPICKLE_FALLBACK"
"""The marker Tune's `TuneFunctionEncoder` wraps a cloudpickled value in."""

# The loop's checkpoint files (seqsweep.trainables.checkpoint); spelled here so that reading an
# experiment's state never imports the training stack.
_STATE_FILE = "state.json"
_MODEL_INFO_FILE = "model.json"
_ZIP_MODEL_FILES = ("model.keras", "model.pt")
_H5_MODEL_FILE = "model.weights.h5"
_H5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def state_files(experiment_dir: Path) -> list[Path]:
    """The experiment's state files, oldest first (Tune reads the last: the newest session)."""
    return sorted(Path(experiment_dir).glob(STATE_GLOB))


write_atomically = atomic_write_text
"""Replace a file with a text through a temporary file in the same folder, so no reader sees half."""


def _unpickle(value: Any) -> Any:
    if isinstance(value, dict) and value.get("_type") == _PICKLED:
        return cloudpickle.loads(bytes.fromhex(value["value"]))
    return value


def _pickle(value: Any) -> dict[str, str]:
    return {"_type": _PICKLED, "value": cloudpickle.dumps(value).hex()}


@dataclass
class TrialEntry:
    """One trial of an experiment state file, decoded just enough to edit its checkpoints."""

    trial: dict[str, Any]
    metadata: dict[str, Any]

    @property
    def trial_id(self) -> str:
        return str(self.trial.get("trial_id"))

    @property
    def status(self) -> str:
        return str(self.trial.get("status"))

    @property
    def relative_logdir(self) -> str:
        return str(self.trial.get("relative_logdir") or "")

    def checkpoint_manager(self) -> Any:
        return _unpickle(self.metadata.get("checkpoint_manager"))

    def set_checkpoint_manager(self, manager: Any) -> None:
        self.metadata["checkpoint_manager"] = _pickle(manager)

    def storage(self) -> Any:
        return _unpickle(self.trial.get("storage"))

    def set_storage(self, storage: Any) -> None:
        self.trial["storage"] = _pickle(storage)


class StateFile:
    """An `experiment_state-*.json` file, loaded without running anything but our own pickles."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        self.entries = [
            TrialEntry(json.loads(trial_json), json.loads(metadata_json))
            for trial_json, metadata_json in self.data.get("trial_data", [])
        ]

    def save(self) -> None:
        self.data["trial_data"] = [
            [json.dumps(e.trial, indent=2), json.dumps(e.metadata, indent=2)] for e in self.entries
        ]
        write_atomically(self.path, json.dumps(self.data))


def mark_errored(experiment_dir: Path, trial_dirs: Iterable[str]) -> int:
    """Save as ERROR the trials Tune handed back with an error but saved as still running; returns how many.

    A trial whose worker process died (`os._exit`, the OOM killer's SIGKILL: Ray's `ActorDiedError`)
    ended the sweep's ResultGrid as errored, while the last saved state still said RUNNING: `results`
    listed it as pending, Ray's readers as running, and `resume` ran it again. `trial_dirs`: the errored
    trials' folder names.
    """
    files = state_files(experiment_dir)
    names = set(trial_dirs)
    if not files or not names:
        return 0
    state = StateFile(files[-1])
    changed = 0
    for entry in state.entries:
        if Path(entry.relative_logdir).name in names and entry.status not in FINISHED_STATUSES:
            entry.trial["status"] = "ERROR"
            trial_dir = Path(experiment_dir) / entry.relative_logdir
            # where Tune's readers find the error (`Trial.handle_error` names these two files)
            for key, name in (("error_filename", "error.txt"), ("pickled_error_filename", "error.pkl")):
                if (trial_dir / name).is_file() and not entry.metadata.get(key):
                    entry.metadata[key] = name
            changed += 1
    if changed:
        state.save()
    return changed


def _local(trial_dir: Path, checkpoint: Any) -> Path:
    """Where a tracked checkpoint is on this machine: a direct child of its trial folder.

    Tune stores absolute paths of the place the experiment ran; the experiment may have moved since.
    """
    return trial_dir / Path(str(checkpoint.path)).name


def _iteration(metrics: dict[str, Any] | None) -> int:
    try:
        return int((metrics or {}).get(TRAINING_ITERATION, -1))
    except (TypeError, ValueError):
        return -1


def forget_checkpoints(experiment_dir: Path, doomed: Iterable[str | Path] = ()) -> int:
    """Make every state file and result row of the experiment name only checkpoints that stay.

    A checkpoint stays when its folder exists and is not in `doomed` (folders about to be deleted).
    Returns how many references were dropped from the state files.
    """
    experiment_dir = Path(experiment_dir)
    gone = {Path(p).resolve() for p in doomed}

    def stays(path: Path) -> bool:
        return path.is_dir() and path.resolve() not in gone

    dropped = 0
    trial_dirs: set[Path] = set()
    for path in state_files(experiment_dir):
        state = StateFile(path)
        changed = False
        for entry in state.entries:
            trial_dir = experiment_dir / entry.relative_logdir
            trial_dirs.add(trial_dir)
            manager = entry.checkpoint_manager()
            if manager is None:
                continue
            results = list(manager._checkpoint_results)
            kept = [r for r in results if stays(_local(trial_dir, r.checkpoint))]
            latest = manager._latest_checkpoint_result
            if latest is not None and not stays(_local(trial_dir, latest.checkpoint)):
                latest = max(kept, key=lambda r: _iteration(r.metrics), default=None)
            if len(kept) == len(results) and latest is manager._latest_checkpoint_result:
                continue
            dropped += len(results) - len(kept)
            manager._checkpoint_results = kept
            manager._latest_checkpoint_result = latest
            entry.set_checkpoint_manager(manager)
            changed = True
        if changed:
            state.save()
    for trial_dir in sorted(trial_dirs):
        rows = ResultRows(trial_dir)
        if rows.drop_checkpoint_names(lambda name, folder=trial_dir: not stays(folder / name)):
            rows.save()
    return dropped


class ResultRows:
    """A trial folder's `result.json` rows, and its `progress.csv` kept in step with them."""

    def __init__(self, trial_dir: Path) -> None:
        self.trial_dir = trial_dir
        json_path = trial_dir / RESULT_JSON
        text = json_path.read_text(encoding="utf-8") if json_path.exists() else ""
        self.rows: list[dict[str, Any]] = [json.loads(line) for line in text.splitlines() if line.strip()]
        csv_path = trial_dir / PROGRESS_CSV
        self.csv_header: list[str] | None = None
        self.csv_rows: list[dict[str, str]] = []
        if csv_path.exists():
            reader = csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8"), newline=""))
            self.csv_header = list(reader.fieldnames or [])
            self.csv_rows = list(reader)

    def drop_checkpoint_names(self, gone: Any) -> bool:
        """Blank `checkpoint_dir_name` where `gone(name)` is true; True when anything changed."""
        changed = False
        for row in self.rows:
            name = row.get(CHECKPOINT_DIR_NAME)
            if name and gone(name):
                row[CHECKPOINT_DIR_NAME] = None
                changed = True
        for csv_row in self.csv_rows:
            name = csv_row.get(CHECKPOINT_DIR_NAME)
            if name and gone(name):
                csv_row[CHECKPOINT_DIR_NAME] = ""
                changed = True
        return changed

    def cut_to(self, iteration: int, added: dict[int, dict[str, Any]]) -> bool:
        """Keep one row per iteration up to `iteration` (the last written wins), adding `added` rows.

        Returns True when the rows changed.
        """
        by_iteration: dict[int, dict[str, Any]] = {}
        for row in self.rows:
            if 0 < _iteration(row) <= iteration:
                by_iteration[_iteration(row)] = row
        for it, row in added.items():
            by_iteration.setdefault(it, row)
        rows = [by_iteration[it] for it in sorted(by_iteration)]
        csv_by_iteration: dict[int, dict[str, str]] = {}
        for csv_row in self.csv_rows:
            it = _iteration(dict(csv_row))
            if 0 < it <= iteration:
                csv_by_iteration[it] = csv_row
        for it, row in added.items():
            csv_by_iteration.setdefault(it, {k: _csv_value(v) for k, v in row.items()})
        csv_rows = [csv_by_iteration[it] for it in sorted(csv_by_iteration)]
        changed = rows != self.rows or csv_rows != self.csv_rows
        self.rows, self.csv_rows = rows, csv_rows
        return changed

    def row_at(self, iteration: int) -> dict[str, Any] | None:
        for row in reversed(self.rows):
            if _iteration(row) == iteration:
                return row
        return None

    def save(self) -> None:
        if (self.trial_dir / RESULT_JSON).exists() or self.rows:
            text = "".join(json.dumps(row) + "\n" for row in self.rows)
            write_atomically(self.trial_dir / RESULT_JSON, text)
        if self.csv_header is not None:
            out = io.StringIO(newline="")
            writer = csv.DictWriter(out, fieldnames=self.csv_header, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(self.csv_rows)
            write_atomically(self.trial_dir / PROGRESS_CSV, out.getvalue())


def _csv_value(value: Any) -> str:
    return "" if value is None else str(value)


def complete_checkpoint(folder: Path) -> dict[str, Any] | None:
    """The loop's saved state (`state.json`) if `folder` holds a whole checkpoint, else None.

    Whole: both JSON files parse and the model file is intact (a zip with its central directory for
    `.keras`/`.pt`, an HDF5 signature for `.weights.h5`). A folder cut off while it was being copied
    fails one of these.
    """
    try:
        state = json.loads((folder / _STATE_FILE).read_text(encoding="utf-8"))
        json.loads((folder / _MODEL_INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not isinstance(state.get("epoch"), int):
        return None
    for name in _ZIP_MODEL_FILES:
        if (folder / name).exists():
            return state if zipfile.is_zipfile(folder / name) else None
    h5 = folder / _H5_MODEL_FILE
    if h5.exists():
        with h5.open("rb") as handle:
            return state if handle.read(len(_H5_SIGNATURE)) == _H5_SIGNATURE else None
    return None


def _checkpoint_index(name: str) -> int:
    try:
        return int(name.rsplit("_", 1)[1])
    except (IndexError, ValueError):
        return -1


@dataclass(frozen=True)
class ResumedTrial:
    """What `reconcile_for_resume` did to one unfinished trial."""

    trial_id: str
    resumes_after: int
    """Training iteration (= epoch) of the checkpoint it continues from; 0 starts afresh."""
    registered: tuple[str, ...]
    """Complete checkpoints on disk the saved state did not know, now tracked."""
    rows_dropped: int
    rows: tuple[dict[str, Any], ...] = ()
    """Its result rows after reconciling, one per epoch up to `resumes_after` (a recovered epoch's row
    included, which Tune never sent to the searcher: `searchers.record_recovered_epochs`)."""


def reconcile_for_resume(experiment_dir: Path) -> list[ResumedTrial]:
    """Point every unfinished trial of the newest state at its newest complete checkpoint.

    Complete checkpoints are the ones Tune tracks, the ones a result row names (Tune copies a
    checkpoint before it sends the row) and whole folders the loop wrote (see `complete_checkpoint`).
    Folders past the chosen one that are not whole are deleted (the trial writes them again); rows
    past the chosen epoch are cut and repeated epochs kept once (the last), so the trial's history
    reads one row per epoch once it has trained the rest.
    """
    experiment_dir = Path(experiment_dir)
    files = state_files(experiment_dir)
    if not files:
        return []
    state = StateFile(files[-1])
    done: list[ResumedTrial] = []
    for entry in state.entries:
        if entry.status in FINISHED_STATUSES:
            continue
        resumed = _reconcile_trial(experiment_dir / entry.relative_logdir, entry)
        if resumed is not None:
            done.append(resumed)
    if done:
        state.save()
    return done


def _reconcile_trial(trial_dir: Path, entry: TrialEntry) -> ResumedTrial | None:
    from ray.train import Checkpoint
    from ray.train._internal.session import _TrainingResult

    if not trial_dir.is_dir():
        return None
    manager = entry.checkpoint_manager()
    storage = entry.storage()
    if manager is None or storage is None:
        return None
    rows = ResultRows(trial_dir)

    tracked: dict[str, Any] = {}
    for result in [*manager._checkpoint_results, manager._latest_checkpoint_result]:
        if result is not None and _local(trial_dir, result.checkpoint).is_dir():
            tracked[_local(trial_dir, result.checkpoint).name] = result
    candidates: dict[str, dict[str, Any]] = {name: dict(r.metrics) for name, r in tracked.items()}
    for row in rows.rows:  # a row names a checkpoint Tune had finished copying
        name = row.get(CHECKPOINT_DIR_NAME)
        if name and name not in tracked and (trial_dir / name).is_dir():
            candidates[name] = row
    synthesized: dict[int, dict[str, Any]] = {}
    for folder in sorted(trial_dir.glob("checkpoint_*")):
        if folder.name in candidates or not folder.is_dir():
            continue
        loop_state = complete_checkpoint(folder)
        if loop_state is None:
            continue
        row = _row_from_loop_state(loop_state, folder.name, entry, rows)
        candidates[folder.name] = row
        synthesized[_iteration(row)] = row

    chosen = max(candidates, key=lambda n: (_iteration(candidates[n]), _checkpoint_index(n)), default=None)
    chosen_iteration = _iteration(candidates[chosen]) if chosen else 0
    chosen_index = _checkpoint_index(chosen) if chosen else -1

    # Unusable folders past the chosen checkpoint would be overwritten file by file; remove them.
    for folder in trial_dir.glob("checkpoint_*"):
        if (
            folder.is_dir()
            and folder.name not in candidates
            and _checkpoint_index(folder.name) > chosen_index
        ):
            shutil.rmtree(folder, ignore_errors=True)

    registered: list[str] = []
    fresh = sorted((n for n in candidates if n not in tracked), key=lambda n: _iteration(candidates[n]))
    for name in fresh:
        checkpoint = Checkpoint(path=f"{storage.trial_fs_path}/{name}", filesystem=storage.storage_filesystem)
        manager.register_checkpoint(_TrainingResult(checkpoint=checkpoint, metrics=candidates[name]))
        registered.append(name)
    if chosen is not None:
        latest = tracked.get(chosen) or next(
            r for r in manager._checkpoint_results if Path(str(r.checkpoint.path)).name == chosen
        )
        manager._latest_checkpoint_result = latest
    else:
        manager._latest_checkpoint_result = None
    storage.current_checkpoint_index = max(chosen_index, -1)

    before = len(rows.rows)
    rows_changed = rows.cut_to(
        chosen_iteration, {k: v for k, v in synthesized.items() if k <= chosen_iteration}
    )
    if rows_changed:
        rows.save()
    last = rows.row_at(chosen_iteration) if chosen else None
    entry.metadata["last_result"] = last if last is not None else {}
    replay_metric_analysis(entry.metadata, rows.rows)
    entry.set_checkpoint_manager(manager)
    entry.set_storage(storage)
    if registered or rows_changed:
        logger.info(
            "resume: trial %s continues after epoch %d (%d checkpoints recovered, %d stale rows cut)",
            entry.trial_id,
            chosen_iteration,
            len(registered),
            max(0, before - len(rows.rows)),
        )
    return ResumedTrial(
        trial_id=entry.trial_id,
        resumes_after=chosen_iteration,
        registered=tuple(registered),
        rows_dropped=max(0, before - len(rows.rows)),
        rows=tuple(rows.rows),
    )


def earlier_reports(experiment_dir: Path, metric: str) -> dict[str, list[tuple[int, float]]]:
    """Trial id → its (training_iteration, `metric`) reports in order, from every trial folder's
    `result.json` (after `reconcile_for_resume`, one row per epoch): what a resumed sweep's ASHA must
    know of the earlier run (`RecordingASHAScheduler.record_earlier`). Rows without either value, or
    with one that is no number, are left out."""
    reports: dict[str, list[tuple[int, float]]] = {}
    for result in sorted(experiment_dir.glob(f"*/{RESULT_JSON}")):
        for row in ResultRows(result.parent).rows:
            trial_id, time, value = row.get("trial_id"), row.get("training_iteration"), row.get(metric)
            if trial_id is None or not isinstance(time, int | float) or not isinstance(value, int | float):
                continue
            reports.setdefault(str(trial_id), []).append((int(time), float(value)))
    return reports


def replay_repeated_epochs(experiment_dir: Path) -> int:
    """Rebuild Ray's per-trial summary (`replay_metric_analysis`) of every trial whose rows report an epoch
    twice, from its latest report of each epoch (`reports.latest_per_epoch`); returns how many trials.

    A trial retried after an error goes on from its newest checkpoint and reports the epochs after it
    again; Tune's summary kept the lost attempt's scores, so `get_best_trial` and `get_best_result`
    named a winner by a score that no checkpoint holds and `results` does not rank."""
    from seqsweep.tuning.reports import latest_per_epoch

    replayed = 0
    for path in state_files(experiment_dir):
        state = StateFile(path)
        changed = False
        for entry in state.entries:
            rows = ResultRows(experiment_dir / entry.relative_logdir).rows
            latest = latest_per_epoch(rows)
            if len(latest) < len(rows):
                replay_metric_analysis(entry.metadata, latest)
                changed = True
                replayed += 1
        if changed:
            state.save()
    return replayed


def replay_metric_analysis(metadata: dict[str, Any], rows: Iterable[dict[str, Any]]) -> None:
    """Rebuild a trial's `metric_analysis` and `metric_n_steps` in its run metadata from `rows`.

    Tune keeps per trial the max / min / avg / last / last-n-avg of every number its results held
    (`ray.tune.trainable.metadata._TrainingRunMetadata.update_metric`, fed by `Trial.update_last_result`);
    `ExperimentAnalysis.get_best_trial(scope="all")`, `best_config` and `ResultGrid.get_best_result`
    rank trials by it. After a resume recovered epochs Tune never saw, or cut epochs it did, that summary
    no longer matched the rows, and Ray's readers named another winner than the rows give. The rows are
    replayed in order through Tune's own `update_metric`, so the summary is what Tune would have built.
    """
    from numbers import Number

    from ray.tune.result import DEBUG_METRICS
    from ray.tune.trainable.metadata import _TrainingRunMetadata
    from ray.tune.utils import flatten_dict
    from ray.tune.utils.serialization import TuneFunctionEncoder

    n_steps = metadata.get("_n_steps")
    replayed = _TrainingRunMetadata(n_steps=tuple(n_steps)) if n_steps else _TrainingRunMetadata()
    for row in rows:
        metrics = {key: value for key, value in row.items() if key not in DEBUG_METRICS}
        for metric, value in flatten_dict(metrics).items():
            if isinstance(value, Number):
                replayed.update_metric(metric, value, step=row.get(TRAINING_ITERATION))
    for name in ("metric_analysis", "metric_n_steps"):
        metadata[name] = json.loads(json.dumps(getattr(replayed, name), cls=TuneFunctionEncoder))


def _row_from_loop_state(
    loop_state: dict[str, Any], name: str, entry: TrialEntry, rows: ResultRows
) -> dict[str, Any]:
    """The result row Tune would have written for a checkpoint whose report it never processed."""
    epoch = int(loop_state["epoch"])
    earlier = [r for r in rows.rows if 0 < _iteration(r) < epoch]
    previous = max(earlier, key=_iteration, default={})
    row: dict[str, Any] = {
        **(loop_state.get("metrics") or {}),
        CHECKPOINT_DIR_NAME: name,
        TRAINING_ITERATION: epoch,
        "trial_id": entry.trial_id,
        "done": False,
        "should_checkpoint": True,
    }
    total = previous.get("time_total_s")
    if isinstance(total, int | float) and math.isfinite(total):
        row["time_total_s"] = total
    if "config" in previous:
        row["config"] = previous["config"]
    return row
