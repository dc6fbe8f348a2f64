"""The trainable contract (`seqsweep.testing`), run against every registered family and the user
examples through the shared loop, one test per rule; and `check_family` as a user runs it.

One module-scoped run per family (5 epochs on an easy generated pattern) feeds most checks, so each
network is trained once; the reload, resume and determinism checks start from its checkpoints.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from trainables_helpers import FAMILIES, TINY_CONFIGS

from seqsweep.data.bundle import DatasetBundle
from seqsweep.testing import (
    EXAMPLE_CONFIGS,
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
    make_bundle,
    run_family,
)
from seqsweep.trainables import family_names


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
    missing = set(family_names()) - set(EXAMPLE_CONFIGS)
    assert not missing, f"add an example config to seqsweep.testing.EXAMPLE_CONFIGS for {sorted(missing)}"


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
