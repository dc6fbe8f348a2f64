"""Several model families in one sweep: parsing, per-family validation, the conditional searcher, and
one small sweep on a real local Ray through results and export."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from seqsweep.errors import ConfigError
from seqsweep.search_spaces.mixed import MODEL_KEY, FamilySpace, trial_config
from seqsweep.search_spaces.sweep import SweepSpec, load_sweep, load_sweep_text, parse_sweep
from seqsweep.testing.sweeps import tiny_dataset
from seqsweep.trainables.base import TrialSettings

LSTM_KEYS = {"cell_size", "dropout_rate_1"}
GRU_KEYS = {"hidden_size", "learning_rate"}


def mixed_dict(**changes: Any) -> dict[str, Any]:
    """A small valid lstm + gru sweep (no data is read by parsing)."""
    sweep: dict[str, Any] = {
        "name": "mix",
        "model": {"type": "choice", "values": ["lstm", "gru"]},
        "params": {
            "common": {"epochs": 2, "batch_size": {"type": "choice", "values": [32, 64]}},
            "lstm": {
                "cell_size": {"type": "choice", "values": [4, 8]},
                "dropout_rate_1": {"type": "uniform", "low": 0.0, "high": 0.3},
            },
            "gru": {
                "hidden_size": {"type": "int", "low": 4, "high": 16},
                "learning_rate": {"type": "loguniform", "low": 1.0e-4, "high": 1.0e-2},
                "num_layers": 1,
            },
        },
        "search": {"algorithm": "tpe", "num_samples": 4, "max_concurrent": 1, "seed": 0},
    }
    sweep.update(changes)
    return sweep


def test_a_mixed_sweep_parses_into_a_namespaced_space_and_round_trips() -> None:
    spec = parse_sweep(mixed_dict())
    assert spec.families == ("lstm", "gru")
    assert spec.model_name == "lstm | gru"
    assert set(spec.searched) == {
        "batch_size",
        "lstm/cell_size",
        "lstm/dropout_rate_1",
        "gru/hidden_size",
        "gru/learning_rate",
    }
    assert spec.fixed == {"epochs": 2, "gru/num_layers": 1}
    assert set(spec.family_space("gru")) == {
        "epochs",
        "batch_size",
        "hidden_size",
        "learning_rate",
        "num_layers",
    }
    assert spec.max_epochs == 2
    again = load_sweep_text(spec.to_yaml(), where="copy")
    assert again.space == spec.space and again.families == spec.families
    assert spec.to_dict()["params"]["lstm"]["cell_size"] == {"type": "choice", "values": [4, 8]}


def test_the_builtin_mixed_sweep_is_lstm_and_gru() -> None:
    spec = load_sweep("mixed")
    assert spec.families == ("lstm", "gru")
    assert spec.num_samples >= 2


@pytest.mark.parametrize(
    ("block", "key", "value", "fragment"),
    [
        # the family's own rules, at a corner of its space, under the family's block in the file
        ("lstm", "dropout_rate_1", {"type": "uniform", "low": 0.0, "high": 1.2}, "dropout_rate_1"),
        ("gru", "epochs", 0, "epochs"),
        ("gru", "num_layers", 0, "num_layers"),
        ("lstm", "cell_size", {"type": "choice", "values": [8, 0]}, "cell_size"),
        # a key of another family is unknown to this one
        ("lstm", "hidden_size", 8, "unknown key"),
    ],
)
def test_each_family_is_validated_by_its_own_rules(block: str, key: str, value: Any, fragment: str) -> None:
    raw = mixed_dict()
    raw["params"][block][key] = value
    with pytest.raises(ConfigError) as caught:
        parse_sweep(raw)
    message = str(caught.value)
    assert message.startswith(f"params.{block}"), message
    assert key in message and fragment in message, message


def test_a_common_key_is_validated_for_every_family() -> None:
    raw = mixed_dict()
    raw["params"]["common"]["cell_size"] = 8  # an lstm key: the gru family refuses it
    with pytest.raises(ConfigError) as caught:
        parse_sweep(raw)
    message = str(caught.value)
    assert message.startswith("params.gru") and "cell_size" in message and "unknown key" in message, message


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"params": {"lstm": {}, "transformer": {"depth": 2}}},
            r"^params\.transformer: not a family of this sweep",
        ),
        ({"model": {"type": "choice", "values": ["lstm"]}}, r"^model: several families are written"),
        ({"model": {"type": "uniform", "values": ["lstm", "gru"]}}, r"^model: several families are written"),
        ({"model": {"type": "choice", "values": ["lstm", "lstm"]}}, r"^model: several families are written"),
        (
            {"model": {"type": "choice", "values": ["lstm", "nope"]}, "params": {"lstm": {}, "nope": {}}},
            r"unknown model 'nope'",
        ),
        (
            {"params": {"common": {"lstm": 3}, "lstm": {}, "gru": {}}},
            r"^params\.common\.lstm: a common parameter",
        ),
        ({"params": {"lstm": [1, 2], "gru": {}}}, r"^params\.lstm: expected a mapping"),
        ({"warm_start": "/tmp/earlier"}, r"^warm_start: not supported for a mixed-family sweep"),
    ],
)
def test_malformed_mixed_sweeps_are_refused_in_one_line(changes: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as caught:
        parse_sweep(mixed_dict(**changes))
    assert "\n" not in str(caught.value)


def test_grid_over_several_families_is_refused() -> None:
    raw = mixed_dict()
    raw["params"]["gru"] = {"hidden_size": {"type": "choice", "values": [4, 8]}}
    raw["params"]["lstm"] = {"cell_size": {"type": "choice", "values": [4, 8]}}
    raw["params"]["common"] = {"epochs": 1}
    raw["search"] = {"algorithm": "grid"}
    with pytest.raises(ConfigError, match=r"^search\.algorithm: grid is not supported over several families"):
        parse_sweep(raw)


def _keys(config: dict[str, Any]) -> set[str]:
    """A trial config's keys with family blocks as `family/key`."""
    keys = set()
    for key, value in config.items():
        if isinstance(value, dict):
            keys |= {f"{key}/{k}" for k in value}
        else:
            keys.add(key)
    return keys


@pytest.mark.parametrize("algorithm", ["tpe", "random"])
def test_the_searcher_never_mixes_families(tmp_path: Path, algorithm: str) -> None:
    """Through Ray's OptunaSearch (our subclass) with its define-by-run space, the way Tune asks it."""
    from seqsweep.tuning.searchers import make_searcher

    raw = mixed_dict(search={"algorithm": algorithm, "num_samples": 60, "max_concurrent": 2, "seed": 5})
    raw["search"]["n_startup_trials"] = 4  # so TPE proper (grouped, multivariate) runs for most trials
    spec = parse_sweep(raw)
    searcher = make_searcher(spec, str(tmp_path))
    assert isinstance(searcher._space, FamilySpace)
    seen: dict[str, int] = {"lstm": 0, "gru": 0}
    for i in range(60):
        trial_id = f"t{i}"
        config = searcher.suggest(trial_id)
        assert config is not None
        family = config[MODEL_KEY]
        seen[family] += 1
        own = LSTM_KEYS if family == "lstm" else GRU_KEYS
        assert _keys(config) == {MODEL_KEY, "batch_size"} | {f"{family}/{k}" for k in own}, config
        # the trainable's view: the common keys plus the chosen block, nothing of the other family
        settings, flat = TrialSettings(
            model=spec.model_name, fixed=spec.fixed, families=spec.families
        ).for_trial(config)
        assert settings.model == family and not settings.families
        assert set(flat) == {"batch_size"} | own
        assert settings.fixed == ({"epochs": 2, "num_layers": 1} if family == "gru" else {"epochs": 2})
        score = (0.5 if family == "gru" else 0.3) + 0.001 * i
        searcher.on_trial_result(trial_id, {"val_macro_f1": score, "training_iteration": 1})
        searcher.on_trial_complete(trial_id, {"val_macro_f1": score, "training_iteration": 1})
    assert min(seen.values()) > 0, seen
    if algorithm == "tpe":  # TPE learns gru scores better, and samples it more once past the start
        assert seen["gru"] > seen["lstm"], seen


def test_the_searcher_survives_a_pickle_round_trip(tmp_path: Path) -> None:
    """`resume` restores the searcher from its pickle: the define-by-run space must survive it."""
    from seqsweep.tuning.searchers import make_searcher

    spec = parse_sweep(mixed_dict())
    searcher = make_searcher(spec, str(tmp_path))
    assert searcher.suggest("a") is not None
    searcher.save(str(tmp_path / "searcher.pkl"))
    restored = make_searcher(spec, str(tmp_path))
    restored.restore(str(tmp_path / "searcher.pkl"))
    config = restored.suggest("b")
    assert config is not None and config[MODEL_KEY] in spec.families


def test_trial_config_flattens_the_chosen_block_and_refuses_a_stranger() -> None:
    families = ("lstm", "gru")
    family, flat, fixed = trial_config(
        {"model": "gru", "gru": {"hidden_size": 8}, "batch_size": 32, "lstm": {"cell_size": 4}},
        {"epochs": 2, "gru/num_layers": 2, "lstm/dropout_rate_2": 0.1},
        families,
    )
    assert (family, flat, fixed) == (
        "gru",
        {"hidden_size": 8, "batch_size": 32},
        {"epochs": 2, "num_layers": 2},
    )
    # flat names (as Optuna stores them) work the same
    assert trial_config({"model": "lstm", "lstm/cell_size": 4}, {}, families)[1] == {"cell_size": 4}
    with pytest.raises(ValueError, match="not one of lstm, gru"):
        trial_config({"model": "lstm_vae"}, {}, families)


def test_a_single_family_sweep_is_untouched() -> None:
    spec = load_sweep("demo")
    assert spec.families == () and spec.model_name == "lstm"
    settings = TrialSettings(model="lstm", fixed={"epochs": 1})
    assert settings.for_trial({"cell_size": 8}) == (settings, {"cell_size": 8})


# --- one small sweep on a real local Ray -------------------------------------------------------------


def _e2e_sweep(db_url: str, storage: Path) -> dict[str, Any]:
    return mixed_dict(
        name="mix_e2e",
        dataset=tiny_dataset(db_url),
        params={
            "common": {"epochs": 1, "batch_size": 64},
            "lstm": {"cell_size": {"type": "choice", "values": [4, 8]}},
            "gru": {"hidden_size": {"type": "int", "low": 4, "high": 8}},
        },
        # random (TPE's start is random too); seed 0 draws both families in its 2 trials (asserted below):
        # one wave of 2 at a time, one trial a family
        search={"algorithm": "random", "num_samples": 2, "max_concurrent": 2, "seed": 0},
        scheduler={"type": "none"},
        resources={"cpu": 1},
        failure={"max_retries": 0},
        storage_path=str(storage),
    )


def test_the_e2e_seed_draws_both_families(tmp_path: Path) -> None:
    """The fast half of the check below: the seeded draw of the end-to-end sweep holds both families."""
    from seqsweep.tuning.searchers import make_searcher

    spec = parse_sweep(_e2e_sweep("sqlite:///unused.db", tmp_path))
    searcher = make_searcher(spec, str(tmp_path))
    drawn = {searcher.suggest(f"t{i}")[MODEL_KEY] for i in range(2)}  # type: ignore[index]
    assert drawn == {"lstm", "gru"}


@pytest.mark.slow
def test_a_mixed_sweep_runs_ranks_reports_and_exports(
    ray_cluster: object, sample_db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from seqsweep.cli import main
    from seqsweep.results.experiment import read_experiment
    from seqsweep.results.leaderboard import family_rows, leaderboard_rows

    path = tmp_path / "mix.yaml"
    path.write_text(yaml.safe_dump(_e2e_sweep(sample_db_url, tmp_path / "runs"), sort_keys=False))
    assert main(["run", str(path)]) == 0
    experiment_dir = tmp_path / "runs" / "mix_e2e"

    experiment = read_experiment(experiment_dir)
    assert len(experiment.trials) == 2 and all(t.status == "ok" for t in experiment.trials)
    assert {t.family for t in experiment.trials} == {"lstm", "gru"}
    for trial in experiment.trials:  # each trial's config holds its own family's block only
        other = "gru" if trial.family == "lstm" else "lstm"
        assert trial.config[MODEL_KEY] == trial.family and other not in trial.config
        assert set(trial.params) == {
            f"{trial.family}/" + ("cell_size" if trial.family == "lstm" else "hidden_size")
        }
    rows = leaderboard_rows(experiment)
    assert {"family", "lstm/cell_size", "gru/hidden_size"} <= set(rows[0])
    for row in rows:  # the other family's column is blank
        assert row["gru/hidden_size" if row["family"] == "lstm" else "lstm/cell_size"] is None
    best = family_rows(experiment)
    assert [r["family"] for r in best] == ["lstm", "gru"] and all(r["best_trial"] for r in best)

    capsys.readouterr()
    report = tmp_path / "report"
    assert main(["results", str(experiment_dir), "--top", "2", "--out", str(report)]) == 0
    out = capsys.readouterr().out
    assert "best of each family (validation)" in out
    assert (report / "f1_vs_lstm_cell_size.png").is_file() and (
        report / "f1_vs_gru_hidden_size.png"
    ).is_file()
    assert "Best of each family" in (report / "index.html").read_text()

    winner = experiment.ranked()[0]
    loser = next(t for t in experiment.ranked() if t.family != winner.family)
    for trial in (winner, loser):  # export works whichever family wins
        out_dir = tmp_path / f"bundle_{trial.family}"
        args = ["export", str(experiment_dir), "--out", str(out_dir)]
        if trial is loser:
            args += ["--trial", trial.trial_id]
        assert main(args) == 0
        manifest = json.loads((out_dir / "bundle.json").read_text())
        assert manifest["family"] == trial.family
        assert manifest["framework"] == ("keras" if trial.family == "lstm" else "torch")
        assert set(manifest["searched"]) == set(trial.params)
        card = (out_dir / "README.md").read_text()
        metrics = json.loads((out_dir / "metrics.json").read_text())
        if trial is loser:  # its card never calls it the winner (it did, "(winner)" in the test table)
            rank = [t.trial_id for t in experiment.ranked()].index(trial.trial_id) + 1
            assert manifest["chosen"] == "--trial (not the winner)"
            assert f"chosen with `--trial`, ranked {rank} of {len(experiment.ranked())}" in card
            assert f"the winner is {winner.trial_id}" in card and "(winner)" not in card
            assert metrics["test"]["model"]["kind"] == "chosen trial"
        else:
            assert manifest["chosen"] == "winner" and "(winner)" in card


def test_family_rows_are_empty_for_a_single_family_sweep() -> None:
    """`family_rows` is empty for a one-family experiment (no families section in the report)."""
    from seqsweep.results.experiment import Experiment
    from seqsweep.results.leaderboard import family_rows

    spec: SweepSpec = load_sweep("demo")
    experiment = Experiment(
        path=Path("/x"),
        name="demo",
        metric="val_macro_f1",
        mode="max",
        family="lstm",
        searched=(),
        trials=(),
        sweep=copy.deepcopy(spec),
    )
    assert family_rows(experiment) == []
