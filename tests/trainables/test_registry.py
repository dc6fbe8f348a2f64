"""Naming a family: built-in names, a user's `module:function`, config checks, and cheap imports."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from trainables_helpers import make_bundle

from seqsweep.errors import ConfigError, UnknownModelError
from seqsweep.trainables import DeviceSettings, family_names, resolve_family


def test_builtin_names_resolve_to_their_families() -> None:
    assert family_names() == ("lstm", "lstm_vae", "gru")
    for name, framework in (("lstm", "keras"), ("lstm_vae", "keras"), ("gru", "torch")):
        family = resolve_family(name)
        assert (family.name, family.framework) == (name, framework)


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownModelError, match=r"unknown model 'lstn': use one of lstm, lstm_vae, gru or"):
        resolve_family("lstn")


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        (
            "no_such_package.models:build",
            "cannot import module 'no_such_package.models' (ModuleNotFoundError: No module named "
            "'no_such_package'); put the folder holding 'no_such_package' on PYTHONPATH (`PYTHONPATH=. "
            "seqsweep ...` from that folder) or pip install it",
        ),
        ("tiny_user_models:missing", "module 'tiny_user_models' has no function 'missing'"),
        (":build", "write a user model as 'package.module:function'"),
        ("tiny_user_models:", "write a user model as 'package.module:function'"),
        (  # the line was the `__str__`'s own error, "x", naming neither the module nor the exception
            "unprintable_import:build",
            "cannot import module 'unprintable_import' (Unprintable: <its str() raised ValueError>)",
        ),
    ],
)
def test_user_model_import_errors_are_one_line(spec: str, fragment: str) -> None:
    with pytest.raises(UnknownModelError) as info:
        resolve_family(spec)
    assert fragment in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("spec", "signature"),
    [
        ("tiny_user_models:config_only", r"\(config\) \(too many positional arguments\)"),
        ("tiny_user_models:keyword_shape", r"\(config, \*, shape\) \(too many positional"),
    ],
)
def test_a_user_model_that_cannot_take_config_and_shape_is_refused_by_name(spec: str, signature: str) -> None:
    """Such a function passed `validate`; `run` built the dataset and every trial failed with a TypeError
    (exit 1 for bad input)."""
    with pytest.raises(
        UnknownModelError,
        match=rf"model '{spec}': the function must take \(config, shape\), its "
        rf"signature is {signature}",
    ):
        resolve_family(spec)
    assert resolve_family("tiny_user_models:with_extras").name == "tiny_user_models:with_extras"


def test_a_training_function_that_cannot_take_config_data_reporter_is_refused_by_name() -> None:
    from seqsweep.trainables.function import import_trainable

    with pytest.raises(
        ConfigError,
        match=r"trainable 'tiny_user_models:keras_model': the function must take "
        r"\(config, data, reporter\), its signature is \(config, shape\)",
    ):
        import_trainable("tiny_user_models:keras_model")
    assert import_trainable("tiny_user_models:never_reports").__name__ == "never_reports"


@pytest.mark.parametrize("status", [0, 4])
def test_a_user_module_that_exits_while_imported_is_one_line(
    status: int, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sys.exit(0)` at a user module's import ended `run` with exit 0, no line and nothing trained."""
    name = f"exiting_module_{status}"
    (tmp_path / f"{name}.py").write_text(f"import sys\nsys.exit({status})\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UnknownModelError, match=rf"cannot import module '{name}' \(SystemExit: {status}\)"):
        resolve_family(f"{name}:build")


def test_user_function_must_return_a_model() -> None:
    family = resolve_family("tiny_user_models:not_a_model")
    with pytest.raises(ConfigError, match=r"returned str; expected a keras\.Model or a torch\.nn\.Module"):
        family.build({}, make_bundle(n_rows=100).shape, DeviceSettings())


def test_user_model_with_the_wrong_output_is_named() -> None:
    shape = make_bundle(n_rows=100, horizon=1).shape
    wrong = resolve_family("tiny_user_models:wrong_output")
    with pytest.raises(ConfigError, match=r"outputs \(batch, 6\); the dataset needs \(batch, 1, 2, 3\)"):
        wrong.build({}, shape, DeviceSettings())


@pytest.mark.parametrize(
    ("name", "config", "message"),
    [
        (
            "lstm",
            {"cel_size": 8},
            "params.cel_size: unknown key (valid keys: batch_size, cell_size, dropout_rate_1, dropout_rate_2, "
            "epochs, patience) (family lstm)",
        ),
        ("lstm", {"dropout_rate_1": 1.0}, "params.dropout_rate_1: must be in [0, 1), got 1.0 (family lstm)"),
        ("lstm", {"cell_size": 1}, "params.cell_size: must be an integer >= 2, got 1 (family lstm)"),
        ("lstm", {"cell_size": 8.5}, "params.cell_size: must be an integer >= 2, got 8.5 (family lstm)"),
        ("lstm_vae", {"kl_weight": -0.1}, "params.kl_weight: must be >= 0, got -0.1 (family lstm_vae)"),
        (
            "lstm_vae",
            {"latent_divisor": 0},
            "params.latent_divisor: must be an integer >= 1, got 0 (family lstm_vae)",
        ),
        (
            "lstm_vae",
            {"cell_size": 8, "latent_divisor": 5},
            "params.latent_divisor: latent size (cell_size // 2) // latent_divisor must be >= 1, got (8 // 2) // 5 "
            "= 0; use latent_divisor <= 4 or a larger cell_size (family lstm_vae)",
        ),
        (
            "gru",
            {"objective": "ranking"},
            "params.objective: must be one of classification, regression, got 'ranking' (family gru)",
        ),
        ("gru", {"dropout": -0.5}, "params.dropout: must be in [0, 1), got -0.5 (family gru)"),
        ("gru", {"epochs": 0}, "params.epochs: must be an integer >= 1, got 0 (family gru)"),
        ("gru", {"patience": 0}, "params.patience: must be an integer >= 1 or null, got 0 (family gru)"),
        ("gru", {"batch_size": True}, "params.batch_size: must be an integer >= 1, got True (family gru)"),
    ],
)
def test_config_errors_name_the_key_and_the_rule(name: str, config: dict[str, Any], message: str) -> None:
    """The table's message, whole, in the sweep file's dialect (the schema appends the corner)."""
    with pytest.raises(ConfigError) as info:
        resolve_family(name).validate_config(config)
    assert str(info.value) == message


def test_tune_values_are_coerced_to_plain_numbers() -> None:
    import numpy as np

    from seqsweep.trainables.lstm import LSTMFamily

    resolved = LSTMFamily().resolve(
        {"cell_size": np.int64(8), "dropout_rate_1": np.float32(0.25), "epochs": 3.0}
    )
    assert type(resolved["cell_size"]) is int and type(resolved["dropout_rate_1"]) is float
    assert resolved["epochs"] == 3 and type(resolved["epochs"]) is int


def test_importing_seqsweep_and_naming_families_imports_no_framework() -> None:
    script = """
import sys
import seqsweep, seqsweep.trainables, seqsweep.trainables.registry
from seqsweep.trainables import resolve_family
for name in ("lstm", "lstm_vae", "gru"):
    resolve_family(name).validate_config({})
print(sorted(m for m in ("tensorflow", "torch", "keras", "ray") if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
