"""`report/index.html`: one self-contained page (inline CSS, images as base64 data URIs, no network).

The page only lays out what the other modules computed: the leaderboard, the excluded trials, the
winners' test scores beside the baselines, and the PNGs. It can be mailed or opened offline.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from seqsweep.constants import CLASS_NAMES
from seqsweep.results.evaluate import TestEvaluation
from seqsweep.results.experiment import Experiment
from seqsweep.results.leaderboard import SELECTION_NOTE, excluded_rows, format_cell, leaderboard_rows
from seqsweep.results.plots import PlotFile

INDEX_HTML = "index.html"
SCORE_KEYS = ("macro_f1", "accuracy", "precision_macro", "recall_macro")

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1240px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { font-size: 1.2em; margin-top: 1.8em;
     border-bottom: 1px solid #ddd; padding-bottom: .2em; }
.meta { color: #555; font-size: .92em; } .note { background: #f3f7fb; border-left: 4px solid #1f77b4;
        padding: .5em .8em; font-size: .92em; }
table { border-collapse: collapse; font-size: .86em; margin: .6em 0; }
th, td { border: 1px solid #ddd; padding: .25em .55em; text-align: right; white-space: nowrap; }
th { background: #f5f5f5; } td.text, th.text { text-align: left; }
td.wrap { white-space: normal; min-width: 18em; }
tr.baseline td { color: #666; font-style: italic; } tr.best td { font-weight: 600; }
.figures { display: flex; flex-wrap: wrap; gap: 0 1.5em; align-items: flex-start; }
figure { margin: 1em 0; } figure img { border: 1px solid #eee; max-width: 100%; }
figcaption { color: #555; font-size: .88em; }
"""


def write_report(
    experiment: Experiment,
    top: int,
    plots: Sequence[PlotFile],
    out_dir: Path,
    evaluation: TestEvaluation | None = None,
) -> Path:
    """Write `out_dir/index.html` and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / INDEX_HTML
    path.write_text(render_report(experiment, top, plots, evaluation), encoding="utf-8")
    return path


def render_report(
    experiment: Experiment, top: int, plots: Sequence[PlotFile], evaluation: TestEvaluation | None
) -> str:
    counts: dict[str, int] = {}
    for trial in experiment.trials:
        counts[trial.status] = counts.get(trial.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>seqsweep report: {_e(experiment.name)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Sweep <code>{_e(experiment.name)}</code></h1>",
        f'<p class="meta">{_e(str(experiment.path))} · model <b>{_e(experiment.family)}</b> · '
        f"{len(experiment.trials)} trials ({_e(summary)}) · generated {generated}</p>",
        f'<p class="note">{_e(SELECTION_NOTE.format(metric=experiment.metric, mode=experiment.mode))}</p>',
        f"<h2>Leaderboard (top {top})</h2>",
        _table(leaderboard_rows(experiment, top), text_columns={"trial_id", "family", "status"}),
    ]
    excluded = excluded_rows(experiment)
    parts.append("<h2>Not ranked: errored, NaN and pending trials</h2>")
    parts.append(
        _table(excluded, text_columns={"trial_id", "status", "error"}, wrap={"error"})
        if excluded
        else "<p>None: every trial is ranked.</p>"
    )
    parts += _test_section(evaluation)
    parts.append('<h2>Figures</h2><div class="figures">')
    parts += [_figure(plot) for plot in plots]
    parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _test_section(evaluation: TestEvaluation | None) -> list[str]:
    parts = ["<h2>Test split: winners beside the baselines</h2>"]
    if evaluation is None:
        return [*parts, "<p>Not computed (<code>--no-test</code>).</p>"]
    parts.append(f'<p class="note">{_e(evaluation.note)}</p>')
    parts.append(
        f'<p class="meta">{evaluation.n_windows} test windows ({evaluation.n_positions} unmasked labels over '
        f"{_count(len(evaluation.target_names), 'target')} × {_count(evaluation.horizon, 'step')}), ending between "
        f"{_e(evaluation.period[0])} and {_e(evaluation.period[1])}; the same windows for every row.</p>"
    )
    rows = []
    for score in (*evaluation.winners, *evaluation.baselines):
        row: dict[str, Any] = {"predictor": score.name, "kind": score.kind}
        row.update({key: score.scores[key] for key in SCORE_KEYS})
        row.update({f"f1_{name}": value for name, value in zip(CLASS_NAMES, score.f1_per_class, strict=True)})
        row["description"] = score.description
        rows.append(row)
    classes = ["baseline" if r["kind"] == "baseline" else "" for r in rows]
    parts.append(
        _table(
            rows, text_columns={"predictor", "kind", "description"}, row_classes=classes, wrap={"description"}
        )
    )
    parts.append("<h3>Macro-F1 per target and horizon step</h3>")
    step_rows = []
    scores = (*evaluation.winners, *evaluation.baselines)
    for i, position in enumerate(scores[0].by_step if scores else []):
        row = {"target": position["target"], "step": position["step"]}
        row.update({score.name: score.by_step[i]["macro_f1"] for score in scores})
        step_rows.append(row)
    parts.append(_table(step_rows, text_columns={"target"}))
    return parts


def _figure(plot: PlotFile) -> str:
    data = base64.b64encode(plot.path.read_bytes()).decode("ascii")
    width, height = plot.size_px
    return (
        f'<figure><img alt="{_e(plot.caption)}" width="{width}" height="{height}" '
        f'src="data:image/png;base64,{data}"><figcaption>{_e(plot.caption)} '
        f"<code>{_e(plot.path.name)}</code></figcaption></figure>"
    )


def _table(
    rows: Sequence[dict[str, Any]],
    text_columns: Iterable[str] = (),
    row_classes: Sequence[str] | None = None,
    wrap: Iterable[str] = (),
) -> str:
    if not rows:
        return "<p>(none)</p>"
    text, wrapped = set(text_columns), set(wrap)
    columns = list(dict.fromkeys(key for row in rows for key in row))

    def css(column: str) -> str:
        return " ".join(name for name, on in (("text", column in text), ("wrap", column in wrapped)) if on)

    head = "".join(f'<th class="{css(c)}">{_e(c)}</th>' for c in columns)
    body = []
    for i, row in enumerate(rows):
        row_css = row_classes[i] if row_classes else ""
        cells = "".join(
            f'<td class="{css(c)}">{_e(format_cell(row.get(c), c, missing="–"))}</td>' for c in columns
        )
        body.append(f'<tr class="{row_css}">{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _e(text: str) -> str:
    return html.escape(text, quote=True)
