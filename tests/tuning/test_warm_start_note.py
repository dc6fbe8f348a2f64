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
from seqsweep.tuning.runner import _write_experiment_id
from seqsweep.tuning.study_owner import RAY_TRIAL_ID_ATTR, claim_study
from seqsweep.tuning.sweep_changes import warm_start_differences, warm_start_note
from seqsweep.tuning.warm_start import warm_start_tally

SPACE = {"cell_size": {"type": "choice", "values": [4, 8]}, "epochs": 1}


def _experiment(spec: SweepSpec, dataset_key: str | None) -> tuple[Path, str]:
    """What `run` leaves: the directory, its identity, sweep copy, dataset key (unless None: an experiment
    made before keys were recorded) and study (optuna.db)."""
    experiment = Path(spec.file.storage_path) / spec.name
    experiment.mkdir(parents=True)
    experiment_id = uuid.uuid4().hex
    _write_experiment_id(experiment, experiment_id)
    (experiment / SWEEP_COPY).write_text(spec.to_yaml())
    if dataset_key is not None:
        (experiment / DATASET_FILE).write_text(json.dumps({"key": dataset_key}))
    url = f"sqlite:///{(experiment / 'optuna.db').resolve()}"
    claim_study(url, spec, experiment_id, experiment)
    return experiment, url


def test_another_dataset_and_fixed_params_are_named(write_sweep: Callable[..., Path]) -> None:
    earlier, _ = _experiment(load_sweep(write_sweep(name="earlier", params=SPACE)), "key_a")
    later = load_sweep(write_sweep(name="later", params={**SPACE, "epochs": 2}, warm_start=str(earlier)))

    differences = warm_start_differences(later, str(earlier), "key_b")
    assert len(differences) == 2 and differences[1] == "other fixed params (epochs 1 -> 2)"
    # the same dataset settings under another key: why the key differs, not two hashes alone
    assert differences[0].startswith(
        "another dataset (the same dataset settings, but the database no longer gives the rows"
    )
    assert differences[0].endswith("; dataset key_a, this sweep's key_b)")
    note = warm_start_note(2, str(earlier), differences)
    assert "another dataset" in note and "not comparable" in note


def test_another_dataset_names_the_settings_that_differ_with_their_values(
    write_sweep: Callable[..., Path],
) -> None:
    """A warm start from an experiment on another lookback and symbols said only "another dataset
    (<hash>, this sweep's <hash>)"; it names the settings, as the sweep file writes them."""
    earlier, _ = _experiment(load_sweep(write_sweep(name="earlier", params=SPACE)), "key_a")
    stored = load_sweep(earlier / SWEEP_COPY).file.dataset
    later = load_sweep(
        write_sweep(
            name="later",
            params=SPACE,
            warm_start=str(earlier),
            dataset={"lookback": stored.lookback + 4, "symbols": list(reversed(stored.symbols))},
        )
    )

    differences = warm_start_differences(later, str(earlier), "key_b")
    assert differences == [
        f"another dataset (dataset.lookback {stored.lookback} -> {stored.lookback + 4}, dataset.symbols "
        f"{list(stored.symbols)!r} -> {list(reversed(stored.symbols))!r})"
    ]


def test_another_dataset_is_named_for_an_experiment_that_recorded_no_dataset_key(
    write_sweep: Callable[..., Path],
) -> None:
    """An earlier experiment without a recorded dataset key (made before keys were recorded, its record
    deleted) was not compared at all: its other horizon seeded this sweep without a word."""
    earlier, _ = _experiment(load_sweep(write_sweep(name="earlier", params=SPACE)), None)
    horizon = load_sweep(earlier / SWEEP_COPY).file.dataset.horizon
    later = load_sweep(
        write_sweep(name="later", params=SPACE, warm_start=str(earlier), dataset={"horizon": horizon + 1})
    )

    assert warm_start_differences(later, str(earlier), "key_b") == [
        f"another dataset (dataset.horizon {horizon} -> {horizon + 1})"
    ]
    # the same settings, no key to compare: nothing is claimed
    same = load_sweep(write_sweep(name="same", params=SPACE, warm_start=str(earlier)))
    assert warm_start_differences(same, str(earlier), "key_b") == []


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
