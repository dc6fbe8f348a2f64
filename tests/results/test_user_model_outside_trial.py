"""A user's own model whose code fails where `results` and `export` rebuild it (outside its trials): one
line naming the trial, the model and the checkpoint, exit 2, never an "unexpected error" (exit 3) or a
checkpoint called "damaged or changed after the run"."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqsweep import cli
from seqsweep.layout import PREDICTIONS_DIR
from seqsweep.testing.sweeps import no_retry_sweep_file


@pytest.mark.slow
def test_a_user_model_failing_outside_its_trial_is_one_line_naming_it(
    ray_cluster: object,
    sample_db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import fragile_model

    path = no_retry_sweep_file(
        tmp_path,
        "fragile",
        sample_db_url,
        {"model": "fragile_model:build"},
        {"units": {"type": "choice", "values": [4]}, "epochs": 1, "batch_size": 256},
        {"algorithm": "random", "num_samples": 1},
    )
    assert cli.main(["run", str(path)]) == 0
    experiment = str(tmp_path / "runs" / "fragile")
    # scored once while the model works: a user's model's predictions are not kept, since its function
    # (outside seqsweep) may change; served from a store, the broken model below would go unnoticed
    assert cli.main(["results", experiment, "--top", "1"]) == 0
    assert not (tmp_path / "runs" / "fragile" / PREDICTIONS_DIR).exists()
    monkeypatch.setattr(fragile_model, "BROKEN", True)  # this process only: results and export run here
    capsys.readouterr()
    out = str(tmp_path / "b")
    rebuilt, refit = "rebuilt from its checkpoint", "retrained on train + validation (--refit)"
    for command, doing in (
        (["results", experiment, "--top", "1"], rebuilt),
        (["export", experiment, "--out", out], rebuilt),
        (["export", experiment, "--out", out, "--refit"], refit),
    ):
        assert cli.main(command) == 2, command
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err
        assert f"its model fragile_model:build failed outside the trial, {doing}" in err, err
        assert "it raised ValueError: weights table at postgresql://bob:***@pg/x is gone" in err, err
        assert "Fr4gileSecret" not in err and "damaged" not in err
    assert not (tmp_path / "b").exists()
