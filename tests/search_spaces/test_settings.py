"""Each settings section checks itself when built (from a file or from Python), in the sweep file's
dialect; the algorithm and scheduler names are the keys of their registries; the family, not the
schema, owns its keys (a user model's `dropout_mode: spatial` is valid); `check_family=False` parses
without importing any model code."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import optuna
import pytest

from seqsweep.errors import ConfigError
from seqsweep.search_spaces.settings import (
    CheckpointSettings,
    FailureSettings,
    ResourceSettings,
    SchedulerSettings,
    SearchSettings,
)
from seqsweep.search_spaces.sweep import SweepFile, parse_sweep, with_corner
from seqsweep.tuning.registry import SAMPLERS, SCHEDULERS

USER_MODEL = "spatial_user_model:build"
"""tests/search_spaces/spatial_user_model.py (this folder is on sys.path under pytest)."""


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (SearchSettings, {"mode": "up"}, "search.mode: must be `min` or `max`, got 'up'"),
        (SearchSettings, {"num_samples": 0}, "search.num_samples: must be >= 1, got 0"),
        (SearchSettings, {"max_concurrent": 0}, "search.max_concurrent: must be >= 1, got 0"),
        (
            SearchSettings,
            {"time_budget_s": 0},
            "search.time_budget_s: must be a number of seconds > 0, got 0",
        ),
        (SearchSettings, {"stop_at": {}}, "search.stop_at: write metric: target"),
        (SearchSettings, {"stop_at": {"val_f1": 0.5}}, "search.stop_at: unknown metric 'val_f1'"),
        (
            SearchSettings,
            {"stop_at": {"val_macro_f1": float("nan")}},
            "search.stop_at.val_macro_f1: the target must be a finite number, got nan",
        ),
        (  # YAML 1.1 reads 6e-1 as text: the line says how to write the number
            SearchSettings,
            {"stop_at": {"val_macro_f1": "6e-1"}},
            "search.stop_at.val_macro_f1: the target must be a finite number, got '6e-1' (YAML reads 6e-1 as "
            "text: a number with an exponent needs a decimal point and a signed exponent; write 6.0e-1 or 0.6)",
        ),
        (
            SchedulerSettings,
            {"type": "asha", "reduction_factor": 1},
            "scheduler: grace_period >= 1 and reduction_factor >= 2 must hold, got grace_period=1, "
            "reduction_factor=1",
        ),
        (ResourceSettings, {"cpu": 0}, "resources: cpu > 0, gpu >= 0 and workers >= 1 must hold"),
        (ResourceSettings, {"workers": 0}, "resources: cpu > 0, gpu >= 0 and workers >= 1 must hold"),
        (ResourceSettings, {"cpu": float("nan")}, "resources: cpu > 0, gpu >= 0 and workers >= 1 must hold"),
        (ResourceSettings, {"gpu": float("inf")}, "resources: cpu > 0, gpu >= 0 and workers >= 1 must hold"),
        (
            ResourceSettings,
            {"gpu": 1.5},
            "resources.gpu: a fraction must be at most 1 (or a whole number), got 1.5",
        ),
        (FailureSettings, {"max_retries": -1}, "failure.max_retries: must be >= 0, got -1"),
        (CheckpointSettings, {"keep": 0}, "checkpoints.keep: must be >= 1, got 0"),
        (SweepFile, {"name": "two words"}, "sweep.name: must be a non-empty name without blanks, control"),
        (
            SweepFile,
            {"name": "a\x00b"},
            "sweep.name: must be a non-empty name without blanks, control characters or slashes, got 'a\\x00b'",
        ),  # "embedded null byte", exit 3
        (
            SweepFile,
            {"name": "a\nb"},
            "sweep.name: must be a non-empty name without blanks, control characters or slashes, got 'a\\nb'",
        ),  # the valid line split in two
        (SweepFile, {"name": ".."}, "sweep.name: '..' cannot name an experiment folder of the storage path"),
        (SweepFile, {"name": "."}, "sweep.name: '.' cannot name an experiment folder"),
        (SweepFile, {"name": "datasets"}, "sweep.name: 'datasets' cannot name an experiment folder"),
        (SearchSettings, {"seed": -1}, "search.seed: must be a whole number from 0 to 4294967295, got -1"),
        (SearchSettings, {"seed": 2**40}, "search.seed: must be a whole number from 0 to 4294967295"),
    ],
)
def test_an_invalid_section_cannot_be_built_from_python(
    cls: type, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        cls(**kwargs)
    assert str(caught.value).startswith(message), str(caught.value)


@pytest.mark.parametrize(
    "cls", [SearchSettings, SchedulerSettings, ResourceSettings, FailureSettings, CheckpointSettings]
)
def test_every_section_builds_with_its_defaults(cls: type) -> None:
    assert cls() == cls()


def test_whole_gpus_and_fractions_are_valid() -> None:
    assert ResourceSettings(gpu=2).gpu == 2
    assert ResourceSettings(gpu=0.5, workers=2).workers == 2


@pytest.mark.parametrize(
    ("build", "key", "registry"),
    [
        (lambda: SearchSettings(algorithm="bayes"), "search.algorithm", SAMPLERS),
        (lambda: SchedulerSettings(type="hyperband"), "scheduler.type", SCHEDULERS),
    ],
)
def test_an_unknown_name_lists_its_registrys_keys(build: Any, key: str, registry: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        build()
    assert str(caught.value).startswith(f"{key}: must be one of {', '.join(registry)}, got "), str(
        caught.value
    )
    assert set(registry) <= set(str(caught.value).replace(",", " ").split())


def test_the_registries_hold_todays_names() -> None:
    assert list(SAMPLERS) == ["tpe", "random", "grid"]
    assert list(SCHEDULERS) == ["asha", "none"]


def _sweep(**changes: Any) -> dict[str, Any]:
    return {
        "name": "s",
        "model": "lstm",
        "params": {"cell_size": {"type": "choice", "values": [8, 16]}, "epochs": 2},
        **changes,
    }


@pytest.mark.parametrize(
    ("algorithm", "sampler"),
    [
        ("tpe", optuna.samplers.TPESampler),
        ("random", optuna.samplers.RandomSampler),
        ("grid", optuna.samplers.GridSampler),
    ],
)
def test_each_algorithm_builds_its_sampler(algorithm: str, sampler: type) -> None:
    spec = parse_sweep(_sweep(search={"algorithm": algorithm}), check_family=False)
    assert isinstance(SAMPLERS[algorithm](spec), sampler)


def test_a_user_models_own_dropout_key_is_the_users() -> None:
    """Regression: the schema refused any `dropout*` value outside [0, 1), so a word was refused."""
    spec = parse_sweep(
        {
            "name": "spatial",
            "model": USER_MODEL,
            "params": {"dropout_mode": {"type": "choice", "values": ["spatial", "standard"]}, "epochs": 1},
        }
    )
    assert spec.searched["dropout_mode"].corners() == ["spatial", "standard"]


def test_a_user_model_still_gets_the_loops_epochs_rule() -> None:
    params = {"dropout_mode": {"type": "choice", "values": ["spatial", "standard"]}, "epochs": 0}
    raw = {"name": "spatial", "model": USER_MODEL, "params": params}
    with pytest.raises(ConfigError, match="epochs"):
        parse_sweep(raw)


def test_a_family_error_names_the_corner_it_failed_at() -> None:
    """The family names the key it refuses; the message adds the corner's other searched values."""
    raw = _sweep(
        params={
            "cell_size": {"type": "choice", "values": [8, 1]},
            "dropout_rate_1": {"type": "uniform", "low": 0.0, "high": 0.3},
        }
    )
    with pytest.raises(ConfigError) as caught:
        parse_sweep(raw)
    message = str(caught.value)
    assert "cell_size" in message, message
    assert message.endswith(" (family lstm, corner dropout_rate_1=0.0)"), message
    assert "cell_size=" not in message, message


def test_with_corner_adds_only_what_the_message_does_not_name() -> None:
    assert with_corner("params.cell_size: too small, got 8", {"cell_size": 8, "rate": 0.5}) == (
        "params.cell_size: too small, got 8 (corner rate=0.5)"
    )
    assert with_corner("`cell_size` too small", {"cell_size": 8}) == "`cell_size` too small"
    assert with_corner("bad", {}) == "bad"
    assert with_corner("params.x: bad (family lstm)", {"y": 1}) == "params.x: bad (family lstm, corner y=1)"


def test_parse_sweep_without_the_family_imports_no_model_code() -> None:
    """What `read_sweep_copy` relies on: results read a stored sweep without Keras, torch or Ray."""
    raw = _sweep(model="lstm", scheduler={"type": "asha"})
    code = (
        "import json, sys\n"
        "from seqsweep.search_spaces.sweep import parse_sweep\n"
        f"spec = parse_sweep(json.loads({json.dumps(json.dumps(raw))}), check_family=False)\n"
        "unknown = parse_sweep({**spec.to_dict(), 'model': 'no_such_family'}, check_family=False)\n"
        "loaded = [m for m in ('keras', 'tensorflow', 'torch', 'ray', 'seqsweep.trainables') if m in sys.modules]\n"
        "print(json.dumps([spec.name, unknown.model_name, loaded]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == ["s", "no_such_family", []]


def test_parse_sweep_without_the_family_still_checks_the_sections() -> None:
    with pytest.raises(ConfigError, match=r"^search\.num_samples: must be >= 1, got 0$"):
        parse_sweep(_sweep(search={"num_samples": 0}), check_family=False)
    with pytest.raises(ConfigError, match=r"^scheduler\.grace_period: must be at most"):
        parse_sweep(_sweep(scheduler={"type": "asha", "grace_period": 3}), check_family=False)
