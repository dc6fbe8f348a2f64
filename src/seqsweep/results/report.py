"""`report/index.html`: one self-contained page (inline CSS, images as base64 data URIs, no network).

The page only lays out what the other modules computed, the same sections the console prints
(`seqsweep.results.sections`: validation baselines, leaderboard, excluded trials, test scores, the
verdicts and intervals, per-cell tables, seed reruns), then the PNGs. It can be mailed or opened offline.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from seqsweep._text import counted
from seqsweep.results.evaluate import SplitEvaluation
from seqsweep.results.experiment import Experiment
from seqsweep.results.leaderboard import SELECTION_NOTE, format_cell
from seqsweep.results.plots import PlotFile
from seqsweep.results.sections import ANSWER, Section

INDEX_HTML = "index.html"

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
    plots: Sequence[PlotFile],
    sections: Sequence[Section],
    out_dir: Path,
    test: SplitEvaluation | None = None,
) -> Path:
    """Write `out_dir/index.html` (the `sections` the console prints, then the figures); return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / INDEX_HTML
    path.write_text(render_report(experiment, plots, sections, test), encoding="utf-8")
    return path


def render_report(
    experiment: Experiment,
    plots: Sequence[PlotFile],
    sections: Sequence[Section],
    test: SplitEvaluation | None = None,
) -> str:
    """The page as one string: header, selection rule, every section, the test note, the figures."""
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
        f"{counted(len(experiment.trials), 'trial')} ({_e(summary)}) · generated {generated}</p>",
        *([f'<p class="note">{_e(experiment.interrupted)}</p>'] if experiment.interrupted else []),
        f'<p class="note">{_e(SELECTION_NOTE.format(metric=experiment.metric, mode=experiment.mode))}</p>',
    ]
    for section in sections:
        parts.append(f'<h2 id="{_e(section.key)}">{_e(section.title[:1].upper() + section.title[1:])}</h2>')
        line_tag = '<p class="note"><b>' if section.key == ANSWER else "<p>"  # the answer stands out
        line_end = "</b></p>" if section.key == ANSWER else "</p>"
        parts += [f"{line_tag}{_e(line)}{line_end}" for line in section.lines]
        if section.key == "test" and test is not None:
            parts.append(f'<p class="note">{_e(test.note)}</p>')
        if section.rows:
            classes = ["baseline" if row.get("kind") == "baseline" else "" for row in section.rows]
            parts.append(
                _table(section.rows, text_columns=section.text_columns, row_classes=classes, wrap={"error"})
            )
    parts.append('<h2>Figures</h2><div class="figures">')
    parts += [_figure(plot) for plot in plots]
    parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


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


def _e(text: str) -> str:
    return html.escape(text, quote=True)
