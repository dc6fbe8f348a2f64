"""PNG figures of a sweep, drawn on matplotlib's Agg canvas (no display, no pyplot global state).

Every figure has a fixed size in inches and is saved at `DPI`, so its pixel size is stated and
tested: `FIGURE_SIZES[name] * DPI`. Nothing here computes a score; the numbers come from the
experiment (validation), from `evaluate` (test confusion) or from Optuna (importances).
"""

from __future__ import annotations

import logging
import math
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from seqsweep._text import counted
from seqsweep.constants import CLASS_NAMES, TRAIN_LOSS, VAL_LOSS
from seqsweep.results.experiment import Experiment, TrialSummary

logger = logging.getLogger(__name__)

DPI = 100
FIGURE_SIZES: dict[str, tuple[float, float]] = {
    "loss_curves": (12.0, 4.5),
    "confusion": (6.0, 5.0),
    "f1_vs_param": (6.0, 4.0),
    "param_importances": (7.0, 4.0),
}
"""Inches per figure kind; at DPI 100 the loss curves are 1200×450 px, the confusion matrix 600×500,
each parameter scatter 600×400 and the importances 700×400."""

MIN_IMPORTANCE_TRIALS = 8
"""Finished, valid study trials below which no importance chart is drawn: a random forest's shares
fitted on a handful of points say nothing about the parameters (the report says why it is absent)."""

WINNER_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
OTHER_COLOR = "#9e9e9e"
MAX_LOSS_PANELS = 6

FIGURE_NAME_PATTERNS = ("loss_curves.png", "confusion_winner.png", "f1_vs_*.png", "param_importances.png")
"""The names `write_plots` gives its figures (globs): in a reused report folder, a figure of these names
that this report did not draw is an earlier report's (see `remove_stale_figures`)."""


@dataclass(frozen=True)
class PlotFile:
    """One written PNG and what it shows."""

    kind: str
    path: Path
    caption: str

    @property
    def size_px(self) -> tuple[int, int]:
        width, height = FIGURE_SIZES[self.kind]
        return round(width * DPI), round(height * DPI)


@dataclass(frozen=True)
class PlotSet:
    """The figures written, and why a figure was left out."""

    files: list[PlotFile]
    absent: dict[str, str]
    """Figure kind → one sentence on why it was not drawn."""


def write_plots(
    experiment: Experiment,
    winners: list[TrialSummary],
    out_dir: Path,
    confusion: np.ndarray | None = None,
    confusion_title: str = "",
) -> PlotSet:
    """Every figure of the report, in the order the page shows them; importances only when meaningful."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [plot_loss_curves(winners, out_dir / "loss_curves.png")]
    files.append(plot_confusion(confusion, out_dir / "confusion_winner.png", confusion_title))
    ranked = experiment.ranked()
    for name in experiment.searched:
        files.append(
            plot_f1_vs_param(experiment, ranked, winners, name, out_dir / f"f1_vs_{_slug(name)}.png")
        )
    importances, reason = plot_param_importances(experiment, out_dir / "param_importances.png")
    absent = {}
    if importances is None:
        absent["param_importances"] = f"Parameter importances are not drawn: {reason}."
    else:
        files.append(importances)
    return PlotSet(files, absent)


def remove_stale_figures(out_dir: Path, drawn: list[PlotFile]) -> list[Path]:
    """Delete the figures an earlier report left in `out_dir` that this report did not draw; return them.

    A report written again into the same folder (`results --out DIR` twice, or `DIR/report/` after the
    sweep was resumed) would otherwise keep, say, `f1_vs_<param>.png` of a parameter no longer searched or
    `param_importances.png` that is now absent for a stated reason, beside a page that does not show them.
    Only files named like this module's figures (`FIGURE_NAME_PATTERNS`) are touched; a user's own files
    stay.
    """
    keep = {plot.path.resolve() for plot in drawn}
    stale = sorted(
        {
            path
            for pattern in FIGURE_NAME_PATTERNS
            for path in out_dir.glob(pattern)
            if path.is_file() and path.resolve() not in keep
        }
    )
    for path in stale:
        path.unlink()
    return stale


def plot_loss_curves(winners: list[TrialSummary], path: Path) -> PlotFile:
    """Train (solid) and validation (dashed) loss per epoch, one panel per winner; the best epoch dotted."""
    fig = _figure("loss_curves")
    shown = winners[:MAX_LOSS_PANELS]
    ncols = min(len(shown), 3) or 1
    nrows = math.ceil(len(shown) / ncols) or 1
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for rank, (ax, trial) in enumerate(zip(axes, shown, strict=False), start=1):
        history = trial.history
        color = WINNER_COLORS[(rank - 1) % len(WINNER_COLORS)]
        for column, style in ((TRAIN_LOSS, "-"), (VAL_LOSS, "--")):
            if column in history:
                ax.plot(history["epoch"], history[column], style, color=color, marker="o", ms=3, label=column)
        if trial.best_epoch is not None:
            ax.axvline(trial.best_epoch, color="black", ls=":", lw=1, label=f"best epoch {trial.best_epoch}")
        score = "-" if trial.val_macro_f1 is None else f"{trial.val_macro_f1:.3f}"
        ax.set_title(f"#{rank} {trial.trial_id} (val macro-F1 {score})", fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        last_epoch = int(history["epoch"].max()) if len(history) else 1
        ax.set_xlim(0.5, last_epoch + 0.5)
        if last_epoch <= 12:
            ax.set_xticks(range(1, last_epoch + 1))
        else:
            ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes[len(shown) :]:
        ax.set_axis_off()
    fig.suptitle("Winners: train and validation loss", fontsize=11)
    fig.tight_layout()
    return _save(
        fig, "loss_curves", path, "Train (solid) and validation (dashed) loss of each winner by epoch."
    )


NO_TEST = "No test evaluation was run (`seqsweep results --no-test`)."
"""The confusion figure's text when `results` was told not to score the test split."""


def plot_confusion(confusion: np.ndarray | None, path: Path, title: str = "") -> PlotFile:
    """The winner's test confusion matrix: counts, with the share of each true class in brackets.
    Without one (`confusion` None) the figure says why: `title` (e.g. no predict hook), else `NO_TEST`."""
    fig = _figure("confusion")
    ax = fig.add_subplot()
    if confusion is None:
        reason = title or NO_TEST
        _placeholder(ax, textwrap.fill(reason, 48))
        return _save(
            fig, "confusion", path, f"Winner's confusion matrix on the test split, not computed: {reason}"
        )
    counts = np.asarray(confusion, dtype=np.int64)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            color = "white" if shares[i, j] > 0.6 else "black"
            ax.text(j, i, f"{counts[i, j]}\n({shares[i, j]:.0%})", ha="center", va="center", color=color)
    ticks = range(len(CLASS_NAMES))
    ax.set_xticks(ticks, CLASS_NAMES)
    ax.set_yticks(ticks, CLASS_NAMES)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or "Winner on the test split", fontsize=10)
    fig.colorbar(image, ax=ax, label="share of the true class")
    fig.tight_layout()
    caption = "Winner's confusion matrix on the test split, every target and horizon step pooled."
    return _save(fig, "confusion", path, caption)


def plot_f1_vs_param(
    experiment: Experiment, ranked: list[TrialSummary], winners: list[TrialSummary], name: str, path: Path
) -> PlotFile:
    """Validation macro-F1 (best epoch) of every ranked trial against one searched parameter.

    A range parameter is a scatter (log axis when the sweep searches it on a log scale); a `choice`
    is a strip with a small horizontal jitter. Winners are coloured and labelled.
    """
    fig = _figure("f1_vs_param")
    ax = fig.add_subplot()
    points = [
        (t, t.params.get(name), t.val_macro_f1)
        for t in ranked
        if t.val_macro_f1 is not None and t.params.get(name) is not None
    ]
    winner_rank = {t.trial_id: i for i, t in enumerate(winners, start=1)}
    values = [v for _, v, _ in points]
    categorical = _categorical(experiment, name, values)
    rng = np.random.default_rng(0)
    if categorical:
        levels = sorted({repr(v) for v in values}, key=_natural)
        positions = {level: i for i, level in enumerate(levels)}
        xs = [positions[repr(v)] + rng.uniform(-0.12, 0.12) for v in values]
        ax.set_xticks(range(len(levels)), [level.strip("'") for level in levels])
        ax.set_xlim(-0.6, len(levels) - 0.4)
    else:
        xs = [float(v) for v in values if v is not None]
        if _log_scale(experiment, name):
            ax.set_xscale("log")
    for (trial, _, f1), x in zip(points, xs, strict=True):
        rank = winner_rank.get(trial.trial_id)
        if rank is None:
            ax.scatter(x, f1, color=OTHER_COLOR, s=28, zorder=2)
        else:
            ax.scatter(x, f1, color=WINNER_COLORS[(rank - 1) % len(WINNER_COLORS)], s=46, zorder=3)
            ax.annotate(f"#{rank}", (x, f1), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.scatter([], [], color=OTHER_COLOR, s=28, label="other ranked trials")
    ax.scatter([], [], color=WINNER_COLORS[0], s=46, label="winners (#rank)")
    ax.legend(fontsize=7, loc="best")
    ax.set_xlabel(name)
    ax.set_ylabel("validation macro-F1 (best epoch)")
    excluded = len(experiment.excluded)
    note = f"; {excluded} errored/NaN/pending/lost not shown" if excluded else ""
    ax.set_title(f"val macro-F1 vs {name} ({counted(len(points), 'trial')}{note})", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    kind = "strip" if categorical else "scatter"
    return _save(fig, "f1_vs_param", path, f"Validation macro-F1 against {name} ({kind}).")


def plot_param_importances(experiment: Experiment, path: Path) -> tuple[PlotFile | None, str]:
    """(the chart of Optuna's importances, how computed), or (None, why not): nothing is drawn then."""
    importances, reason = param_importances(experiment)
    if importances is None:
        return None, reason
    fig = _figure("param_importances")
    ax = fig.add_subplot()
    names = list(importances)[::-1]
    values = [importances[n] for n in names]
    ax.barh(names, values, color=WINNER_COLORS[0])
    for y, value in enumerate(values):
        ax.text(value, y, f" {value:.2f}", va="center", fontsize=8)
    ax.set_xlim(0, max(values) * 1.15 or 1.0)
    ax.set_xlabel("importance (share of the objective's variance)")
    ax.set_title(f"Parameter importances ({reason})", fontsize=10)
    fig.tight_layout()
    return _save(fig, "param_importances", path, f"Optuna parameter importances, {reason}."), reason


def param_importances(experiment: Experiment) -> tuple[dict[str, float] | None, str]:
    """(importances, how they were computed) or (None, why not).

    Needs `MIN_IMPORTANCE_TRIALS` usable complete study trials: with fewer, the forest Optuna fits
    has too few points for its shares to mean anything. An experiment that ranks fewer trials than that
    cannot have them, so its study is not opened at all (Optuna's import and the storage's connection
    cost a small experiment's `results` about half a second).

    The study's COMPLETE trials are used, only those this experiment ranks (their Ray trial id is a
    user attribute of each study trial), so the importances rest on the same trials as the
    leaderboard: errored and NaN trials are left out, and so are the points a `warm_start` copied
    from an earlier experiment (Ray's `OptunaSearch.add_evaluated_point` adds them as COMPLETE trials
    without a Ray trial id). Pruned (ASHA-stopped) trials have no final value and are left out too.
    """
    storage, why_not = experiment.study_storage()
    if storage is None:
        return None, why_not
    ranked = {t.trial_id for t in experiment.trials if t.ranked}
    if len(ranked) < MIN_IMPORTANCE_TRIALS:
        return None, _too_few_for_importances(len(ranked))
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    from seqsweep.db_url import absolute_sqlite, mask, scrub
    from seqsweep.layout import read_experiment_id
    from seqsweep.tuning.study_owner import OWNER_ATTR, OWNER_DIR_ATTR, RAY_TRIAL_ID_ATTR, sqlite_study_file

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study_file = sqlite_study_file(absolute_sqlite(storage))
    if study_file is not None and not study_file.exists():  # Optuna would make an empty one
        return None, f"the study storage {mask(storage)} has no file {study_file}"
    try:
        study = optuna.load_study(study_name=experiment.name, storage=storage)
    except (KeyError, ValueError, RuntimeError) as exc:
        return None, f"cannot open the study {experiment.name!r} ({exc})"
    except SQLAlchemyError as exc:  # a server that is down, a database dropped: the report goes on
        reason = scrub(" ".join(str(getattr(exc, "orig", None) or exc).split()), storage)[:200]
        return None, f"cannot open the study storage {mask(storage)} ({reason})"
    if study.user_attrs.get(OWNER_ATTR) != read_experiment_id(experiment.path):
        owner = study.user_attrs.get(OWNER_DIR_ATTR) or "no experiment"
        return None, (
            f"the study {experiment.name!r} in {mask(storage)} is not this experiment's (it belongs to "
            f"{owner}; a relative `search.storage` path names another file from another folder)"
        )
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    usable = [
        t
        for t in complete
        if t.value is not None and math.isfinite(t.value) and t.user_attrs.get(RAY_TRIAL_ID_ATTR) in ranked
    ]
    seeded = sum(RAY_TRIAL_ID_ATTR not in t.user_attrs for t in complete)
    seeded_note = f"; the {seeded} warm-start points from an earlier experiment left out" if seeded else ""
    if len(usable) < MIN_IMPORTANCE_TRIALS:
        return None, _too_few_for_importances(len(usable), seeded_note)
    subset = optuna.create_study(direction=study.direction)
    subset.add_trials(usable)
    try:
        importances = optuna.importance.get_param_importances(subset)
    except (ValueError, RuntimeError) as exc:
        return None, f"Optuna could not compute them ({exc})"
    if not importances:
        return None, "Optuna returned no importances"
    return dict(importances), (
        f"{len(usable)} complete trials; pruned, failed and NaN ones left out{seeded_note}"
    )


def _too_few_for_importances(usable: int, seeded_note: str = "") -> str:
    """Why no importances are drawn from `usable` (< `MIN_IMPORTANCE_TRIALS`) trials."""
    return (
        f"they need at least {MIN_IMPORTANCE_TRIALS} finished, valid trials of this experiment and it has "
        f"{usable} (trials ASHA stopped early have no final value and do not count{seeded_note}); shares "
        "fitted on so few points would be noise"
    )


def _figure(kind: str) -> Figure:
    fig = Figure(figsize=FIGURE_SIZES[kind], dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, kind: str, path: Path, caption: str) -> PlotFile:
    # No bbox_inches="tight": the pixel size stays as stated. No "Software" chunk: the bytes carry no URL.
    fig.savefig(path, dpi=DPI, format="png", metadata={"Software": None})
    logger.debug("wrote %s", path)
    return PlotFile(kind=kind, path=path, caption=caption)


def _placeholder(ax: Any, text: str) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=11, wrap=True, color="#555555")


def _categorical(experiment: Experiment, name: str, values: list[Any]) -> bool:
    """A `choice` parameter (even of numbers) is a category; without a sweep file, any non-number is."""
    param = experiment.sweep.space.get(name) if experiment.sweep is not None else None
    if param is not None:
        return getattr(param, "kind", "") == "choice"
    return not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _log_scale(experiment: Experiment, name: str) -> bool:
    param = experiment.sweep.space.get(name) if experiment.sweep is not None else None
    return bool(getattr(param, "log", False)) or getattr(param, "kind", "") == "loguniform"


def _natural(text: str) -> tuple[int, float | str]:
    try:
        return (0, float(text.strip("'")))
    except ValueError:
        return (1, text)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
