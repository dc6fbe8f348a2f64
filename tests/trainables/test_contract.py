"""The trainable contract (`seqsweep.testing`), run against every registered family and the user
examples through the shared loop, one test per rule; and `check_family` as a user runs it.

One module-scoped run per family (5 epochs on an easy generated pattern) feeds most checks, so each
network is trained once; the reload, resume and determinism checks start from its checkpoints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from trainables_helpers import FAMILIES, TINY_CONFIGS

from seqsweep.data.bundle import DatasetBundle, DataShape
from seqsweep.testing import (
    LEARN_ROWS,
    ContractRun,
    check_checkpoints,
    check_determinism,
    check_family,
    check_learns,
    check_reload,
    check_reports,
    check_resume,
    check_val_skill,
    example_config,
    make_bundle,
    run_family,
)
from seqsweep.trainables import ModelFamily, family_names, registry, resolve_family


@pytest.fixture(scope="module")
def learn_bundle() -> DatasetBundle:
    return make_bundle(n_rows=LEARN_ROWS)


@pytest.fixture(scope="module", params=FAMILIES)
def run(
    request: pytest.FixtureRequest, learn_bundle: DatasetBundle, tmp_path_factory: pytest.TempPathFactory
) -> ContractRun:
    family = request.param
    return run_family(family, TINY_CONFIGS[family], bundle=learn_bundle, root=tmp_path_factory.mktemp("run"))


def test_every_registered_family_has_an_example_config() -> None:
    for name in family_names():
        config = example_config(name)
        resolve_family(name).validate_config(config)  # and it is a valid config of the family
        assert set(config) <= set(resolve_family(name).table()), name


class NoExample(ModelFamily):
    """A family registered without an example config (its network is never built)."""

    name = "no_example"
    framework = "torch"

    def network(self, config: dict[str, Any], shape: DataShape) -> Any:
        raise AssertionError("never built")


def test_a_family_registered_without_an_example_config_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.FAMILIES, "no_example", f"{__name__}:NoExample")
    with pytest.raises(AssertionError, match=r"family 'no_example' is registered without an example_config"):
        run_family("no_example")
    assert "no_example" not in TINY_CONFIGS  # enrolled at import time only from the real registry


def test_every_epoch_reports_the_contract(run: ContractRun) -> None:
    check_reports(run)


def test_val_skill_is_the_score_over_persistence_on_the_same_windows(run: ContractRun) -> None:
    check_val_skill(run)


def test_checkpoints_hold_model_and_loop_state(run: ContractRun) -> None:
    check_checkpoints(run)


def test_learns_an_easy_pattern_within_a_few_epochs(run: ContractRun) -> None:
    check_learns(run)


def test_checkpoint_reloads_with_identical_predictions(run: ContractRun) -> None:
    check_reload(run)


def test_resume_continues_at_the_next_epoch_with_optimizer_state(run: ContractRun, tmp_path: Path) -> None:
    check_resume(run, tmp_path)


def test_same_config_and_seed_give_the_same_scores(run: ContractRun, tmp_path: Path) -> None:
    check_determinism(run, tmp_path)


def test_check_family_passes_a_users_torch_model() -> None:
    check_family("tiny_user_models:torch_model", TINY_CONFIGS["tiny_user_models:torch_model"])


def test_check_family_names_the_wrong_output_shape() -> None:
    with pytest.raises(AssertionError, match=r"outputs \(batch, 6\); the dataset needs \(batch, 2, 2, 3\)"):
        check_family("tiny_user_models:wrong_output")


def test_check_family_runs_with_the_libraries_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's `check_family(...)` "returns quietly", yet TensorFlow's absl, oneDNN and CPU-feature
    lines reached stderr: the CLI's quiet environment was not applied outside a command."""
    import os

    import seqsweep.testing.contract as contract

    seen: dict[str, str | None] = {}

    def stop(*args: Any, **kwargs: Any) -> Any:
        seen.update({key: os.environ.get(key) for key in ("TF_CPP_MIN_LOG_LEVEL", "RAY_LOGGER_LEVEL")})
        raise RuntimeError("stop here")

    for key in ("TF_CPP_MIN_LOG_LEVEL", "RAY_LOGGER_LEVEL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(contract, "run_family", stop)
    with pytest.raises(RuntimeError, match="stop here"):
        contract.check_family("gru")
    assert seen == {"TF_CPP_MIN_LOG_LEVEL": "3", "RAY_LOGGER_LEVEL": "error"}
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ  # put back afterwards
