"""The storage path and experiment directory on disk: every file name that crosses packages.

`seqsweep run` writes, `resume`, `results`, `export` and `predict` read; each of them spells a name
only through this module::

    <storage_path>/                       (sweep `storage_path`, or `--storage`)
      datasets/<cache key>/               built datasets, shared by the experiments (data.cache)
      <name>/                             one experiment (sweep `name`)
        tuner.pkl                         Ray Tune's tuner (its presence: an experiment was started)
        experiment_state-<session>.json   Ray Tune's view of the trials (tuning.experiment_state)
        search_gen_state-<session>.json   Ray Tune's search generator (trial counts)
        sweep.yaml                        the validated sweep file, database password hidden
        seqsweep_sweep.json               {"sha256": ...} of sweep.yaml as seqsweep last wrote it
        seqsweep_experiment.json          {"id": uuid}: the identity its Optuna study records as owner
        seqsweep_dataset.json             {"key": cache key} of the dataset the trials train on
        optuna.db                         the Optuna study (unless `search.storage` names an RDB)
        <trial>/checkpoint_<n>/           a trial's checkpoints (trainables.checkpoint)
        .ray_train/                       data-parallel trials' Ray Train runs, removed at the end
        reseed/<run>/                     `results --reseed` reruns, one Tune experiment per call
        report/                           `results` output (report.md, leaderboard.csv, plots)
        predictions/<trial>/              winners' predicted classes, kept by `results` (results.prediction_cache)

An exported bundle has its own layout (`seqsweep.results.bundle_format`), as has a checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

DATASETS_DIR: Final = "datasets"
"""Folder of the storage path where built datasets are cached next to the experiments."""
TUNER_FILE: Final = "tuner.pkl"
"""Ray Tune's pickled tuner; an experiment directory holding it was started (and can be resumed)."""
STATE_GLOB: Final = "experiment_state-*.json"
"""Ray Tune's saved experiment state, one file per driver session (the newest is read)."""
SEARCH_STATE_GLOB: Final = "search_gen_state-*.json"
"""Tune's saved state of its search generator (trials created, total, finished)."""
SWEEP_COPY: Final = "sweep.yaml"
"""The validated sweep file, written into the experiment directory so `resume` needs nothing else."""
SWEEP_DIGEST_FILE: Final = "seqsweep_sweep.json"
"""The SHA-256 of `sweep.yaml` as `run` (or `resume --num-samples/--time-budget-s`) wrote it: an edit by
hand is refused by `resume` and `results` (`seqsweep.tuning.sweep_copy`)."""
EXPERIMENT_ID_FILE: Final = "seqsweep_experiment.json"
"""The experiment's identity (a uuid), which its Optuna study records as its owner."""
DATASET_FILE: Final = "seqsweep_dataset.json"
"""The cache key of the dataset the experiment's trials train on: results read that dataset back
without asking the database, and a resume on changed rows is refused."""
LOCK_FILE: Final = ".seqsweep.lock"
"""The lock `run` and `resume` hold while they write into the experiment (`tuning.experiment_lock`)."""
STUDY_DB: Final = "optuna.db"
"""The SQLite file holding the Optuna study when `search.storage` does not name another RDB."""
TRAIN_SCRATCH: Final = ".ray_train"
"""Folder where data-parallel trials' Ray Train runs write until Tune copies their checkpoints."""
RESEED_DIR: Final = "reseed"
"""Folder holding the seed reruns of `results --reseed`, one Tune experiment per call that trained."""
REPORT_DIR: Final = "report"
"""Default folder of `seqsweep results`' report, leaderboard and plots."""
PREDICTIONS_DIR: Final = "predictions"
"""Folder where `results` keeps each winner's predicted classes per split, keyed by its checkpoint's bytes,
the dataset and the prediction code (`seqsweep.results.prediction_cache`)."""


def dataset_cache_dir(storage_root: str | Path) -> Path | None:
    """`<storage_root>/datasets` for a local (or NFS) storage path; None for a URI (nothing cached)."""
    root = str(storage_root)
    return None if "://" in root else Path(root) / DATASETS_DIR


def study_db_url(experiment_dir: str | Path) -> str:
    """The SQLAlchemy URL of the experiment's own `optuna.db` (as given: relative stays relative)."""
    return f"sqlite:///{experiment_dir}/{STUDY_DB}"


def is_tune_experiment(path: Path) -> bool:
    """Whether Ray Tune has saved an experiment state in `path` (results can read it)."""
    return any(Path(path).glob(STATE_GLOB))


def is_started_experiment(path: Path) -> bool:
    """Whether `path` holds a started experiment (Tune's tuner file): `run` refuses it, `resume` needs it."""
    return (Path(path) / TUNER_FILE).exists()


def reseed_origin(path: Path) -> Path | None:
    """The experiment whose `results --reseed` made the run folder `path` (`<experiment>/reseed/run-K`),
    else None. Its reruns trained on that experiment's dataset, cached on that experiment's storage path."""
    path = Path(path)
    if path.parent.name != RESEED_DIR:
        return None
    origin = path.parent.parent
    return origin if is_started_experiment(origin) else None


def not_a_folder(path: Path, what: str) -> str | None:
    """For a `path` given as a folder of kind `what` ("experiment directory", "bundle folder"): "no such
    WHAT" when nothing is there, "a file, not a(n) WHAT" for a file; None for a folder."""
    if path.is_dir():
        return None
    article = "an" if what[:1] in "aeiou" else "a"
    return f"a file, not {article} {what}" if path.exists() else f"no such {what}"


def experiments_hint(folder: Path) -> str:
    """For an error naming `folder` as no experiment: "; it holds the experiments a, b: name one" when
    experiments lie one level down (a storage path given for its experiment), else ""."""
    try:
        inside = sorted(child.name for child in Path(folder).iterdir() if is_started_experiment(child))
    except OSError:
        return ""
    if not inside:
        return ""
    shown = ", ".join(inside[:5]) + (" ..." if len(inside) > 5 else "")
    return f"; it holds the experiment{'s' if len(inside) > 1 else ''} {shown}: name one ({Path(folder) / inside[0]})"


def read_experiment_id(experiment_dir: Path) -> str | None:
    """The identity an experiment's study records as its owner; None for a new or older experiment."""
    try:
        payload = json.loads((Path(experiment_dir) / EXPERIMENT_ID_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = payload.get("id") if isinstance(payload, dict) else None
    return str(value) if value else None


def made_in(experiment_dir: Path) -> Path | None:
    """The folder the experiment was made in, as `run` recorded it beside its identity; None for an
    experiment made before the folder was recorded (or without a readable record)."""
    try:
        payload = json.loads((Path(experiment_dir) / EXPERIMENT_ID_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = payload.get("path") if isinstance(payload, dict) else None
    return Path(value) if isinstance(value, str) and value else None


def moved_from(experiment_dir: Path) -> Path | None:
    """The folder a moved or copied experiment was made in; None where it is where it was made (or the
    folder was not recorded). Ray Tune's state and its study name that folder."""
    made = made_in(experiment_dir)
    if made is None or made.resolve() == Path(experiment_dir).resolve():
        return None
    return made


def earlier_experiment_dir(earlier_experiment: str) -> Path:
    """`warm_start`'s earlier experiment as a directory; ConfigError (one line) when it is none. Checked by
    `validate` (no Ray) as by `run`, which then also checks its study (`tuning.warm_start.check_warm_start`)."""
    from seqsweep.errors import ConfigError

    directory = Path(earlier_experiment).expanduser()
    if not directory.is_dir():
        raise ConfigError(f"warm_start: {earlier_experiment} is not a directory; name an earlier experiment")
    return directory
