"""Winners and baselines scored on the validation and test windows, with intervals on test.

The winners were chosen on validation scores before anything here runs; nothing computed here flows
back into the choice. Every score comes from `seqsweep.metrics`, the functions the trials used for
their validation scores, so the two mean the same thing. The ranking score `macro_f1` is the mean of
the per-(target, step) cell macro-F1; `macro_f1_pooled` (the notebook's pooled score) is shown beside it.

Baselines (`seqsweep.baselines`), on exactly the same windows of each split:
- majority: per target and horizon step, the most frequent class among the train split's labels;
- persistence: the last observed one-step move m of the target repeats, so the move h steps ahead is
  h·m, classified with the train-fitted label thresholds of step h (flat when m is not observed).

On test each winner is compared with both baselines by a moving-block bootstrap over the test
windows (`seqsweep.results.bootstrap`), and the verdict follows the interval. It is also compared
with its own score by chance (`CHANCE`: the same class shares drawn without looking at the input): a
winner that ignores its input can beat both baselines (a random guess scores about 1/3 per cell, the
train majority 1/6, and persistence scores below chance on a mean-reverting series), so the verdict
says so when the winner does not beat chance.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqsweep import metrics
from seqsweep.baselines import DESCRIPTIONS as BASELINE_DESCRIPTIONS
from seqsweep.baselines import baseline_predictions, persistence_moves, persistence_valid_f1
from seqsweep.constants import CLASS_NAMES, MASK_VALUE
from seqsweep.data.bundle import DatasetBundle
from seqsweep.errors import ConfigError, DataError
from seqsweep.results import bootstrap
from seqsweep.results.experiment import Experiment, TrialSummary
from seqsweep.results.winner_outputs import WinnerOutput, missing_checkpoint, winner_outputs

logger = logging.getLogger(__name__)

TEST_SPLIT = "test"
VALID_SPLIT = "valid"
PERSISTENCE = "persistence"
MAJORITY = "majority"
ZERO_MOVE = "zero_move"
CHANCE = bootstrap.CHANCE
"""The winner's own predictions scored as if independent of the labels (`metrics.chance_counts`)."""
TEST_NOTE = (
    "The test split is never used to choose: winners, their best epochs and every threshold come from the "
    "train and validation splits. Test scores are computed afterwards, for the winners only."
)
VALID_NOTE = (
    "Validation windows, the ones the trials were ranked on: a trial below persistence here has learnt "
    "less than repeating the last observed move. A trial above it here is not shown to beat it: the "
    "winners were chosen for these scores, the best of many tries, so theirs are biased upward; read the "
    "verdict on test (the answer)."
)
FOLDS_NOTE = (
    " The trials were ranked on the mean over {k} walk-forward folds; here each winner is its last fold's "
    "model (the one exported), on the last validation block."
)
"""Appended to the validation note when the dataset has k > 1 walk-forward folds."""
ONE_CLASS_CLAUSE = (
    "and it predicts one class in every (target, step) cell on {split}: a constant guess that ignores its "
    "input, whatever it beats"
)
"""The verdict's last clause for a winner whose predictions on the split are one class per cell."""
VALID_BELOW_CLAUSE = (
    "yet on validation, where it was chosen, it scored below persistence ({winner:.4f} vs {persistence:.4f}"
    "{folds}): its lead shows on test only, not in both periods"
)
"""The verdict's clause for a winner that beats persistence on test but scored below it on validation
(`valid_below_clause` fills it)."""
FOLDS_MEAN = ", means over the {k} walk-forward folds it was ranked by"
"""`VALID_BELOW_CLAUSE`'s `{folds}` under k > 1 folds: the scores compared are the ranking's aggregate."""


def valid_below_clause(winner: float, persistence: float, folds: int = 1) -> str:
    """`VALID_BELOW_CLAUSE` for a winner's and persistence's validation macro_f1; with `folds` > 1 both are
    means over the folds (the aggregate the winner was ranked by), and the clause says so."""
    where = FOLDS_MEAN.format(k=folds) if folds > 1 else ""
    return VALID_BELOW_CLAUSE.format(winner=winner, persistence=persistence, folds=where)


SCORE_KEYS = ("macro_f1", "macro_f1_pooled", "accuracy", "precision_macro", "recall_macro")
"""The scores each table shows; `macro_f1` (mean of the per-cell macro-F1) ranks."""


@dataclass(frozen=True)
class ScoreSet:
    """Scores of one predictor (a winner or a baseline) on the windows of one split."""

    name: str
    kind: str
    """`winner` or `baseline`."""
    description: str
    scores: dict[str, float]
    """`SCORE_KEYS`: macro_f1 (mean over cells), macro_f1_pooled, accuracy, precision_macro, recall_macro."""
    f1_per_class: list[float]
    by_step: list[dict[str, Any]]
    """One row per (target, horizon step) cell: that cell's scores and per-class F1."""
    confusion: np.ndarray
    """(3, 3) counts, rows = true class, columns = predicted."""
    vs_baselines: dict[str, bootstrap.Interval] = field(default_factory=dict)
    """Winners on test only: macro_f1 minus each baseline's, with its bootstrap interval."""
    mse: float | None = None
    """Mean squared error of the predicted moves (scaled units), for predictors that predict moves."""
    one_class: bool = False
    """The predictor gave one class in every (target, step) cell of the split: whatever it scores, it
    ignores its input (a constant guess of another class than the train majority can beat majority)."""
    by_symbol: dict[str, float] = field(default_factory=dict)
    """macro_f1 on each symbol's windows alone (`macro_f1_by_symbol`), when the split holds several
    symbols; a symbol without a scored label is left out."""
    valid_vs_persistence: tuple[float, float] | None = None
    """Winners on test: (its macro_f1, persistence's) on validation, where it was chosen, as it was ranked
    (under walk-forward folds, each the mean over the folds: `valid_folds`); a winner that beats
    persistence on test while below it there is told so (`VALID_BELOW_CLAUSE`)."""
    valid_folds: int = 1
    """The folds `valid_vs_persistence` is a mean over (1: the one validation split)."""

    def verdict(self, baseline: str = PERSISTENCE, split: str = TEST_SPLIT) -> str | None:
        """The sentence on this winner against `baseline` (None without an interval), with a clause when
        it does not beat the majority baseline either (`bootstrap.constant_clause`): a constant guess
        that ignores the input scored as well, which persistence's sentence alone does not say; one when
        it does not beat its own score by chance (`bootstrap.chance_clause`): its classes, in the same
        shares at random, score as well, however far above both baselines; and one when the winner
        itself predicted one class per cell (`one_class`, which is chance exactly), whatever it beat."""
        interval = self.vs_baselines.get(baseline)
        if interval is None:
            return None
        sentence = bootstrap.verdict(interval, baseline, split)
        clauses = []
        constant = self.vs_baselines.get(MAJORITY)
        if baseline != MAJORITY and constant is not None and not constant.beats and not constant.too_short:
            clauses.append(bootstrap.constant_clause(constant, MAJORITY))
        chance = self.vs_baselines.get(CHANCE)
        if chance is not None and not chance.beats and not chance.too_short and not self.one_class:
            clauses.append(bootstrap.chance_clause(chance))
        for i, clause in enumerate(clauses):
            joined = ", but it does not beat" if interval.beats and i == 0 else "; nor does it beat"
            sentence = f"{sentence}{joined} {clause}"
        valid = self.valid_vs_persistence
        if baseline == PERSISTENCE and interval.beats and valid is not None and valid[0] < valid[1]:
            sentence = f"{sentence}; {valid_below_clause(valid[0], valid[1], self.valid_folds)}"
        if self.one_class:
            sentence = f"{sentence}; {ONE_CLASS_CLAUSE.format(split=split)}"
        return sentence

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            **self.scores,
            "f1_per_class": dict(zip(CLASS_NAMES, self.f1_per_class, strict=True)),
            "by_step": [
                {**row, "f1_per_class": dict(zip(CLASS_NAMES, row["f1_per_class"], strict=True))}
                for row in self.by_step
            ],
            "confusion": self.confusion.tolist(),
        }
        if self.vs_baselines:
            out["vs_baselines"] = {name: i.to_dict() for name, i in self.vs_baselines.items()}
            out["verdict"] = self.verdict()
        if self.mse is not None:
            out["mse"] = self.mse
        if self.one_class:
            out["one_class"] = True
        if self.by_symbol:
            out["by_symbol"] = dict(self.by_symbol)
        return out


@dataclass(frozen=True)
class SplitEvaluation:
    """The winners' and the baselines' scores on one split's windows (the same windows for every row)."""

    split: str
    n_windows: int
    n_positions: int
    """Unmasked (window, step, target) labels scored."""
    target_names: tuple[str, ...]
    horizon: int
    period: tuple[str, str]
    """First and last timestamp a window ends at (UTC)."""
    dataset_key: str
    winners: tuple[ScoreSet, ...]
    baselines: tuple[ScoreSet, ...]
    note: str = TEST_NOTE
    bootstrap: bootstrap.BootstrapSettings | None = None
    """How the winners' intervals were drawn (test only)."""
    mse_baselines: dict[str, float] = field(default_factory=dict)
    """MSE of the baselines' moves, when a winner predicts moves: zero_move (always 0) and persistence (h·m)."""
    symbol_windows: dict[str, int] = field(default_factory=dict)
    """Windows of each symbol in the split, when it holds several (the predictors' `by_symbol` keys)."""

    def winner(self, trial_id: str) -> ScoreSet:
        for score in self.winners:
            if score.name == trial_id:
                return score
        raise KeyError(trial_id)

    def baseline(self, name: str) -> ScoreSet:
        for score in self.baselines:
            if score.name == name:
                return score
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "split": self.split,
            "note": self.note,
            "n_windows": self.n_windows,
            "n_positions": self.n_positions,
            "target_names": list(self.target_names),
            "horizon": self.horizon,
            "period": list(self.period),
            "dataset_key": self.dataset_key,
            "winners": [s.to_dict() for s in self.winners],
            "baselines": [s.to_dict() for s in self.baselines],
        }
        if self.bootstrap is not None:
            out["bootstrap"] = self.bootstrap.to_dict()
        if self.mse_baselines:
            out["mse_baselines"] = dict(self.mse_baselines)
        if self.symbol_windows:
            out["symbol_windows"] = dict(self.symbol_windows)
        return out


TestEvaluation = SplitEvaluation
"""The test split's evaluation (the name the package exported first)."""


@dataclass(frozen=True)
class Evaluations:
    """What `evaluate_winners` returns: validation (baselines, and winners when scored) and test."""

    valid: SplitEvaluation | None
    test: SplitEvaluation | None


def load_dataset(experiment: Experiment, db_url: str | None = None) -> DatasetBundle:
    """The dataset the experiment's trials trained on, read from the build cache on the storage path.

    The experiment records its dataset's cache key (`seqsweep_dataset.json`); that dataset is read
    back without asking the database or starting Ray. Only when it is gone from the cache (or the
    experiment predates the record) is it rebuilt from the database, and a rebuild that gives other
    rows than the trials saw is refused: test scores on another dataset would not be the winners'.
    Raises ConfigError without a sweep copy, DataError when the rows changed.
    """
    from seqsweep.data import build_dataset
    from seqsweep.data import cache as dataset_cache
    from seqsweep.layout import dataset_cache_dir
    from seqsweep.tuning.dataset_record import dataset_change

    if experiment.sweep is None:
        raise ConfigError(f"{experiment.path}: no sweep.yaml, so the dataset to test on is unknown")
    spec = experiment.sweep.file.dataset
    cache = dataset_cache_dir(experiment.storage_root)
    recorder, recorded = dataset_record(experiment.path)
    if recorded is not None and cache is not None:
        cached = dataset_cache.load(spec, recorded, cache)
        if cached is not None:
            return cached

    def refuse_another(key: str, embedding: tuple[str, str]) -> None:
        """Rows that changed are refused once read, before a dataset is built for nothing."""
        if recorded is not None and key != recorded:
            raise DataError(
                f"{experiment.path}: its dataset {recorded} is gone from {cache} and a rebuild gives another "
                f"(dataset {key}), on which scores would not be the winners': "
                f"{dataset_change(recorder, embedding)}"
            )

    return build_dataset(spec, db_url=db_url, cache_dir=cache, check_key=refuse_another)


def dataset_record(experiment_dir: Path) -> tuple[Path, str | None]:
    """The folder recording the dataset an experiment's trials trained on, and its cache key (None when
    none is recorded). A `results --reseed` run (`DIR/reseed/run-K`) made before reruns recorded their own
    has DIR's: the reruns trained on it. Without that, `results` or `export` of such a run rebuilt the
    dataset from the database as it is now, and scored (or exported scalers for) other rows than the
    reruns saw, without a word."""
    from seqsweep.layout import reseed_origin
    from seqsweep.tuning.dataset_record import recorded_dataset_key

    recorded = recorded_dataset_key(experiment_dir)
    origin = reseed_origin(experiment_dir)
    if recorded is None and origin is not None:
        return origin, recorded_dataset_key(origin)
    return experiment_dir, recorded


def evaluate_winners(
    experiment: Experiment,
    winners: list[TrialSummary],
    bundle: DatasetBundle | None = None,
    *,
    db_url: str | None = None,
    cpus: int | None = None,
    test: bool = True,
    draws: int = bootstrap.DRAWS,
    seed: int = bootstrap.SEED,
) -> Evaluations:
    """Score each winner's best checkpoint and both baselines on validation and (with `test`) test.

    Without `test` no checkpoint is loaded: validation holds the baselines only. Test winners get
    intervals against both baselines from `draws` seeded block-bootstrap draws. Raises ConfigError
    when a winner's best checkpoint was not kept, or when the experiment has no sweep.yaml.
    """
    bundle = bundle if bundle is not None else load_dataset(experiment, db_url)
    unavailable = None
    if test:  # the baselines are scored on both splits whatever; the line says which winner is not and why
        unavailable, winners = function_test_unavailable(experiment, winners)
    splits = (VALID_SPLIT, TEST_SPLIT) if test else ()
    outputs = (
        {t.trial_id: winner_outputs(t, bundle, splits, cpus=cpus, keep_in=experiment.path) for t in winners}
        if test
        else {}
    )
    folds = f"; the last of its {bundle.n_folds} fold models" if bundle.n_folds > 1 else ""
    descriptions = {
        t.trial_id: f"best epoch {t.best_epoch} of trial {t.trial_id} ({t.family}{folds})" for t in winners
    }

    def of(split: str) -> dict[str, tuple[str, WinnerOutput]]:
        return {tid: (descriptions[tid], out[split]) for tid, out in outputs.items()}

    valid_note = VALID_NOTE + (FOLDS_NOTE.format(k=bundle.n_folds) if bundle.n_folds > 1 else "")
    valid = evaluate_split(bundle, VALID_SPLIT, of(VALID_SPLIT) if test else {}, note=valid_note)
    tested = None
    if test:
        settings = bootstrap.settings_for(bundle, TEST_SPLIT, draws=draws, seed=seed)
        tested = evaluate_split(
            bundle,
            TEST_SPLIT,
            of(TEST_SPLIT),
            note=TEST_NOTE
            if unavailable is None
            else f"{TEST_NOTE} {unavailable}."
            if winners
            else unavailable,
            intervals=settings,
        )
        tested = with_valid_scores(tested, valid, winners, bundle)
    return Evaluations(valid=valid, test=tested)


def with_valid_scores(
    test: SplitEvaluation,
    valid: SplitEvaluation,
    trials: Sequence[TrialSummary] = (),
    bundle: DatasetBundle | None = None,
) -> SplitEvaluation:
    """`test` with each winner's `valid_vs_persistence`: its validation macro_f1 and persistence's, as the
    winner was ranked. One split: the scores in `valid`. Walk-forward folds (`bundle.n_folds` = k > 1):
    `valid` holds the last fold's model on the last validation block only, but a trial was ranked by
    the mean over the k folds, so the comparison is its reported `val_macro_f1` (that mean, at its best
    epoch, from `trials`) against persistence's mean over the same k folds' validation windows; a
    winner without a reported score gets none."""
    folds = bundle.n_folds if bundle is not None else 1
    if bundle is not None and folds > 1:
        persistence = float(np.mean([persistence_valid_f1(bundle.fold(f)) for f in range(folds)]))
        reported = {t.trial_id: t.val_macro_f1 for t in trials}
        scored = {name: value for name, value in reported.items() if value is not None}
    else:
        persistence = valid.baseline(PERSISTENCE).scores["macro_f1"]
        scored = {w.name: w.scores["macro_f1"] for w in valid.winners}
    winners = tuple(
        replace(w, valid_vs_persistence=(scored[w.name], persistence), valid_folds=folds)
        if w.name in scored
        else w
        for w in test.winners
    )
    return replace(test, winners=winners)


def function_test_unavailable(
    experiment: Experiment, winners: list[TrialSummary]
) -> tuple[str | None, list[TrialSummary]]:
    """(a line saying which winners of a training-function sweep (`trainable:`) cannot be scored on test
    and why, the winners that can). None of them can when the module has no `predict(checkpoint_dir,
    windows)` hook; a winner that reported no checkpoint cannot, the others still are (one such winner
    used to take every winner's test scores away). (None, `winners`) for every other sweep, and when the
    hook and the checkpoints are there. ConfigError when a winner's named checkpoint is gone from disk."""
    from seqsweep.trainables.function import PREDICT_HOOK, hook_import_error, predict_hook

    function = experiment.sweep.file.trainable if experiment.sweep is not None else None
    if function is None:
        return None, winners
    module = function.partition(":")[0]
    if predict_hook(function) is None:
        return (
            f"test scores unavailable: the training function {function} has no `{PREDICT_HOOK}(checkpoint_dir, "
            f"windows)` hook in {module} (importable here){hook_import_error(function)}, so its winners are "
            f"ranked on validation only"
        ), []
    deleted = next((t for t in winners if t.missing_checkpoint is not None), None)
    if deleted is not None:
        raise ConfigError(missing_checkpoint(deleted))
    without = [t.trial_id for t in winners if t.checkpoint is None]
    if not without:
        return None, winners
    which = f"winner {without[0]}" if len(without) == 1 else f"winners {', '.join(without)}"
    return (
        f"test scores unavailable for {which} of {function}: no kept checkpoint at the best epoch (report "
        f"a checkpoint_dir each step, or raise checkpoints.keep); the other winners are scored"
    ), [t for t in winners if t.checkpoint is not None]


def evaluate_split(
    bundle: DatasetBundle,
    split: str,
    winners: dict[str, tuple[str, WinnerOutput]],
    *,
    note: str = TEST_NOTE,
    intervals: bootstrap.BootstrapSettings | None = None,
) -> SplitEvaluation:
    """Score the given winners' outputs ({trial id: (description, output)}) and both baselines on `split`.

    With `intervals`, each winner's `vs_baselines` holds macro_f1(winner) - macro_f1(baseline) and its
    block-bootstrap percentile interval over the windows of `split`.
    """
    labels = bundle.splits[split].labels
    targets = tuple(bundle.target_names)
    base = baseline_predictions(bundle, split)
    compared: dict[tuple[str, str], bootstrap.Interval] = {}
    if intervals is not None and winners:
        predictions = {**base, **{tid: out.classes for tid, (_, out) in winners.items()}}
        pairs = [(tid, name) for tid in winners for name in base]
        compared = bootstrap.compare(
            labels,
            predictions,
            pairs,
            bootstrap.window_groups(bundle, split),
            intervals,
            chance=list(winners),
        )
    moves = bundle.splits[split].moves
    symbols = window_symbols(bundle, split)
    scored = tuple(
        score_set(
            tid,
            "winner",
            description,
            labels,
            out.classes,
            targets,
            vs_baselines={name: compared[(tid, name)] for name in (*base, CHANCE) if (tid, name) in compared},
            mse=None if out.moves is None else metrics.masked_mse(moves, out.moves),
            one_class=predicts_one_class(labels, out.classes),
            symbols=symbols,
        )
        for tid, (description, out) in winners.items()
    )
    baselines = tuple(
        score_set(name, "baseline", BASELINE_DESCRIPTIONS[name], labels, predicted, targets, symbols=symbols)
        for name, predicted in base.items()
    )
    mse_baselines = {}
    if any(s.mse is not None for s in scored):
        mse_baselines[ZERO_MOVE] = metrics.masked_mse(moves, np.zeros_like(moves))
        mse_baselines[PERSISTENCE] = metrics.masked_mse(moves, persistence_moves(bundle, split)[0])
    return SplitEvaluation(
        split=split,
        n_windows=len(bundle.splits[split]),
        n_positions=int((labels != MASK_VALUE).sum()),
        target_names=targets,
        horizon=bundle.spec.horizon,
        period=_period(bundle, split),
        dataset_key=bundle.cache_key,
        winners=scored,
        baselines=baselines,
        note=note,
        bootstrap=intervals if winners else None,
        mse_baselines=mse_baselines,
        symbol_windows=_window_counts(symbols),
    )


def window_symbols(bundle: DatasetBundle, split: str) -> np.ndarray | None:
    """(n,) object array: the symbol of each window of `split` (the symbol of its last observed row);
    None when the split holds fewer than two symbols (a breakdown by symbol would repeat the total)."""
    ends = bundle.splits[split].ends
    if not len(ends):
        return None
    codes = np.asarray(bundle.row_symbol[ends])
    if np.unique(codes).size < 2:
        return None
    return np.asarray(bundle.symbols, dtype=object)[codes]


def _window_counts(symbols: np.ndarray | None) -> dict[str, int]:
    """{symbol: windows} of `window_symbols`' array, sorted by symbol; empty for None."""
    if symbols is None:
        return {}
    names, counts = np.unique(symbols, return_counts=True)
    return {str(name): int(n) for name, n in zip(names, counts, strict=True)}


def macro_f1_by_symbol(labels: np.ndarray, predictions: np.ndarray, symbols: np.ndarray) -> dict[str, float]:
    """{symbol: macro_f1 (`metrics.scores`) of `predictions` on that symbol's windows alone}, symbols in
    sorted order. `labels`, `predictions` (n, H, T); `symbols` (n,) each window's symbol. A symbol
    without a scored (unmasked) label is left out: its score would read 0.0, a score of nothing."""
    out = {}
    for symbol in sorted(set(symbols.tolist())):
        mine = symbols == symbol
        if (labels[mine] != MASK_VALUE).any():
            out[str(symbol)] = metrics.scores(labels[mine], predictions[mine])["macro_f1"]
    return out


def score_set(
    name: str,
    kind: str,
    description: str,
    labels: np.ndarray,
    predictions: np.ndarray,
    targets: tuple[str, ...],
    *,
    vs_baselines: dict[str, bootstrap.Interval] | None = None,
    mse: float | None = None,
    one_class: bool = False,
    symbols: np.ndarray | None = None,
) -> ScoreSet:
    """Every score of one predictor: `labels`, `predictions` (n, H, T), `targets` the T names; with
    `symbols` ((n,) each window's symbol), its macro_f1 on each symbol's windows too."""
    return ScoreSet(
        name=name,
        kind=kind,
        description=description,
        scores=metrics.scores(labels, predictions),
        f1_per_class=metrics.per_class_f1(labels, predictions),
        by_step=metrics.scores_by_step(labels, predictions, targets),
        confusion=metrics.confusion(labels, predictions),
        vs_baselines=dict(vs_baselines or {}),
        mse=mse,
        one_class=one_class,
        by_symbol={} if symbols is None else macro_f1_by_symbol(labels, predictions, symbols),
    )


def predicts_one_class(labels: np.ndarray, predictions: np.ndarray) -> bool:
    """True when `predictions` (n, H, T) hold a single class in every (target, step) cell, over the
    positions `labels` (masked with MASK_VALUE) score: a predictor that ignores its input. False when
    no position is scored."""
    scored = labels != MASK_VALUE
    if not scored.any():
        return False
    for h, t in np.ndindex(*labels.shape[1:]):
        if np.unique(predictions[:, h, t][scored[:, h, t]]).size > 1:
            return False
    return True


def _period(bundle: DatasetBundle, split: str) -> tuple[str, str]:
    ends = bundle.splits[split].ends
    if not len(ends):
        return ("", "")
    times = bundle.row_time[ends]
    return (str(pd.Timestamp(int(times.min()))), str(pd.Timestamp(int(times.max()))))
