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

from seqsweep._text import CELL_DIGITS, signed
from seqsweep.constants import VAL_MACRO_F1_FOLD_STD, VAL_MACRO_F1_POOLED, VAL_MSE, VAL_SKILL
from seqsweep.results.experiment import Experiment, TrialSummary

SELECTION_NOTE = (
    "Winners are ranked by {metric} ({mode}) at each trial's best epoch over all its reports, on the "
    "validation split. The test split is never used to choose; it only scores the winners afterwards."
)
LEADERBOARD_CSV = "leaderboard.csv"
WINNERS_JSON = "winners.json"
OPTIONAL_COLUMNS = (VAL_MACRO_F1_POOLED, VAL_SKILL, VAL_MSE, VAL_MACRO_F1_FOLD_STD)
"""Shown when any trial reported them: experiments run before they existed have none, only the
regression objective reports val_mse, and only walk-forward folds val_macro_f1_fold_std (the folds'
spread around the mean that ranks: a lead won in one fold alone shows there, not in the mean)."""
SIGNED_COLUMNS = frozenset({VAL_SKILL, "delta", "ci95_low", "ci95_high"})
"""Table columns of differences (a skill, a delta and its interval bounds): written with their sign (`signed`)."""
BELOW_PERSISTENCE = "below_persistence"
"""Leaderboard column: yes when the trial's best val_macro_f1 is below persistence's on validation."""


def leaderboard_rows(
    experiment: Experiment, top: int | None = None, persistence: float | None = None
) -> list[dict[str, Any]]:
    """One row per ranked trial, best first (the top `top` when given); raises NoValidTrialsError if none.

    With `persistence` (persistence's macro_f1 on the validation windows) each row says whether the
    trial's best val_macro_f1 is below it.
    """
    ranked = experiment.ranked() if top is None else experiment.top(top)
    return [_row(experiment, trial, rank, persistence) for rank, trial in enumerate(ranked, start=1)]


def optional_columns(experiment: Experiment) -> list[str]:
    """The `OPTIONAL_COLUMNS` some trial of the experiment reported (at its best epoch)."""
    return [c for c in OPTIONAL_COLUMNS if any(t.best_metrics.get(c) is not None for t in experiment.trials)]


def family_rows(experiment: Experiment) -> list[dict[str, Any]]:
    """The best ranked trial of each family of a mixed-family sweep (its `model.values` order): family,
    best trial, its val_macro_f1 (and the search metric when that is another); [] for one family.

    A family none of whose trials could be ranked gets a row without a trial.
    """
    families = experiment.sweep.families if experiment.sweep is not None else ()
    if not families:
        return []
    ranked = [t for t in experiment.trials if t.ranked and t.best_value is not None]
    best = {t.family: t for t in reversed(experiment.ranked())} if ranked else {}
    rows = []
    for family in families:
        trial = best.get(family)
        row: dict[str, Any] = {
            "family": family,
            "trials": sum(1 for t in experiment.trials if t.family == family),
            "best_trial": trial.trial_id if trial else None,
            "val_macro_f1": trial.val_macro_f1 if trial else None,
        }
        if experiment.metric != "val_macro_f1":
            row[experiment.metric] = trial.best_value if trial else None
        rows.append(row)
    return rows


def first_tie(experiment: Experiment) -> list[TrialSummary]:
    """The ranked trials whose search-metric score equals the #1 trial's, #1 first (rank order); [] when
    #1 stands alone. Raises NoValidTrialsError when no trial is ranked."""
    ranked = experiment.ranked()
    best = ranked[0].best_value
    tied = [t for t in ranked if t.best_value == best]
    return tied if len(tied) > 1 else []


def tie_line(experiment: Experiment) -> str | None:
    """One sentence when other trials score exactly as well as #1 on validation (`first_tie`): the
    ranking's tie-break (fewer epochs, then trial id) chose #1, validation did not; None otherwise.

    e.g. "#1 a_00001 ties on val_macro_f1 (0.4120) with a_00003, a_00007: validation does not tell them
    apart; #1 was chosen by the tie-break (fewer epochs, then trial id)."
    """
    tied = first_tie(experiment)
    if not tied:
        return None
    first, others = tied[0], ", ".join(t.trial_id for t in tied[1:])
    return (
        f"#1 {first.trial_id} ties on {experiment.metric} ({format_cell(first.best_value)}) with {others}: "
        f"validation does not tell them apart; #1 was chosen by the tie-break (fewer epochs, then trial id)."
    )


def repeated_config_lines(experiment: Experiment, top: int) -> list[str]:
    """One sentence per configuration (family and searched values) that more than one of the top `top`
    ranked trials share: such trials differ only by their training seed, so their gap is seed noise,
    and the winners are fewer configurations than they look; [] when each is its own.

    e.g. "#1 a_00002 and #3 a_00005 are one configuration (the same searched values), trained under
    different seeds: the gap between them is seed noise."
    Raises NoValidTrialsError when no trial is ranked.
    """
    groups: dict[str, list[tuple[int, TrialSummary]]] = {}
    for rank, trial in enumerate(experiment.top(top), start=1):
        key = json.dumps([trial.family, trial.params], sort_keys=True, default=str)
        groups.setdefault(key, []).append((rank, trial))
    lines = []
    for group in groups.values():
        if len(group) > 1:
            names = [f"#{rank} {trial.trial_id}" for rank, trial in group]
            joined = f"{', '.join(names[:-1])} and {names[-1]}"
            lines.append(
                f"{joined} are one configuration (the same searched values), trained under different "
                f"seeds: the gap between them is seed noise."
            )
    return lines


def excluded_rows(experiment: Experiment) -> list[dict[str, Any]]:
    """Errored, NaN, pending and lost trials: listed apart, never ranked."""
    return [
        {"trial_id": t.trial_id, "status": t.status, **t.params, "epochs_run": t.epochs_run, "error": t.error}
        for t in experiment.excluded
    ]


def below_persistence(trial: TrialSummary, persistence: float) -> bool | None:
    """Whether the trial's best epoch scored below persistence on the same validation windows.

    The trial's own `val_skill` (its macro-F1 minus persistence's, on the windows it was validated on:
    with walk-forward folds, the mean over the folds of each fold's skill) decides when it was reported;
    otherwise its `val_macro_f1` against `persistence` (persistence on the dataset's validation windows,
    which are the last fold's only when there are folds)."""
    skill = trial.best_metrics.get(VAL_SKILL)
    if skill is not None and math.isfinite(skill):
        return skill < 0
    return None if trial.val_macro_f1 is None else trial.val_macro_f1 < persistence


def _row(
    experiment: Experiment, trial: TrialSummary, rank: int, persistence: float | None = None
) -> dict[str, Any]:
    row: dict[str, Any] = {"rank": rank, "trial_id": trial.trial_id, "family": trial.family}
    row.update({name: trial.params.get(name) for name in experiment.searched})
    row["best_epoch"] = trial.best_epoch
    row[experiment.metric] = trial.best_value
    row["val_macro_f1"] = trial.val_macro_f1
    row.update({column: trial.best_metrics.get(column) for column in optional_columns(experiment)})
    if persistence is not None:
        row[BELOW_PERSISTENCE] = below_persistence(trial, persistence)
    row.update(
        {
            "val_accuracy": trial.val_accuracy,
            "epochs_run": trial.epochs_run,
            "stopped_early": trial.stopped_early,
            "wall_time_s": None if trial.wall_time_s is None else round(trial.wall_time_s, 2),
            "status": trial.status,
        }
    )
    return row


def write_leaderboard_csv(experiment: Experiment, path: Path, persistence: float | None = None) -> Path:
    """Every trial: the ranked ones with their rank, then the excluded ones with their status and error."""
    ranked = leaderboard_rows(experiment, persistence=persistence)
    excluded = [
        {"rank": None, "family": t.family, "status": t.status, "error": t.error, **_excluded_base(t)}
        for t in experiment.excluded
    ]
    columns = list(dict.fromkeys([*ranked[0].keys(), "checkpoint", "error"]))
    checkpoints = {t.trial_id: t.checkpoint for t in experiment.trials}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in [*ranked, *excluded]:
            writer.writerow({**row, "checkpoint": checkpoints.get(row["trial_id"])})
    return path


def _excluded_base(trial: TrialSummary) -> dict[str, Any]:
    return {"trial_id": trial.trial_id, **trial.params, "epochs_run": trial.epochs_run}


def winners_document(
    experiment: Experiment,
    winners: list[TrialSummary],
    test: dict[str, Any] | None,
    valid: dict[str, Any] | None = None,
    persistence: float | None = None,
) -> dict[str, Any]:
    """What winners.json holds: how they were chosen, each winner, the excluded trials, validation
    baselines (`valid`, same shape as `test`) and test scores with intervals."""
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
                **_row(experiment, trial, rank, persistence),
                "config": trial.config,
                "checkpoint": trial.checkpoint,
                "trial_dir": trial.path,
            }
            for rank, trial in enumerate(winners, start=1)
        ],
        "excluded": excluded_rows(experiment),
        "valid": valid,
        "test": test,
    }


def write_winners_json(path: Path, document: dict[str, Any]) -> Path:
    """`document` (from `winners_document`) as strict JSON at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_safe(document), indent=2) + "\n", encoding="utf-8")
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
    if isinstance(value, float) and column in SIGNED_COLUMNS and math.isfinite(value):
        return signed(value, CELL_DIGITS)  # as the model card writes it: `−0.0210`, never `-0.0210`
    if isinstance(value, float) and value != 0 and abs(value) < 0.01:
        return f"{value:.3g}"
    if isinstance(value, float):
        return f"{value:.{CELL_DIGITS}f}" if abs(value) < 1000 else f"{value:.0f}"
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
