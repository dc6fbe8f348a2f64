"""`resume` refuses an experiment that is not in the folder it was made in.

Ray Tune's saved state (trial storage, the searcher with a local study's Optuna URL) names the folder
the experiment was made in: a resumed copy wrote its new trials and study rows into the original, and
a moved one failed to open its study with an unexpected error. The refusal comes before Ray starts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from seqsweep.errors import ConfigError
from seqsweep.layout import EXPERIMENT_ID_FILE, SWEEP_COPY, TUNER_FILE
from seqsweep.tuning.runner import _write_experiment_id, check_not_moved, resume_sweep


def _experiment(folder: Path) -> Path:
    """A started experiment's marker files (no trials): enough for `resume` to read where it was made."""
    folder.mkdir(parents=True)
    _write_experiment_id(folder, "0" * 32)
    (folder / TUNER_FILE).write_bytes(b"")
    (folder / SWEEP_COPY).write_text("name: moved\n")
    return folder


def test_the_experiment_records_the_folder_it_was_made_in(tmp_path: Path) -> None:
    original = _experiment(tmp_path / "runs" / "moved")
    assert json.loads((original / EXPERIMENT_ID_FILE).read_text())["path"] == str(original)
    check_not_moved(original)  # in place: no error


@pytest.mark.parametrize("how", ["copy", "move"])
def test_resume_refuses_a_copied_or_moved_experiment_naming_both_folders(tmp_path: Path, how: str) -> None:
    original = _experiment(tmp_path / "runs" / "moved")
    elsewhere = tmp_path / "elsewhere" / "moved"
    elsewhere.parent.mkdir()
    (shutil.copytree if how == "copy" else shutil.move)(original, elsewhere)
    with pytest.raises(ConfigError) as info:
        resume_sweep(elsewhere)
    message = str(info.value)
    assert "\n" not in message and "moved or copied" in message
    assert str(elsewhere) in message and str(original) in message


def test_an_experiment_made_before_the_folder_was_recorded_is_not_checked(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / EXPERIMENT_ID_FILE).write_text(json.dumps({"id": "1" * 32}))
    check_not_moved(folder)
