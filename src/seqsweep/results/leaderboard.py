"""The leaderboard: trials ranked by their best validation epoch, as a table, a CSV and winners.json.

Only validation numbers choose. Test scores (from `evaluate`) are attached to the winners after the
choice and are never read back into it.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from seqsweep.results.experiment import Experiment, TrialSummary

SELECTION_NOTE = (
    "Winners are ranked by {metric} ({mode}) at each trial's best epoch over all its reports, on the "
    "validation split. The test split is never used to choose; it only scores the winners afterwards."
)
LEADERBOARD_CSV = "leaderboard.csv"
WINNERS_JSON = "winners.json"


def leaderboard_rows(experiment: Experiment, top: int | None = None) -> list[dict[str, Any]]:
    """One row per ranked trial, best first (the top `top` when given); raises NoValidTrialsError if none."""
    ranked = experiment.ranked() if top is None else experiment.top(top)
    return [_row(experiment, trial, rank) for rank, trial in enumerate(ranked, start=1)]


def excluded_rows(experiment: Experiment) -> list[dict[str, Any]]:
    """Errored, NaN and pending trials: listed apart, never ranked."""
    return [
        {"trial_id": t.trial_id, "status": t.status, **t.params, "epochs_run": t.epochs_run, "error": t.error}
        for t in experiment.excluded
    ]


def _row(experiment: Experiment, trial: TrialSummary, rank: int) -> dict[str, Any]:
    row: dict[str, Any] = {"rank": rank, "trial_id": trial.trial_id, "family": trial.family}
    row.update({name: trial.params.get(name) for name in experiment.searched})
    row.update(
        {
            "best_epoch": trial.best_epoch,
            experiment.metric: trial.best_value,
            "val_macro_f1": trial.val_macro_f1,
            "val_accuracy": trial.val_accuracy,
            "epochs_run": trial.epochs_run,
            "stopped_early": trial.stopped_early,
            "wall_time_s": None if trial.wall_time_s is None else round(trial.wall_time_s, 2),
            "status": trial.status,
        }
    )
    return row


def write_leaderboard_csv(experiment: Experiment, path: Path) -> Path:
    """Every trial: the ranked ones with their rank, then the excluded ones with their status and error."""
    ranked = leaderboard_rows(experiment)
    excluded = [
        {"rank": None, "family": t.family, "status": t.status, "error": t.error, **_excluded_base(t)}
        for t in experiment.excluded
    ]
    columns = list(dict.fromkeys([*ranked[0].keys(), "checkpoint", "error"]))
    checkpoints = {t.trial_id: t.checkpoint for t in experiment.trials}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in [*ranked, *excluded]:
            writer.writerow({**row, "checkpoint": checkpoints.get(row["trial_id"])})
    return path


def _excluded_base(trial: TrialSummary) -> dict[str, Any]:
    return {"trial_id": trial.trial_id, **trial.params, "epochs_run": trial.epochs_run}


def winners_document(
    experiment: Experiment, winners: list[TrialSummary], test: dict[str, Any] | None
) -> dict[str, Any]:
    """What winners.json holds: how they were chosen, each winner, the excluded trials, and test scores."""
    return {
        "experiment": str(experiment.path),
        "name": experiment.name,
        "family": experiment.family,
        "metric": experiment.metric,
        "mode": experiment.mode,
        "searched": list(experiment.searched),
        "selection": SELECTION_NOTE.format(metric=experiment.metric, mode=experiment.mode),
        "winners": [
            {
                **_row(experiment, trial, rank),
                "config": trial.config,
                "checkpoint": trial.checkpoint,
                "trial_dir": trial.path,
            }
            for rank, trial in enumerate(winners, start=1)
        ],
        "excluded": excluded_rows(experiment),
        "test": test,
    }


def write_winners_json(
    experiment: Experiment, winners: list[TrialSummary], path: Path, test: dict[str, Any] | None = None
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_safe(winners_document(experiment, winners, test)), indent=2) + "\n")
    return path


def format_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """A plain fixed-width table for the terminal."""
    if not rows:
        return "(no rows)"
    columns = columns or list(rows[0])
    cells = [[format_cell(row.get(c), c) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def format_cell(value: Any, column: str = "", missing: str = "-") -> str:
    """One table cell, as the text table and the HTML report both show it."""
    if value is None:
        return missing
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and column.endswith("_s"):
        return f"{value:.1f}"
    if isinstance(value, float) and value != 0 and abs(value) < 0.01:
        return f"{value:.3g}"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def json_safe(value: Any) -> Any:
    """NaN/inf become null and numpy scalars plain numbers, so the file is strict JSON."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist"):
        return json_safe(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
