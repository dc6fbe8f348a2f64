"""A `resume` drops the report `results` wrote before it only when the trials' rows changed after it, and
only `results`' own files: a resume with nothing to train deleted the whole folder, a user's notes too."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seqsweep.tuning.outcome import drop_stale_report


def _experiment(tmp_path: Path, rows_at: float, report_at: float) -> tuple[Path, Path]:
    experiment = tmp_path / "demo"
    rows = experiment / "train_trial_00000" / "result.json"
    rows.parent.mkdir(parents=True)
    rows.write_text("{}\n")
    os.utime(rows, (rows_at, rows_at))
    report = experiment / "report"
    report.mkdir()
    for name in ("leaderboard.csv", "winners.json", "index.html", "loss_curves.png", "f1_vs_cell_size.png"):
        (report / name).write_text("x")
        os.utime(report / name, (report_at, report_at))
    (report / "notes.md").write_text("mine")
    return experiment, report


def test_a_report_older_than_the_rows_loses_results_files_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    experiment, report = _experiment(tmp_path, rows_at=2_000_000, report_at=1_000_000)
    with caplog.at_level("INFO"):
        drop_stale_report(experiment)
    assert sorted(p.name for p in report.iterdir()) == ["notes.md"]
    assert f"report: removed the 5 files `results` wrote in {report}" in caplog.text


def test_a_report_newer_than_every_row_stays(tmp_path: Path) -> None:
    experiment, report = _experiment(tmp_path, rows_at=1_000_000, report_at=2_000_000)
    drop_stale_report(experiment)
    assert len(list(report.iterdir())) == 6
