"""`seqsweep results DIR`: read → rank → test the winners → write the table, JSON, figures and page.

The order is the point: winners are fixed from validation scores before the test split is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqsweep.results.evaluate import TestEvaluation, evaluate_winners
from seqsweep.results.experiment import Experiment, TrialSummary, read_experiment
from seqsweep.results.leaderboard import (
    LEADERBOARD_CSV,
    SELECTION_NOTE,
    WINNERS_JSON,
    excluded_rows,
    format_table,
    leaderboard_rows,
    winners_document,
    write_leaderboard_csv,
    write_winners_json,
)
from seqsweep.results.plots import write_plots
from seqsweep.results.report import SCORE_KEYS, write_report

REPORT_DIR = "report"
DEFAULT_TOP = 3


@dataclass(frozen=True)
class ResultsOutcome:
    """What `write_results` produced; `describe()` is what the CLI prints."""

    experiment: Experiment
    top: int
    winners: list[TrialSummary]
    evaluation: TestEvaluation | None
    report_dir: Path
    files: list[Path]

    def to_dict(self) -> dict[str, Any]:
        test = self.evaluation.to_dict() if self.evaluation is not None else None
        document = winners_document(self.experiment, self.winners, test)
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
            f"experiment {e.name}: {len(e.trials)} trials ({status}); model {e.family}",
            SELECTION_NOTE.format(metric=e.metric, mode=e.mode),
            "",
            f"leaderboard (top {self.top}):",
            format_table(leaderboard_rows(e, self.top)),
        ]
        excluded = excluded_rows(e)
        if excluded:
            lines += ["", "not ranked (errored / NaN / pending):", format_table(excluded)]
        lines.append("")
        if self.evaluation is None:
            lines.append("test split: not evaluated (--no-test)")
        else:
            ev = self.evaluation
            lines.append(
                f"test split ({ev.n_windows} windows, {ev.n_positions} labels, {ev.period[0]} .. {ev.period[1]}), "
                f"winners only, beside the baselines on the same windows:"
            )
            lines.append(ev.note)
            rows = [
                {"predictor": s.name, "kind": s.kind, **{k: s.scores[k] for k in SCORE_KEYS}}
                for s in (*ev.winners, *ev.baselines)
            ]
            lines.append(format_table(rows))
        lines += ["", f"report: {self.report_dir / 'index.html'}"]
        lines += [f"  {p.name}" for p in self.files]
        return "\n".join(lines)


def write_results(
    experiment_dir: str | Path,
    top: int = DEFAULT_TOP,
    *,
    evaluate: bool = True,
    db_url: str | None = None,
    out_dir: str | Path | None = None,
) -> ResultsOutcome:
    """Rank the trials, score the top `top` on the test split, and write `DIR/report/`."""
    experiment = read_experiment(experiment_dir)
    winners = experiment.top(top)  # NoValidTrialsError when nothing can win
    evaluation = evaluate_winners(experiment, winners, db_url=db_url) if evaluate else None
    report_dir = Path(out_dir) if out_dir is not None else experiment.path / REPORT_DIR
    report_dir.mkdir(parents=True, exist_ok=True)
    files = [
        write_leaderboard_csv(experiment, report_dir / LEADERBOARD_CSV),
        write_winners_json(
            experiment, winners, report_dir / WINNERS_JSON, evaluation.to_dict() if evaluation else None
        ),
    ]
    confusion, title = None, ""
    if evaluation is not None and evaluation.winners:
        confusion = evaluation.winners[0].confusion
        title = f"Winner {winners[0].trial_id} on the test split ({evaluation.n_positions} labels)"
    plots = write_plots(experiment, winners, report_dir, confusion=confusion, confusion_title=title)
    files += [p.path for p in plots]
    files.append(write_report(experiment, top, plots, report_dir, evaluation))
    return ResultsOutcome(experiment, top, winners, evaluation, report_dir, files)
