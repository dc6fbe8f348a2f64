"""A `results --reseed` run folder (`DIR/reseed/run-K`) read as an experiment of its own (`results`,
`export`): its dataset is the one its reruns trained on, DIR's, never the database's rows of the day."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pytest

import seqsweep.data
from seqsweep.data import build_dataset
from seqsweep.data.sample import write_sample
from seqsweep.errors import DataError
from seqsweep.layout import DATASETS_DIR, RESEED_DIR, TUNER_FILE
from seqsweep.results.evaluate import load_dataset
from seqsweep.results.experiment import Experiment
from seqsweep.search_spaces.sweep import parse_sweep
from seqsweep.testing.sweeps import tiny_dataset
from seqsweep.tuning.dataset_record import record_dataset_key


def _run_folder(tmp_path: Path) -> tuple[Experiment, str]:
    """An experiment `runs/tiny` with its recorded, cached dataset and a reseed run `reseed/run-1` made
    before runs recorded their own dataset (no `seqsweep_dataset.json` in it); then the database's rows
    change. Returns the run as an Experiment and the experiment's dataset key."""
    url = f"sqlite:///{tmp_path / 'prices.db'}"
    write_sample(url, seed=3, hours=120)
    spec = parse_sweep(
        {
            "name": "tiny",
            "model": "lstm",
            "dataset": tiny_dataset(url, max_rows_per_symbol=100),
            "params": {"cell_size": {"type": "choice", "values": [4, 8]}, "epochs": 1},
        }
    )
    storage = tmp_path / "runs"
    experiment_dir = storage / "tiny"
    run = experiment_dir / RESEED_DIR / "run-1"
    run.mkdir(parents=True)
    (experiment_dir / TUNER_FILE).write_bytes(b"")
    bundle = build_dataset(spec.file.dataset, cache_dir=storage / DATASETS_DIR, in_process=True)
    record_dataset_key(experiment_dir, bundle)
    write_sample(url, seed=4, hours=120)  # the rows change after the reruns trained
    experiment = Experiment(
        path=run,
        name="run-1",
        metric="val_macro_f1",
        mode="max",
        family="lstm",
        searched=(),
        trials=(),
        sweep=spec,
    )
    return experiment, bundle.cache_key


def test_a_reseed_run_reads_its_experiments_dataset_not_the_changed_rows(tmp_path: Path) -> None:
    """`export DIR/reseed/run-1` after the table changed exported the scalers of the new rows beside a
    model trained on the old ones (volume scaler 555 358 for a model fitted at 555), exit 0."""
    experiment, key = _run_folder(tmp_path)
    assert load_dataset(experiment).cache_key == key
    assert not (experiment.path.parent / DATASETS_DIR).exists()  # no cache of its own inside DIR/reseed


def test_a_reseed_run_whose_dataset_is_gone_refuses_a_different_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The experiment's dataset gone from the cache: the rows the database gives now are refused, as for
    the experiment itself (the rebuild in this process: no Ray needed to tell the rows apart)."""
    experiment, key = _run_folder(tmp_path)
    monkeypatch.setattr(seqsweep.data, "build_dataset", functools.partial(build_dataset, in_process=True))
    shutil.rmtree(tmp_path / "runs" / DATASETS_DIR / key)
    with pytest.raises(DataError, match=r"its dataset .* is gone .* a rebuild gives another"):
        load_dataset(experiment)
