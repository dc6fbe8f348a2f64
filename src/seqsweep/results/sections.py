"""The report's content as sections (a title, sentences, a table), rendered by the console and the page.

`seqsweep results` prints these and `index.html` lays out the same ones, so the two never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seqsweep.results.evaluate import PERSISTENCE, TEST_NOTE, TEST_SPLIT, Evaluations, SplitEvaluation
from seqsweep.results.experiment import Experiment
from seqsweep.results.leaderboard import (
    BELOW_PERSISTENCE,
    excluded_rows,
    family_rows,
    format_table,
    leaderboard_rows,
    repeated_config_lines,
    tie_line,
)
from seqsweep.results.reseed import ReseedOutcome
from seqsweep.results.score_tables import (
    cell_line,
    cell_rows,
    interval_rows,
    score_rows,
    symbol_line,
    symbol_rows,
)


@dataclass(frozen=True)
class Section:
    """One block of the report."""

    key: str
    title: str
    lines: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    text_columns: frozenset[str] = frozenset()

    def text(self) -> str:
        """The console form: `title:`, the sentences, the table."""
        parts = [f"{self.title}:", *self.lines]
        if self.rows:
            parts.append(format_table(self.rows))
        return "\n".join(parts)


def persistence_score(evaluations: Evaluations) -> float | None:
    """Persistence's macro_f1 on the validation windows, when the dataset was read."""
    valid = evaluations.valid
    return None if valid is None else valid.baseline(PERSISTENCE).scores["macro_f1"]


def report_sections(
    experiment: Experiment,
    top: int,
    evaluations: Evaluations,
    reseed: ReseedOutcome | None = None,
    absent: dict[str, str] | None = None,
) -> list[Section]:
    """Every section, in the order both the console and the page show them."""
    sections = []
    ranks = {t.trial_id: i for i, t in enumerate(experiment.ranked(), start=1)}
    answer = answer_section(evaluations, ranks)
    tie = tie_line(experiment)
    if answer is not None:
        # a #1 chosen by the tie-break is said to be one where its verdict is read
        sections.append(Section(answer.key, answer.title, [*answer.lines, *([tie] if tie else [])]))
    persistence = persistence_score(evaluations)
    if evaluations.valid is not None:
        valid = evaluations.valid
        sections.append(
            Section(
                "valid_baselines",
                f"validation split, baselines ({_windows(valid)})",
                [valid.note],
                [r for r in score_rows(valid) if r["kind"] == "baseline"],
                frozenset({"predictor", "kind"}),
            )
        )
    rows = leaderboard_rows(experiment, top, persistence)
    lines = [*([tie] if tie else []), *repeated_config_lines(experiment, top)]
    if persistence is not None:
        below = sum(1 for r in leaderboard_rows(experiment, None, persistence) if r.get(BELOW_PERSISTENCE))
        ranked = len(experiment.ranked())
        folds = experiment.sweep.file.dataset.split.folds if experiment.sweep is not None else 1
        where = (
            f"persistence's on the same windows (each of the {folds} walk-forward folds' own; on the last "
            f"fold's windows persistence scores {persistence:.4f})"
            if folds > 1
            else f"persistence's {persistence:.4f}"
        )
        lines.append(
            f"{BELOW_PERSISTENCE}: the trial's best val_macro_f1 is below {where} ({below} of {ranked} "
            f"ranked trials)."
        )
    sections.append(
        Section(
            "leaderboard",
            f"leaderboard (top {len(rows)} of {len(experiment.ranked())} ranked trials)",
            lines,
            rows,
            frozenset({"trial_id", "family", "status"}),
        )
    )
    families = family_rows(experiment)
    if families:
        sections.append(
            Section(
                "families",
                "best of each family (validation)",
                [f"Each family's best ranked trial by {experiment.metric}; '-' where none was ranked."],
                families,
                frozenset({"family", "best_trial"}),
            )
        )
    excluded = excluded_rows(experiment)
    if excluded:
        sections.append(
            Section(
                "excluded",
                "not ranked (errored / NaN / pending / lost)",
                rows=excluded,
                text_columns=frozenset({"trial_id", "status", "error"}),
            )
        )
    sections += _test_sections(evaluations, ranks)
    if reseed is not None:
        trained = (
            f"{reseed.trained} reruns trained now" if reseed.trained else "every rerun reused from earlier"
        )
        sections.append(
            Section(
                "reseed",
                f"seed reruns ({reseed.seeds} new seeds per configuration, {trained}; {reseed.folder})",
                [
                    f"Ranked by the mean of each rerun's best {reseed.metric} ({reseed.mode}); the original "
                    f"run is shown but not averaged (it was selected, so it is biased upward).",
                    reseed.conclusion(),
                    *reseed.notes,
                    *(line for row in reseed.rows for line in row.failures),
                ],
                reseed.table(),
                frozenset({"trial_id"}),
            )
        )
    for reason in (absent or {}).values():
        sections.append(Section("absent", "not drawn", [reason]))
    return sections


ANSWER = "answer"
"""The key of the first section: the winner's verdict on test, before any table."""


def answer_section(evaluations: Evaluations, ranks: dict[str, int] | None = None) -> Section | None:
    """The #1 winner's verdict on test (the sentence of `ScoreSet.verdict`), first, so a winner that does
    not beat persistence, or ignores its input, is read as such before any of its scores; None when no
    winner was scored on test with intervals (`--no-test`, a function without a predict hook).

    `ranks`: each ranked trial's rank. When the #1 trial could not be scored (a training function's
    winner without a kept checkpoint) while a lower one was, the answer says #1 has no verdict; it gave
    the first scored winner's verdict as "#1"."""
    test = evaluations.test
    verdict = test.winners[0].verdict() if test is not None and test.winners else None
    if test is None or verdict is None:
        return None
    winner = test.winners[0].name
    first = next((trial for trial, rank in (ranks or {}).items() if rank == 1), winner)
    if (ranks or {}).get(winner, 1) > 1:
        return Section(
            ANSWER,
            f"answer (the winner on test, {_windows(test)})",
            [f"#1 {first} has no test score, so no verdict: {test.note.removeprefix(TEST_NOTE).strip()}"],
        )
    return Section(ANSWER, f"answer (the winner on test, {_windows(test)})", [f"#1 {winner} {verdict}."])


def _test_sections(evaluations: Evaluations, ranks: dict[str, int]) -> list[Section]:
    """The test split's sections; a winner's verdict is numbered by its rank in `ranks` (trial id → rank),
    not by its place among the winners scored on test (a winner without a test score shifted them)."""
    test = evaluations.test
    if test is None:
        return [Section("test", "test split", ["not evaluated (--no-test)"])]
    unavailable = [test.note] if not test.winners and test.note != TEST_NOTE else []
    sections = [
        Section(
            "test",
            f"test split ({_windows(test)}), winners only, beside the baselines on the same windows",
            [
                *unavailable,
                "macro_f1 is the mean of the per-(target, step) macro-F1; macro_f1_pooled pools every cell.",
            ],
            score_rows(test),
            frozenset({"predictor", "kind"}),
        )
    ]
    if test.bootstrap is not None:
        b = test.bootstrap
        verdicts = [
            f"#{ranks.get(s.name, i)} {s.name} {s.verdict()}."
            for i, s in enumerate(test.winners, start=1)
            if s.verdict()
        ]
        sections.append(
            Section(
                "intervals",
                "winners minus baselines on test (macro_f1)",
                [
                    *verdicts,
                    f"{b.level * 100:g} % intervals: {b.draws} draws of a {_method(b.block)}, seed {b.seed}.",
                ],
                interval_rows(test),
                frozenset({"winner", "baseline"}),
            )
        )
    valid = evaluations.valid
    for split in (valid, test):
        if split is not None and split.winners:
            sections.append(_cells(split, ranks))
    if test.winners and test.symbol_windows:
        sections.append(_symbols(test, ranks))
    return sections


SYMBOLS_NOTE = (
    "Each symbol's windows scored alone: where a score comes from, not a verdict (a symbol's windows are too "
    "few for an interval of their own); a winner ahead of persistence overall may be ahead on a few symbols only."
)
"""The per-symbol section's note."""


def _symbols(evaluation: SplitEvaluation, ranks: dict[str, int]) -> Section:
    persistence = evaluation.baseline(PERSISTENCE)
    lines = [
        symbol_line(score, persistence, ranks.get(score.name, i))
        for i, score in enumerate(evaluation.winners, start=1)
    ]
    return Section(
        f"symbols_{evaluation.split}",
        f"macro-F1 per symbol, {evaluation.split} split (winners beside both baselines)",
        [*(line for line in lines if line), SYMBOLS_NOTE],
        symbol_rows(evaluation),
        frozenset({"symbol"}),
    )


def _cells(evaluation: SplitEvaluation, ranks: dict[str, int]) -> Section:
    """The per-(target, step) table; on test, one line per winner on how many cells it is above
    persistence in (a lead over the whole split won in one target or one step shows there)."""
    persistence = evaluation.baseline(PERSISTENCE)
    lines = (
        [
            cell_line(score, persistence, ranks.get(score.name, i))
            for i, score in enumerate(evaluation.winners, start=1)
        ]
        if evaluation.split == TEST_SPLIT
        else []
    )
    return Section(
        f"cells_{evaluation.split}",
        f"macro-F1 per target and step, {evaluation.split} split (winners beside both baselines)",
        [line for line in lines if line],
        rows=cell_rows(evaluation),
        text_columns=frozenset({"target"}),
    )


def _method(block: int) -> str:
    return (
        f"moving-block bootstrap (Künsch 1989, circular blocks) over test windows, blocks of {block} "
        f"windows per symbol"
    )


def _windows(evaluation: SplitEvaluation) -> str:
    return (
        f"{evaluation.n_windows} windows, {evaluation.n_positions} labels, "
        f"{evaluation.period[0]} .. {evaluation.period[1]}"
    )
