"""`seqsweep results DIR`: read → rank → score baselines and winners → write the table, JSON, figures and page.

The order is the point: winners are fixed from validation scores before the test split is read.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqsweep._fs import naming_path, removed_if_left_empty, signals_held, writable_folder
from seqsweep._text import counted
from seqsweep.errors import ConfigError
from seqsweep.layout import REPORT_DIR, is_tune_experiment
from seqsweep.results.evaluate import Evaluations, SplitEvaluation, evaluate_winners, load_dataset
from seqsweep.results.experiment import Experiment, TrialSummary, read_experiment
from seqsweep.results.leaderboard import (
    LEADERBOARD_CSV,
    SELECTION_NOTE,
    WINNERS_JSON,
    winners_document,
    write_leaderboard_csv,
    write_winners_json,
)
from seqsweep.results.plots import remove_stale_figures, write_plots
from seqsweep.results.report import write_report
from seqsweep.results.reseed import ReseedOutcome, reseed_winners
from seqsweep.results.sections import Section, persistence_score, report_sections

DEFAULT_TOP = 3


@dataclass(frozen=True)
class ResultsOutcome:
    """What `write_results` produced; `describe()` is what the CLI prints."""

    experiment: Experiment
    top: int
    winners: list[TrialSummary]
    evaluations: Evaluations
    report_dir: Path
    files: list[Path]
    sections: list[Section]
    reseed: ReseedOutcome | None = None

    def to_dict(self) -> dict[str, Any]:
        """winners.json's content plus the report folder and its files."""
        document = _document(self.experiment, self.winners, self.evaluations, self.reseed)
        document["report_dir"] = str(self.report_dir)
        document["files"] = [p.name for p in self.files]
        return document

    def describe(self) -> str:
        e = self.experiment
        counts: dict[str, int] = {}
        for trial in e.trials:
            counts[trial.status] = counts.get(trial.status, 0) + 1
        status = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        lines = [
            f"experiment {e.name}: {counted(len(e.trials), 'trial')} ({status}); model {e.family}",
            *([e.interrupted] if e.interrupted else []),
            SELECTION_NOTE.format(metric=e.metric, mode=e.mode),
        ]
        for section in self.sections:
            lines += ["", section.text()]
        lines += ["", f"report: {self.report_dir / 'index.html'}"]
        lines += [f"  {p.name}" for p in self.files]
        return "\n".join(lines)


def write_results(
    experiment_dir: str | Path,
    top: int = DEFAULT_TOP,
    *,
    evaluate: bool = True,
    baselines: bool | None = None,
    reseed: int = 0,
    db_url: str | None = None,
    out_dir: str | Path | None = None,
    address: str | None = None,
) -> ResultsOutcome:
    """Rank the trials, score the baselines and the top `top` winners, and write `DIR/report/`.

    `evaluate` scores the winners (validation and test, with intervals on test); `baselines` (default:
    as `evaluate`) scores majority and persistence on validation, which needs the dataset but no
    checkpoint; `reseed` > 0 retrains each winner's configuration that many times with new seeds
    (reusing earlier reruns in DIR/reseed). Raises NoValidTrialsError when no trial can win.
    """
    experiment = read_experiment(experiment_dir)
    winners = experiment.top(top)  # NoValidTrialsError when nothing can win
    # checked (and made) before any scoring: an unwritable --out fails in a second, not after minutes
    if out_dir is not None:
        check_report_folder(Path(out_dir), experiment.path)
    target = Path(out_dir) if out_dir is not None else experiment.path / REPORT_DIR
    # a refusal after this (the database changed, a checkpoint gone) leaves no empty folder it made
    with removed_if_left_empty(target):
        report_dir = writable_folder(target, "--out")
        with_baselines = evaluate if baselines is None else baselines
        bundle = load_dataset(experiment, db_url) if (evaluate or with_baselines) else None
        evaluations = (
            evaluate_winners(experiment, winners, bundle, test=evaluate)
            if bundle is not None
            else Evaluations(valid=None, test=None)
        )
        reseeded = (
            reseed_winners(experiment, winners, reseed, bundle, db_url=db_url, address=address)
            if reseed
            else None
        )
        persistence = persistence_score(evaluations)
        # Written whole into a folder beside, then each file moved into place: a Ctrl-C, SIGTERM or full disk
        # half way leaves the earlier report (or none), never a leaderboard without its page and plots; a
        # user's own files in the folder stay.
        staging = Path(tempfile.mkdtemp(prefix=f".{report_dir.name}.", dir=report_dir.parent))
        try:
            with naming_path(report_dir):
                files = [
                    write_leaderboard_csv(experiment, staging / LEADERBOARD_CSV, persistence),
                    write_winners_json(
                        staging / WINNERS_JSON, _document(experiment, winners, evaluations, reseeded)
                    ),
                ]
                test = evaluations.test
                confusion, title = winner_confusion(test, winners[0].trial_id)
                plots = write_plots(experiment, winners, staging, confusion=confusion, confusion_title=title)
                sections = report_sections(experiment, top, evaluations, reseeded, plots.absent)
                files += [p.path for p in plots.files]
                files.append(write_report(experiment, plots.files, sections, staging, test))
                # moved in one by one: a signal between two moves left the new leaderboard beside the
                # earlier page; it now acts once the last is in place
                with signals_held():
                    for file in files:
                        os.replace(file, report_dir / file.name)
                    files = [report_dir / file.name for file in files]
                    remove_stale_figures(
                        report_dir,
                        [dataclasses.replace(p, path=report_dir / p.path.name) for p in plots.files],
                    )
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return ResultsOutcome(experiment, top, winners, evaluations, report_dir, files, sections, reseeded)


def winner_confusion(test: SplitEvaluation | None, winner: str) -> tuple[np.ndarray | None, str]:
    """(confusion counts, figure title) of the #1 trial `winner` on test: None and the test note when it
    was not scored there (a training function's winner without a kept checkpoint), never a lower
    winner's matrix under its name (the first scored winner's was drawn, titled as the #1's)."""
    if test is None:
        return None, ""
    scored = next((w for w in test.winners if w.name == winner), None)
    if scored is None:
        return None, test.note
    return scored.confusion, f"Winner {winner} on the test split ({test.n_positions} labels)"


def check_report_folder(out: Path, experiment: Path) -> None:
    """ConfigError (one line) for an `--out` where the report of `experiment` (its resolved folder) does
    not belong: a folder holding files other than an earlier report's (index.html, leaderboard.csv and the
    plots would overwrite a user's own, or mix into a bundle), another experiment's report (its
    `winners.json` names that experiment: it would be replaced without a word), or a folder inside
    another experiment (its `resume` would take the files for its own report's). A new folder, an empty
    one, or this experiment's earlier report is fine (a file is left to `writable_folder`, which names it)."""
    target = out.expanduser().resolve()
    owner = next((p for p in (target, *target.parents) if is_tune_experiment(p)), None)
    if owner is not None and owner != experiment:
        raise ConfigError(
            f"--out {target}: is inside another experiment, {owner}; give a folder of its own, or "
            f"leave --out out to write {experiment / REPORT_DIR}"
        )
    if not target.is_dir() or not any(target.iterdir()):
        return
    if not (target / WINNERS_JSON).is_file():
        raise ConfigError(
            f"--out {target}: holds other files (no {WINNERS_JSON} of an earlier report); give a new or empty "
            f"folder, or an earlier report's"
        )
    reported = _reported_experiment(target / WINNERS_JSON)
    if reported is not None and Path(reported).expanduser().resolve() != experiment:
        raise ConfigError(
            f"--out {target}: holds the report of another experiment, {reported}; give a new or empty "
            f"folder, or this experiment's earlier report"
        )


def _reported_experiment(winners: Path) -> str | None:
    """The experiment a report's `winners.json` names, or None when it names none (or is no JSON object)."""
    try:
        document = json.loads(winners.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = document.get("experiment") if isinstance(document, dict) else None
    return value if isinstance(value, str) else None


def _document(
    experiment: Experiment,
    winners: list[TrialSummary],
    evaluations: Evaluations,
    reseed: ReseedOutcome | None,
) -> dict[str, Any]:
    valid, test = evaluations.valid, evaluations.test
    document = winners_document(
        experiment,
        winners,
        test.to_dict() if test is not None else None,
        valid.to_dict() if valid is not None else None,
        persistence_score(evaluations),
    )
    document["reseed"] = reseed.to_dict() if reseed is not None else None
    return document
