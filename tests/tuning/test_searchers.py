"""Searchers: a scheduler-stopped trial reaches Optuna as PRUNED; the study lives in a real RDB; warm start."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from seqsweep.constants import FINAL_EPOCH, VAL_MACRO_F1
from seqsweep.search_spaces.sweep import parse_sweep
from seqsweep.tuning.searchers import make_sampler, make_scheduler, make_searcher
from seqsweep.tuning.study_owner import RAY_TRIAL_ID_ATTR
from seqsweep.tuning.warm_start import warm_start_points

State = optuna.trial.TrialState


def _spec(tmp_path: Path, cell_sizes: tuple[int, ...] = (8, 16), **search: object) -> object:
    return parse_sweep(
        {
            "name": "s",
            "model": "lstm",
            "params": {
                "cell_size": {"type": "choice", "values": list(cell_sizes)},
                "dropout_rate_1": {"type": "uniform", "low": 0.0, "high": 0.5},
                "epochs": 4,
            },
            "search": {"algorithm": "tpe", "num_samples": 4, "max_concurrent": 2, **search},
            "scheduler": {"type": "asha"},
            "storage_path": str(tmp_path),
        }
    )


def _report(searcher, trial_id: str, values: list[float], final: bool) -> None:
    """Feed results as Tune does when ASHA stops the trial (its cut, or `max_t`): the last result
    goes to `on_trial_complete` only. A trial that is not `final` was cut: the scheduler records that."""
    if not final:
        searcher._stops.add(trial_id)
    results = [
        {VAL_MACRO_F1: value, "training_iteration": step, FINAL_EPOCH: final and step == len(values)}
        for step, value in enumerate(values, start=1)
    ]
    for result in results[:-1]:
        searcher.on_trial_result(trial_id, result)
    searcher.on_trial_complete(trial_id, result=results[-1])


def test_trial_stopped_by_scheduler_is_pruned_with_its_intermediate_values(tmp_path: Path) -> None:
    searcher = make_searcher(_spec(tmp_path), str(tmp_path))
    for trial_id in ("t_full", "t_cut", "t_best_last"):
        config = searcher.suggest(trial_id)
        assert set(config) == {"cell_size", "dropout_rate_1"}
    _report(searcher, "t_full", [0.30, 0.55, 0.45, 0.50], final=True)
    _report(searcher, "t_cut", [0.20], final=False)
    _report(searcher, "t_best_last", [0.30, 0.40, 0.60], final=True)

    study = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path}/optuna.db")
    by_ray_id = {t.user_attrs[RAY_TRIAL_ID_ATTR]: t for t in study.get_trials()}
    assert by_ray_id["t_full"].state == State.COMPLETE
    assert by_ray_id["t_full"].value == pytest.approx(0.55)  # its best epoch, as on the leaderboard
    assert by_ray_id["t_cut"].state == State.PRUNED
    assert by_ray_id["t_cut"].intermediate_values == {1: pytest.approx(0.20)}
    assert by_ray_id["t_best_last"].value == pytest.approx(0.60)
    assert sorted(by_ray_id["t_best_last"].intermediate_values) == [1, 2, 3]


def test_errored_trial_is_failed_not_pruned(tmp_path: Path) -> None:
    searcher = make_searcher(_spec(tmp_path), str(tmp_path))
    searcher.suggest("t_err")
    searcher.on_trial_result("t_err", {VAL_MACRO_F1: 0.1, "training_iteration": 1})
    searcher.on_trial_complete("t_err", result=None, error=True)
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path}/optuna.db")
    assert [t.state for t in study.get_trials()] == [State.FAIL]


def test_tpe_startup_is_at_least_max_concurrent(tmp_path: Path) -> None:
    sampler = make_sampler(_spec(tmp_path, max_concurrent=16, n_startup_trials=3))
    assert isinstance(sampler, optuna.samplers.TPESampler)
    assert sampler._n_startup_trials >= 16
    assert make_sampler(_spec(tmp_path, max_concurrent=2, n_startup_trials=4))._n_startup_trials == 4


def test_seeded_tpe_suggests_the_same_configs_twice(tmp_path: Path) -> None:
    configs = []
    for run in ("a", "b"):
        searcher = make_searcher(_spec(tmp_path / run, seed=3), _mk(tmp_path / run))
        configs.append([searcher.suggest(f"t{i}") for i in range(3)])
    assert configs[0] == configs[1]


def _mk(path: Path) -> str:
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def test_asha_takes_max_t_from_the_epochs(tmp_path: Path) -> None:
    scheduler = make_scheduler(_spec(tmp_path))
    assert scheduler._max_t == 4


def test_warm_start_feeds_finished_trials_of_an_earlier_study(tmp_path: Path) -> None:
    earlier_dir = Path(_mk(tmp_path / "earlier"))
    earlier = make_searcher(_spec(earlier_dir), str(earlier_dir))
    earlier.suggest("a")
    earlier.suggest("b")
    _report(earlier, "a", [0.3, 0.6, 0.6, 0.7], final=True)
    _report(earlier, "b", [0.1], final=False)

    later_dir = Path(_mk(tmp_path / "later"))
    later = make_searcher(_spec(later_dir), str(later_dir))
    assert warm_start_points(later, str(earlier_dir), VAL_MACRO_F1) == 2
    states = sorted(t.state.name for t in later._ot_study.get_trials())
    assert states == ["COMPLETE", "PRUNED"]


def test_warm_start_skips_earlier_trials_whose_choice_the_new_space_lacks(tmp_path: Path) -> None:
    """A `choice` whose values changed (8/16 before, 8/32 now) ended `run` with an unexpected
    `ValueError: '16' not in (8, 32)` after the experiment's files were written; a point outside the new
    space is skipped, as one outside a changed range always was."""
    earlier_dir = Path(_mk(tmp_path / "earlier"))
    earlier = make_searcher(_spec(earlier_dir, seed=1), str(earlier_dir))
    sizes = []
    for trial_id in ("a", "b", "c", "d", "e", "f"):
        sizes.append(earlier.suggest(trial_id)["cell_size"])
        _report(earlier, trial_id, [0.3, 0.5, 0.5, 0.6], final=True)
    assert set(sizes) == {8, 16}  # both values were tried

    later_dir = Path(_mk(tmp_path / "later"))
    later = make_searcher(_spec(later_dir, cell_sizes=(8, 32)), str(later_dir))
    assert warm_start_points(later, str(earlier_dir), VAL_MACRO_F1) == sizes.count(8)
    assert {t.params["cell_size"] for t in later._ot_study.get_trials()} == {8}


def test_resumed_trial_the_study_already_finished_does_not_stop_the_sweep(tmp_path: Path) -> None:
    """Killed after the study recorded a trial's end but before Tune saved that: resume re-reports epochs."""
    searcher = make_searcher(_spec(tmp_path), str(tmp_path))
    searcher.suggest("t")
    searcher.on_trial_result("t", {VAL_MACRO_F1: 0.3, "training_iteration": 1, FINAL_EPOCH: False})
    saved = tmp_path / "searcher.pkl"
    searcher.save(str(saved))  # the last experiment state Tune saved before the kill
    _report(searcher, "t", [0.3, 0.6], final=True)  # the trial ends; then the driver is killed

    resumed = make_searcher(_spec(tmp_path), str(tmp_path))
    resumed.restore(str(saved))
    resumed.on_trial_result("t", {VAL_MACRO_F1: 0.5, "training_iteration": 2, FINAL_EPOCH: True})
    resumed.on_trial_complete("t", result={VAL_MACRO_F1: 0.5, "training_iteration": 2, FINAL_EPOCH: True})

    study = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path}/optuna.db")
    (trial,) = study.get_trials()
    assert trial.state == State.COMPLETE and trial.value == pytest.approx(0.6)


@pytest.mark.parametrize("how", ["moved", "copied"])
def test_a_searcher_restored_in_a_moved_or_copied_experiment_names_it(tmp_path: Path, how: str) -> None:
    """`Tuner.restore(MOVED)` died in sqlite3 ("unable to open database file"); `Tuner.restore(COPY).fit()`
    would have written the copy's trials into the original's Optuna study."""
    import shutil

    from seqsweep.errors import ConfigError

    original = Path(_mk(tmp_path / "original"))
    searcher = make_searcher(_spec(original), str(original))
    searcher.suggest("a")
    _report(searcher, "a", [0.3, 0.5, 0.5, 0.6], final=True)
    searcher.save(str(original / "searcher-state.pkl"))
    again = make_searcher(_spec(original), str(original))
    again.restore(str(original / "searcher-state.pkl"))  # where it was made: fine
    elsewhere = tmp_path / "elsewhere"
    (shutil.move if how == "moved" else shutil.copytree)(str(original), str(elsewhere))
    restored = make_searcher(_spec(elsewhere), str(elsewhere))
    if how == "moved":
        with pytest.raises(ConfigError, match=r"the experiment was moved"):
            restored.restore(str(elsewhere / "searcher-state.pkl"))
        return
    restored.restore(str(elsewhere / "searcher-state.pkl"))  # Tune would swallow a raise here
    with pytest.raises(ConfigError, match=rf"{elsewhere} was copied or moved from {original}"):
        restored.suggest("b")


@pytest.mark.parametrize("storage", ["its own optuna.db", "a study storage beside it"])
def test_a_copy_restored_by_tune_never_writes_to_the_originals_study(tmp_path: Path, storage: str) -> None:
    """`Tuner.restore(COPY).fit()` of an experiment whose study is in `search.storage` (an RDB, or a
    SQLite file outside the folder) went on in the original's study: its restored trials and new ones
    were told to it, and its RUNNING trials failed as orphans. The folder the experiment was made in
    (`seqsweep_experiment.json`) is checked whatever the storage; the study is not touched."""
    import json
    import shutil

    from seqsweep.errors import ConfigError
    from seqsweep.layout import EXPERIMENT_ID_FILE

    search = {"storage": f"sqlite:///{tmp_path}/studies.db"} if storage.startswith("a study") else {}
    original = Path(_mk(tmp_path / "original"))
    (original / EXPERIMENT_ID_FILE).write_text(json.dumps({"id": "e1", "path": str(original)}))
    searcher = make_searcher(_spec(original, **search), str(original))
    searcher.suggest("a")  # RUNNING in the study while the original runs on
    searcher.save(str(original / "searcher-state.pkl"))
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    restored = make_searcher(_spec(copy, **search), str(copy))
    restored.restore(str(copy / "searcher-state.pkl"))
    for call in (
        lambda: restored.suggest("b"),
        lambda: restored.on_trial_result("a", {VAL_MACRO_F1: 0.4, "training_iteration": 1}),
        lambda: restored.on_trial_complete("a", result={VAL_MACRO_F1: 0.4, "training_iteration": 1}),
    ):
        with pytest.raises(ConfigError, match=rf"{copy} was copied or moved from {original}"):
            call()
    url = search.get("storage") or f"sqlite:///{original}/optuna.db"
    study = optuna.load_study(study_name="s", storage=url)
    assert [(t.state, t.intermediate_values) for t in study.get_trials()] == [(State.RUNNING, {})]


def test_the_folder_tune_restores_is_read_from_its_controller(tmp_path: Path) -> None:
    """Tune restores a searcher from its session's staging folder, not the experiment's: the folder
    `Tuner.restore(DIR)` named is the restoring `TuneController`'s storage path."""
    from types import SimpleNamespace

    from ray.tune.execution.tune_controller import TuneController

    from seqsweep.tuning.searchers import restoring_experiment_dir

    controller = TuneController.__new__(TuneController)
    controller._storage = SimpleNamespace(
        storage_filesystem=SimpleNamespace(type_name="local"), experiment_fs_path=str(tmp_path / "copy")
    )

    def resume(self: TuneController) -> Path:
        return restoring_experiment_dir(Path("/staging"))

    assert resume(controller) == tmp_path / "copy"
    assert restoring_experiment_dir(Path("/staging")) == Path("/staging")  # no controller: as given


@pytest.mark.parametrize("resumed", [False, True], ids=["fresh rungs", "earlier reports entered"])
def test_a_resumed_asha_judges_new_reports_against_the_earlier_runs(tmp_path: Path, resumed: bool) -> None:
    """Ray saves no scheduler with the experiment: a resumed sweep's ASHA began with empty rungs, so a
    trial the uninterrupted sweep would have cut at its first milestone trained on (about twice the
    epochs, another ranking). The earlier run's reports are entered before any new one is judged."""
    from types import SimpleNamespace

    from ray.tune.schedulers import TrialScheduler

    scheduler = make_scheduler(_spec(tmp_path))
    assert [milestone for milestone, _ in scheduler._brackets[0]._rungs] == [
        4,
        2,
        1,
    ]  # max_t, then grace 1 × rf 2
    if resumed:
        scheduler.record_earlier({"a": [(1, 0.50), (2, 0.55)], "b": [(1, 0.45)], "c": [(1, 0.40), (2, 0.2)]})
    scheduler.set_search_properties(VAL_MACRO_F1, "max")  # as Tune does once the run starts
    weak = SimpleNamespace(trial_id="d")
    scheduler.on_trial_add(None, weak)
    action = scheduler.on_trial_result(None, weak, {"training_iteration": 1, VAL_MACRO_F1: 0.10})
    assert action == (TrialScheduler.STOP if resumed else TrialScheduler.CONTINUE)
    assert ("d" in scheduler.stops) == resumed
    strong = SimpleNamespace(trial_id="e")
    scheduler.on_trial_add(None, strong)
    assert scheduler.on_trial_result(None, strong, {"training_iteration": 1, VAL_MACRO_F1: 0.9}) == (
        TrialScheduler.CONTINUE
    )


def test_earlier_reports_are_read_from_every_trial_folder(tmp_path: Path) -> None:
    import json

    from seqsweep.tuning.experiment_state import earlier_reports

    rows = {
        "t1": [{"trial_id": "t1", "training_iteration": 1, VAL_MACRO_F1: 0.3}, {"trial_id": "t1"}],
        "t2": [
            {"trial_id": "t2", "training_iteration": 1, VAL_MACRO_F1: 0.2},
            {"trial_id": "t2", "training_iteration": 2, VAL_MACRO_F1: 0.25},
        ],
    }
    for trial_id, trial_rows in rows.items():
        folder = tmp_path / f"train_trial_{trial_id}"
        folder.mkdir()
        (folder / "result.json").write_text("".join(json.dumps(r) + "\n" for r in trial_rows))
    assert earlier_reports(tmp_path, VAL_MACRO_F1) == {"t1": [(1, 0.3)], "t2": [(1, 0.2), (2, 0.25)]}
