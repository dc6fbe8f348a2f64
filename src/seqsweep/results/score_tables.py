"""The rows and sentences the report's score tables are made of, from a split's evaluation
(`evaluate.SplitEvaluation`): scores per predictor, intervals per (winner, baseline), macro-F1 per
(target, step) cell and per symbol, and how broad a lead over a baseline is across symbols or cells.
"""

from __future__ import annotations

from typing import Any

from seqsweep._text import signed
from seqsweep.results.evaluate import SCORE_KEYS, ScoreSet, SplitEvaluation


def score_rows(evaluation: SplitEvaluation) -> list[dict[str, Any]]:
    """One row per predictor (winners, then baselines) with `SCORE_KEYS`: the console and page table."""
    rows = []
    for score in (*evaluation.winners, *evaluation.baselines):
        row: dict[str, Any] = {"predictor": score.name, "kind": score.kind}
        row.update({key: score.scores.get(key) for key in SCORE_KEYS})
        if evaluation.mse_baselines:
            row["mse"] = score.mse if score.kind == "winner" else None
        rows.append(row)
    if evaluation.mse_baselines:
        rows += [
            {"predictor": name, "kind": "baseline", "mse": value}
            for name, value in evaluation.mse_baselines.items()
        ]
    return rows


def interval_rows(evaluation: SplitEvaluation) -> list[dict[str, Any]]:
    """One row per (winner, baseline): delta of macro_f1 and its interval bounds."""
    return [
        {
            "winner": score.name,
            "baseline": name,
            "delta": interval.delta,
            "ci95_low": interval.low,
            "ci95_high": interval.high,
            "beats": interval.beats,
        }
        for score in evaluation.winners
        for name, interval in score.vs_baselines.items()
    ]


def cell_rows(evaluation: SplitEvaluation) -> list[dict[str, Any]]:
    """One row per (target, step) cell: each predictor's macro-F1 in that cell (winners, then baselines)."""
    predictors = (*evaluation.winners, *evaluation.baselines)
    rows = []
    for i, cell in enumerate(predictors[0].by_step if predictors else []):
        row: dict[str, Any] = {"target": cell["target"], "step": cell["step"]}
        row.update({score.name: score.by_step[i]["macro_f1"] for score in predictors})
        rows.append(row)
    return rows


def symbol_rows(evaluation: SplitEvaluation) -> list[dict[str, Any]]:
    """One row per symbol of a split with several: its windows and each predictor's macro_f1 on them
    (winners, then baselines; None where the symbol has no scored label)."""
    predictors = (*evaluation.winners, *evaluation.baselines)
    return [
        {"symbol": symbol, "windows": n, **{score.name: score.by_symbol.get(symbol) for score in predictors}}
        for symbol, n in evaluation.symbol_windows.items()
    ]


def symbol_line(score: ScoreSet, baseline: ScoreSet, rank: int) -> str | None:
    """`#rank name` and `symbol_breadth`'s sentence on `score` against `baseline`; None without a
    breakdown by symbol."""
    breadth = symbol_breadth(score.by_symbol, baseline.name, baseline.by_symbol)
    return None if breadth is None else f"#{rank} {score.name} {breadth}."


def cell_line(score: ScoreSet, baseline: ScoreSet, rank: int) -> str | None:
    """`#rank name` and `symbol_breadth`'s sentence over the (target, step) cells (`by_step`) instead of
    symbols: a lead over `baseline` won in one target or one step shows there. None with one cell."""
    breadth = cell_breadth(score.by_step, baseline.name, baseline.by_step)
    return None if breadth is None else f"#{rank} {score.name} {breadth}."


def cell_breadth(
    by_step: list[dict[str, Any]], baseline: str, baseline_by_step: list[dict[str, Any]]
) -> str | None:
    """`symbol_breadth` over the (target, step) cells of `by_step` rows (`ScoreSet.by_step`, or its JSON):
    "scores above persistence on 1 of 4 (target, step) cells, below on 3 (from lending_rate +1 −0.119 to
    close +1 +0.022)". None with fewer than two cells."""
    if len(by_step) < 2:
        return None

    def cells(rows: list[dict[str, Any]]) -> dict[str, float]:
        return {f"{row['target']} +{row['step']}": row["macro_f1"] for row in rows}

    return symbol_breadth(cells(by_step), baseline, cells(baseline_by_step), "(target, step) cells")


def symbol_breadth(
    by_symbol: dict[str, float], baseline: str, baseline_by_symbol: dict[str, float], unit: str = "symbols"
) -> str | None:
    """How broad a lead over `baseline` is: on how many symbols a predictor's macro_f1 (`by_symbol`) is
    above and below the baseline's, and the symbols where it is furthest below and above ("scores above
    persistence on 5 of 16 symbols, below on 11 (from SOLUSDT −0.061 to ETHUSDT +0.048)"; "level on 2" is
    added for symbols within 0.0005 of it, shown as +0.000). None without a
    breakdown by symbol. Descriptive only: a symbol's windows are too few for an interval of their own.
    `unit` names what the keys are (`cell_line` passes the (target, step) cells)."""
    # rounded as shown: a symbol counted below the baseline never reads "+0.000"
    deltas = {s: round(f - baseline_by_symbol[s], 3) for s, f in by_symbol.items() if s in baseline_by_symbol}
    if not deltas:
        return None
    above = sum(d > 0 for d in deltas.values())
    below = sum(d < 0 for d in deltas.values())
    # a symbol within 0.0005 of the baseline is neither: the count says so, not left for the reader to infer
    level = len(deltas) - above - below
    worst = min(deltas, key=lambda s: deltas[s])
    best = max(deltas, key=lambda s: deltas[s])
    return (
        f"scores above {baseline} on {above} of {len(deltas)} {unit}, below on {below}"
        f"{f', level on {level}' if level else ''} (from {worst} "
        f"{signed(deltas[worst])} to {best} {signed(deltas[best])})"
    )
