"""A warm start from an experiment whose scores are not comparable with this sweep's (another dataset,
model or fixed params), or whose study holds points its own warm start copied from an experiment before
it (a chain), is said in `run`'s warm-start line, never pooled silently."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import optuna

from seqsweep.layout import DATASET_FILE, SWEEP_COPY
from seqsweep.search_spaces.sweep import SweepSpec, load_sweep
from seqsweep.tuning.runner import _write_experiment_id, warm_start_differences, warm_start_note
from seqsweep.tuning.searchers import RAY_TRIAL_ID_ATTR, claim_study, warm_start_tally

SPACE = {"cell_size": {"type": "choice", "values": [4, 8]}, "epochs": 1}


def _experiment(spec: SweepSpec, dataset_key: str) -> tuple[Path, str]:
    """What `run` leaves: the directory, its identity, sweep copy, dataset key and study (optuna.db)."""
    experiment = Path(spec.file.storage_path) / spec.name
    experiment.mkdir(parents=True)
    experiment_id = uuid.uuid4().hex
    _write_experiment_id(experiment, experiment_id)
    (experiment / SWEEP_COPY).write_text(spec.to_yaml())
    (experiment / DATASET_FILE).write_text(json.dumps({"key": dataset_key}))
    url = f"sqlite:///{(experiment / 'optuna.db').resolve()}"
    claim_study(url, spec, experiment_id, experiment)
    return experiment, url


def test_another_dataset_and_fixed_params_are_named(write_sweep: Callable[..., Path]) -> None:
    earlier, _ = _experiment(load_sweep(write_sweep(name="earlier", params=SPACE)), "key_a")
    later = load_sweep(write_sweep(name="later", params={**SPACE, "epochs": 2}, warm_start=str(earlier)))

    differences = warm_start_differences(later, str(earlier), "key_b")
    assert differences == [
        "another dataset (key_a, this sweep's key_b)",
        "other fixed params (epochs 1 -> 2)",
    ]
    note = warm_start_note(2, str(earlier), differences)
    assert "another dataset" in note and "not comparable" in note


def test_the_same_sweep_on_the_same_dataset_is_a_plain_warm_start(write_sweep: Callable[..., Path]) -> None:
    earlier, _ = _experiment(load_sweep(write_sweep(name="earlier", params=SPACE)), "key_a")
    later = load_sweep(write_sweep(name="later", params=SPACE, warm_start=str(earlier)))

    assert warm_start_differences(later, str(earlier), "key_a") == []
    assert warm_start_note(2, str(earlier), []) == f"warm start: 2 finished trials from {earlier}"


def test_points_a_chained_warm_start_passes_on_are_counted(write_sweep: Callable[..., Path]) -> None:
    earlier, url = _experiment(load_sweep(write_sweep(name="earlier", params=SPACE)), "key_a")
    study = optuna.load_study(study_name="earlier", storage=url)
    dist = {"cell_size": optuna.distributions.CategoricalDistribution([4, 8])}
    own = {RAY_TRIAL_ID_ATTR: "abcde_00000"}
    for value, attrs in [(0.2, {}), (0.3, {}), (0.4, own)]:  # two copied in by its own warm start
        study.add_trial(
            optuna.trial.create_trial(
                params={"cell_size": 4}, distributions=dist, value=value, user_attrs=attrs
            )
        )

    assert warm_start_tally(str(earlier)) == (3, 2)
    assert "2 of them its own warm start's points" in warm_start_note(
        3, str(earlier), [], finished=3, copies=2
    )


def test_trials_outside_the_space_are_said_left_out(write_sweep: Callable[..., Path]) -> None:
    note = warm_start_note(0, "runs/earlier", [], finished=4)
    assert note == (
        "warm start: 0 finished trials from runs/earlier; 4 of its finished trials lie outside this sweep's "
        "space and were left out"
    )
