"""The sweep file: parsing, the JSON/YAML round trip, built-in files, and one-line errors for bad files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml

from seqsweep import cli
from seqsweep.errors import ConfigError
from seqsweep.search_spaces.params import (
    INTERIOR,
    Choice,
    Fixed,
    IntRange,
    LogUniform,
    QUniform,
    Uniform,
    parse_param,
)
from seqsweep.search_spaces.sweep import BUILTIN_DIR, corner_configs, load_sweep, parse_sweep

INVALID = sorted((Path(__file__).parent / "invalid_sweeps").glob("*.yaml"))


def _expected_error(path: Path) -> str:
    first = path.read_bytes().splitlines()[0].decode()  # not_utf8.yaml is UTF-8 up to its first line's end
    assert first.startswith("# error: "), f"{path.name} must start with '# error: <fragment>'"
    return first.removeprefix("# error: ")


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_sweep_file_gives_one_line_error(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["validate", str(path), "--no-data"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert _expected_error(path) in err


def test_a_directory_given_as_the_sweep_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["validate", str(tmp_path), "--no-data"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and "is a directory; name a sweep file" in err


def test_cli_error_has_no_traceback(tmp_path: Path) -> None:
    path = Path(__file__).parent / "invalid_sweeps" / "num_samples_zero.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "seqsweep.cli", "validate", str(path), "--no-data"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("seqsweep: error: search.num_samples")


@pytest.mark.parametrize("path", sorted(BUILTIN_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_builtin_sweeps_are_valid(path: Path) -> None:
    spec = load_sweep(path)
    assert spec.name == path.stem
    assert spec.num_samples >= 1


def test_notebook_grid_has_the_twelve_points_its_author_proposed() -> None:
    spec = load_sweep("lstm_vae_grid")
    assert spec.num_samples == 12
    assert spec.searched["latent_divisor"] == Choice((6, 3, 2))
    assert spec.searched["kl_weight"] == Choice((0.01, 0.05, 0.1, 0.2))
    assert spec.fixed["cell_size"] == 124


def test_round_trip_through_yaml_and_json(tmp_path: Path) -> None:
    spec = load_sweep("gru_ow")
    again = parse_sweep(yaml.safe_load(spec.to_yaml()))
    assert again == spec
    assert parse_sweep(json.loads(json.dumps(spec.to_dict()))) == spec


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (16, Fixed(16)),
        ({"type": "choice", "values": [1, 2]}, Choice((1, 2))),
        ({"type": "int", "low": 8, "high": 64, "log": True}, IntRange(8, 64, log=True)),
        ({"type": "uniform", "low": 0.0, "high": 0.5}, Uniform(0.0, 0.5)),
        ({"type": "loguniform", "low": 1e-4, "high": 1e-2}, LogUniform(1e-4, 1e-2)),
        ({"type": "quniform", "low": 0.0, "high": 0.2, "q": 0.05}, QUniform(0.0, 0.2, 0.05)),
    ],
)
def test_each_param_kind_parses_and_converts_to_optuna(raw: object, expected: object) -> None:
    param = parse_param("p", raw)
    assert param == expected
    if not isinstance(param, Fixed):
        dist = param.to_optuna()
        assert isinstance(dist, optuna.distributions.BaseDistribution)
        for corner in param.corners():
            assert dist._contains(dist.to_internal_repr(corner))


def test_unknown_key_inside_a_param_is_named() -> None:
    with pytest.raises(ConfigError, match="unknown key 'hgih'"):
        parse_param("cell_size", {"type": "int", "low": 1, "hgih": 4})


def test_corner_configs_cover_every_extreme_combination() -> None:
    spec = parse_sweep(
        {
            "name": "c",
            "model": "lstm",
            "params": {
                "cell_size": {"type": "choice", "values": [8, 16, 32]},
                "dropout_rate_1": {"type": "uniform", "low": 0.0, "high": 0.4},
                "epochs": 2,
            },
        }
    )
    corners = corner_configs(spec)
    assert len(corners) == 9  # a range: both ends and one fraction between (params.INTERIOR)
    inside = 0.4 * INTERIOR
    assert {(c["cell_size"], c["dropout_rate_1"]) for c in corners} == {
        (cell, d) for cell in (8, 16, 32) for d in (0.0, inside, 0.4)
    }
    assert all(c["epochs"] == 2 for c in corners)


def test_set_overrides_apply_before_validation() -> None:
    spec = load_sweep(
        "lstm_vae_grid", ["params.epochs=3", "dataset.max_rows_per_symbol=2000", "search.seed=5"]
    )
    assert spec.fixed["epochs"] == 3
    assert spec.file.dataset.max_rows_per_symbol == 2000
    assert spec.file.search.seed == 5
    with pytest.raises(ConfigError, match=r"dropout_rate_1\W.*must be in"):
        load_sweep("lstm_base", ["params.dropout_rate_1=1.5"])
    with pytest.raises(ConfigError, match=r"write KEY\.PATH=VALUE"):
        load_sweep("demo", ["epochs"])


@pytest.mark.parametrize(
    ("search", "expected_mode"),
    [
        ({"metric": "val_skill"}, "max"),
        ({"metric": "val_macro_f1_pooled"}, "max"),
        ({"metric": "val_loss"}, "min"),
        ({"metric": "val_mse"}, "min"),
        ({"metric": "val_mse", "mode": "max"}, "max"),  # what the file says wins
    ],
)
def test_search_metric_and_its_default_mode(search: dict[str, str], expected_mode: str) -> None:
    raw = {
        "name": "m",
        "model": "gru",
        "params": {"hidden_size": {"type": "choice", "values": [8, 16]}, "objective": "regression"},
        "search": search,
    }
    spec = parse_sweep(raw)
    assert spec.file.search.metric == search["metric"]
    assert spec.file.search.mode == expected_mode
