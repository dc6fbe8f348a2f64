"""Reserved names shared by the data plane, the trainables, the searchers and the reports.

Keeping them in one module means a metric is spelled once; a typo becomes an import error.
"""

from typing import Final

MASK_VALUE: Final[float] = -50.0
"""Missing inputs and targets carry this value (the notebook's). Losses and metrics skip it."""

N_CLASSES: Final[int] = 3
"""Classes per target and horizon step: 0 = down, 1 = flat, 2 = up."""

CLASS_NAMES: Final[tuple[str, str, str]] = ("down", "flat", "up")

SPLITS: Final[tuple[str, str, str]] = ("train", "valid", "test")

# --- metric keys reported by every trial, each epoch -------------------------------------------
TRAIN_LOSS: Final = "train_loss"
"""Mean training loss over the epoch's batches (masked cross-entropy, plus KL for the VAE)."""
VAL_LOSS: Final = "val_loss"
"""Loss on the validation windows, same definition as `train_loss`."""
VAL_MACRO_F1: Final = "val_macro_f1"
"""The default search metric: the mean over (target, step) cells of each cell's three-class macro-F1 on the
validation windows, masked positions skipped (see `seqsweep.metrics` for why not pooled)."""
VAL_MACRO_F1_POOLED: Final = "val_macro_f1_pooled"
"""The notebook's score: one three-class macro-F1 over every pooled (window, step, target) position.
Reported beside `val_macro_f1`, never the default: a constant guess per target can score well on it."""
VAL_SKILL: Final = "val_skill"
"""`val_macro_f1` minus persistence's `val_macro_f1` on the same validation windows (> 0: beats
persistence). `search.metric: val_skill` ranks models by what they add over the last observed move."""
VAL_MACRO_F1_FOLD_STD: Final = "val_macro_f1_fold_std"
"""Walk-forward trials only (`dataset.split.folds` > 1): the standard deviation (ddof 0) over folds of
`val_macro_f1` in the epoch; every other validation metric is then the mean over folds."""
VAL_ACCURACY: Final = "val_accuracy"
VAL_PRECISION: Final = "val_precision_macro"
VAL_RECALL: Final = "val_recall_macro"
VAL_MSE: Final = "val_mse"
"""Only for the regression objective: mean squared error of the predicted moves on validation."""
EPOCH: Final = "epoch"
"""1-based epoch number of the report (Ray's `training_iteration` counts reports, which is the same)."""
FINAL_EPOCH: Final = "final_epoch"
"""True on the report after which the trial's own loop ends (its last epoch or its plateau stop).

Only a hint: what stopped a trial is what Tune decided (`seqsweep.tuning.searchers.StopRecord`).
A trial the scheduler or budget stopped at a report carrying this mark is still COMPLETE in Optuna.
"""
EARLY_STOPPED: Final = "early_stopped"
"""True when the family's own plateau rule ended training before `epochs`."""
NODE_ID: Final = "node_id"
"""Ray node that ran the report; lets a user see how trials spread over a cluster."""
WORKERS: Final = "workers"
"""Data-parallel workers that trained the epoch; reported by multi-worker trials only."""

REPORTED_METRICS: Final[tuple[str, ...]] = (
    TRAIN_LOSS,
    VAL_LOSS,
    VAL_MACRO_F1,
    VAL_MACRO_F1_POOLED,
    VAL_SKILL,
    VAL_ACCURACY,
    VAL_PRECISION,
    VAL_RECALL,
)

DEFAULT_METRIC: Final = VAL_MACRO_F1
DEFAULT_MODE: Final = "max"
MIN_MODE_METRICS: Final[tuple[str, ...]] = (TRAIN_LOSS, VAL_LOSS, VAL_MSE)
"""Metrics where lower is better: `search.mode` defaults to `min` for them, `max` for every other."""
SEARCH_METRICS: Final[tuple[str, ...]] = (*REPORTED_METRICS, VAL_MSE)
"""What `search.metric` may name (`val_mse` only with the regression objective)."""

METRIC_RANGES: Final[dict[str, tuple[float, float]]] = {
    **{
        name: (0.0, 1.0)
        for name in (VAL_MACRO_F1, VAL_MACRO_F1_POOLED, VAL_ACCURACY, VAL_PRECISION, VAL_RECALL)
    },
    VAL_SKILL: (-1.0, 1.0),
    **{name: (0.0, float("inf")) for name in MIN_MODE_METRICS},
}
"""What each search metric of a model family can report (scores are fractions, not percentages)."""

NOTEBOOK_SYMBOLS: Final[tuple[str, ...]] = (
    "1INCHUSDT", "BALUSDT", "BATUSDT", "CRVUSDT", "ENJUSDT", "ENSUSDT", "KNCUSDT", "LINKUSDT",
    "MANAUSDT", "MKRUSDT", "RENUSDT", "SNXUSDT", "UNIUSDT", "WBTCUSDT", "YFIUSDT", "ZRXUSDT",
)  # fmt: skip
"""The 16 symbols of the notebook's query, the default symbol list."""

DB_URL_ENV: Final = "SEQSWEEP_DB_URL"
"""Environment variable read for the database URL when no `--db` is given."""

STUDY_URL_ENV: Final = "SEQSWEEP_STUDY_URL"
"""Environment variable that supplies `search.storage` (the Optuna study's RDB URL) when the stored or
submitted sweep carries it with its password hidden."""

DEFAULT_SAMPLE_DB: Final = "~/.cache/seqsweep/sample.db"
SAMPLE_SEED: Final = 0
"""Seed of the generated embedded default (`seqsweep data sample`)."""
SAMPLE_HOURS: Final = 1200
"""Hours per symbol of the generated embedded default."""
"""Where the generated embedded database lives when neither `--db` nor the environment names one."""
