"""`seqsweep predict BUNDLE --db URL`: class probabilities from an exported bundle, without Ray.

The rows come through the data plane's own source and feature code (`seqsweep.data.sources`,
`seqsweep.data.features.featurize_rows`) with the bundle's fitted preprocessing, so a prediction sees
exactly the features training saw. The bundle itself is read and checked by `model_bundle.load_bundle`.
This module must never import Ray (a test checks it).

The bundle's per-column input transforms (`preprocessing.json: extra.transforms`, from
`dataset.transform`) are applied to the rows read, as in training; a transform of x[t] and x[t−1]
needs one row before the window, so one more row is read per symbol.

A symbol the bundle never saw is embedded with the bundle's sentence model and PCA
(`features.embed_symbol`); as no train-split scaler exists for it, it is scaled with the mean and
standard deviation of its own history up to the prediction time, and the output says so.

Before the model sees a window, its scaled inputs are checked (`check_window`): an observed input
more than `MAX_SCALED_INPUT` standard deviations from the mean it was scaled with (a unit change), a
column whose window values are `MAX_UNIT_RATIO` times larger or smaller than in training (`check_units`:
a unit change down, or one a transform hides), or an input column that is NULL in all the symbol's recent rows (as the build refuses it), is one
`DataError` line; a column missing only in the window is named in the output's note, and so is a cell
masked in a row that holds other values (`masked_cells`). A bundle whose
rows come from `dataset.csv` reads that file; `--db` is refused there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from seqsweep.constants import CLASS_NAMES, MASK_VALUE
from seqsweep.data.bundle import Preprocessing
from seqsweep.data.ingest import canonical_symbol
from seqsweep.data.spec import DatasetSpec
from seqsweep.errors import ConfigError, DataError
from seqsweep.results import bundle_format as fmt
from seqsweep.results.model_bundle import ModelBundle

UNSEEN_HISTORY_ROWS = 10_000
"""Rows of its own history (up to the prediction time) that scale a symbol the bundle never saw."""

MAX_SCALED_INPUT = 100.0
"""Largest |scaled input| (standard deviations from the scaler's mean) `predict` accepts in a window.

Real market data stays far below it: volume spikes and crashes reach tens of standard deviations, and a
price level trending away from a calm training period a few tens; within its own training split no
value can even lie more than sqrt(n - 1) standard deviations from the mean (Samuelson's inequality),
so 100 is out of reach of any split up to 10,001 rows. A unit change lands far beyond it: volume in
other units (x1000) at hundreds to thousands of standard deviations, a price in cents at thousands.
"""

MAX_UNIT_RATIO = 30.0
"""Largest factor by which a column's typical size in the window (median |value|, in its own units, before
any transform) may differ from its train-split size, either way, before `predict` refuses it (`check_units`).

A unit change is a power of ten, mostly 100 (cents, percent) or 1000 (k), or more (satoshi, wei): 30 refuses
those, not a x10 (a volume's day-to-day swings reach that). A price or a volume whose typical level really
moved 30x since training is far outside what the model learnt from: retrain it. The scaled check
(`MAX_SCALED_INPUT`) cannot see the downward direction: x / k scales toward −mean / std.
"""

UNIT_CHECK_SKIPS: Final = frozenset({"yield"})  # `data.tables.YIELD` (not imported: SQLAlchemy)
"""Columns `check_units` leaves out: the yield's units are fixed by `prepare_rows`' plausibility check,
and a rate really moves 10x and more (0.1 % to 5 %) over a model's life."""


# --- from the database ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SymbolPrediction:
    symbol: str
    seen: bool
    """False: not in the training data (embedded with the bundle's model and PCA, scaled on its own history)."""
    window_end: str
    """Timestamp of the last observed row of the input window."""
    observed_rows: int
    """Rows of the window that hold at least one observed input (the rest are masked)."""
    probabilities: np.ndarray
    """(H, T, 3): per horizon step and target, P(down), P(flat), P(up)."""
    note: str = ""

    def rows(self, target_names: tuple[str, ...], step: pd.Timedelta | None) -> list[dict[str, Any]]:
        out = []
        end = pd.Timestamp(self.window_end)
        for t, target in enumerate(target_names):
            for h in range(self.probabilities.shape[0]):
                p = self.probabilities[h, t]
                out.append(
                    {
                        "symbol": self.symbol,
                        "target": target,
                        "step": h + 1,
                        "time": str(end + (h + 1) * step) if step is not None else None,
                        **{f"p_{name}": float(p[c]) for c, name in enumerate(CLASS_NAMES)},
                        "class": CLASS_NAMES[int(np.argmax(p))],
                    }
                )
        return out


@dataclass(frozen=True)
class Prediction:
    bundle: ModelBundle
    at: str | None
    symbols: tuple[SymbolPrediction, ...]

    def to_dict(self) -> dict[str, Any]:
        manifest = self.bundle.manifest
        return {
            "bundle": str(self.bundle.path),
            "family": manifest["family"],
            "trial_id": manifest["trial_id"],
            "test_verdict": self.bundle.test_verdict,
            "at": self.at,
            "classes": list(CLASS_NAMES),
            "symbols": [
                {
                    "symbol": s.symbol,
                    "seen_in_training": s.seen,
                    "note": s.note,
                    "window_end": s.window_end,
                    "observed_rows": s.observed_rows,
                    "predictions": s.rows(self.bundle.target_names, _step(self.bundle)),
                }
                for s in self.symbols
            ],
        }

    def describe(self) -> str:
        manifest = self.bundle.manifest
        lines = [
            f"bundle {self.bundle.path}: {manifest['family']} (trial {manifest['trial_id']}), "
            f"lookback {self.bundle.lookback}, horizon {self.bundle.horizon}, classes {'/'.join(CLASS_NAMES)}"
        ]
        if self.bundle.test_verdict:  # read the probabilities against it: a model may not beat persistence
            lines.append(f"verdict at export: the model {self.bundle.test_verdict}.")
        for s in self.symbols:
            lines.append("")
            lines.append(
                f"{s.symbol}: window ends {s.window_end} ({s.observed_rows}/{self.bundle.lookback} rows observed)"
            )
            if s.note:
                lines.append(f"  note: {s.note}")
            lines.append(
                f"  {'target':<16}{'step':>5}  {'time':<20}"
                + "".join(f"{'p_' + c:>8}" for c in CLASS_NAMES)
                + "  class"
            )
            for row in s.rows(self.bundle.target_names, _step(self.bundle)):
                probs = "".join(f"{row['p_' + c]:>8.3f}" for c in CLASS_NAMES)
                lines.append(
                    f"  {row['target']:<16}{'+' + str(row['step']):>5}  {row['time'] or '-':<20}{probs}  {row['class']}"
                )
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


SYMBOLS_KEY = "dataset.symbols:"
"""How the source checks name the symbols in a message (a sweep file's key)."""
BOUNDS_KEY = "dataset.start/end:"
"""How the source checks name a date bound in a message; predict's only bound is `--at` (`_read_spec`)."""


_FREQUENCY_ADVICE: Final = re.compile(r"(?:;| or) set dataset\.frequency\b.*$")


@contextlib.contextmanager
def _on_the_bundles_grid(frequency: str | None) -> Iterator[None]:
    """Words a grid error (`features.to_grid`) for whoever predicts: the grid is the bundle's, fixed when
    the model was trained, so the way out is rows at its spacing (or another model), not the sweep
    file's `dataset.frequency` the message advises. Other errors pass as they are."""
    try:
        yield
    except (ConfigError, DataError) as exc:
        text = str(exc)
        if "dataset.frequency" not in text:
            raise
        text = _FREQUENCY_ADVICE.sub("", text.removeprefix("dataset.frequency: "))
        raise type(exc)(
            f"predict: {text}; the bundle's model was trained on rows {frequency} apart: give it rows at "
            "that spacing, or export a model trained at theirs"
        ) from None


def predict_from_db(
    bundle: ModelBundle,
    db_url: str | None,
    symbols: list[str] | tuple[str, ...] | None = None,
    at: str | None = None,
) -> Prediction:
    """Read the last `lookback` rows per symbol up to `at` (default: the latest) and predict."""
    from seqsweep.data.features import featurize_grid, grid_rows
    from seqsweep.data.sources import plan_source
    from seqsweep.data.symbol_rows import load_symbol_rows

    if db_url and bundle.dataset.csv is not None:
        raise ConfigError(
            f"predict: --db does not apply to this bundle: its rows come from dataset.csv "
            f"({bundle.dataset.csv}, in {bundle.path / fmt.DATASET_YAML}); leave --db out to predict "
            "from that file (append the new rows to it), or export a bundle trained on a database"
        )
    # a bundle trained on dataset.csv reads that file: no database is resolved (the sample would be
    # generated, and a malformed $SEQSWEEP_DB_URL refused, for a URL nothing reads)
    url = None if bundle.dataset.csv is not None else _db_url(db_url, bundle)
    at_time = _timestamp(at)
    wanted = _symbols(bundle, symbols)
    # a bounded read of the latest rows (the spec's minimum), plus the row a differencing transform needs
    need = bundle.lookback + bundle.horizon + _extra_rows(bundle.preprocessing)
    spec = _read_spec(bundle, wanted, at_time, need)
    try:
        plan = plan_source(spec, url, columns=bundle.preprocessing.raw_columns)
    except (ConfigError, DataError) as exc:
        # the symbols are the ones `--symbols` asked for, not a sweep file's `dataset.symbols`; the bound
        # is `--at`, not the sweep's `dataset.start/end` (the bundle's are dropped)
        for key, given, option in ((SYMBOLS_KEY, symbols, "--symbols:"), (BOUNDS_KEY, at_time, "--at:")):
            if given is not None and str(exc).startswith(key):
                raise type(exc)(f"{option}{str(exc)[len(key) :]}") from None
        raise
    results = []
    for symbol in plan.symbols:
        rows = load_symbol_rows(plan, symbol)
        preprocessing, seen, note = bundle.preprocessing, symbol in bundle.preprocessing.scale_mean, ""
        with _on_the_bundles_grid(preprocessing.extra.get("frequency")):
            if not seen:
                preprocessing, history = _with_own_scaler(bundle, symbol, url, at_time)
                note = (
                    f"{symbol} was not in the training data: embedded with the bundle's sentence model "
                    f"({preprocessing.extra.get('embedding_model', 'all-MiniLM-L6-v2')}) and its PCA, and "
                    f"scaled with the mean and std of its own {history} rows up to the prediction time"
                )
            grid = grid_rows(rows, symbol, preprocessing)  # read once: featurized, and its units checked
        times, features = featurize_grid(grid, symbol, preprocessing)
        if len(features) < bundle.lookback:
            raise DataError(
                f"symbol {symbol}: {len(features)} rows up to {at or 'now'}, the model needs lookback = {bundle.lookback}"
            )
        window = features[-bundle.lookback :]  # (L, F)
        step = _step(bundle)
        if at_time is not None and step is not None:
            _check_window_reaches(symbol, pd.Timestamp(int(times[-1])), at_time, step)
        unobserved = check_window(window, times[-bundle.lookback :], symbol, preprocessing, seen=seen)
        if seen:  # an unseen symbol is scaled with its own history: no training size to compare with
            raw = grid[list(preprocessing.raw_columns)]
            check_units(raw.to_numpy(np.float64)[-bundle.lookback :], symbol, preprocessing)
        for said in (
            _unobserved_columns(bundle, symbol, url, at_time, unobserved) if unobserved else "",
            masked_cells(window, preprocessing.raw_columns, unobserved),
        ):
            note = f"{note}; {said}" if note and said else note or said
        probs = bundle.predict_proba(window[None])[0]  # (H, T, 3)
        observed = int((window != MASK_VALUE).any(axis=1).sum())
        results.append(
            SymbolPrediction(
                symbol=symbol,
                seen=seen,
                window_end=str(pd.Timestamp(int(times[-1]))),
                observed_rows=observed,
                probabilities=probs,
                note=note,
            )
        )
    return Prediction(bundle=bundle, at=str(at_time) if at_time is not None else None, symbols=tuple(results))


def check_window(
    window: np.ndarray, times: np.ndarray, symbol: str, preprocessing: Preprocessing, *, seen: bool = True
) -> tuple[str, ...]:
    """Refuse, in one `DataError` line, an input window the model must not be given.

    `window` is (L, F) scaled features as `featurize_rows` makes them (missing cells at MASK_VALUE),
    `times` its (L,) row times in ns. Refused: a window with no observed input at all, and an observed
    input more than `MAX_SCALED_INPUT` standard deviations from the mean it was scaled with (the largest
    is named: a unit changed?). Returns the input columns with no observed cell in the window, which the
    caller checks against the symbol's longer history (`_unobserved_columns`).
    """
    columns = preprocessing.raw_columns
    transforms = preprocessing.extra.get("transforms") or {}
    inputs = window[:, : len(columns)]
    observed = inputs != MASK_VALUE
    if not observed.any():
        end = pd.Timestamp(int(times[-1])) if len(times) else "its end"
        raise DataError(
            f"symbol {symbol}: no observed input in the {len(window)} rows of the input window up to "
            f"{end}; predict --at a time with rows"
        )
    size = np.where(observed, np.abs(inputs.astype(np.float64)), 0.0)
    if size.max() > MAX_SCALED_INPUT:
        row, j = np.unravel_index(int(np.argmax(size)), size.shape)
        column = columns[j]
        name = f"{column} ({transforms[column]})" if column in transforms else column
        scale = (
            "training standard deviations from its training mean"
            if seen
            else "standard deviations (of its own history) from its own mean"
        )
        raise DataError(
            f"{name} of {symbol} is {size[row, j]:.0f} {scale} at {pd.Timestamp(int(times[row]))} "
            f"(predict accepts up to {MAX_SCALED_INPUT:.0f}); a unit changed? give the column in the "
            "units it was trained on"
        )
    return tuple(c for j, c in enumerate(columns) if not observed[:, j].any())


def check_units(raw: np.ndarray, symbol: str, preprocessing: Preprocessing) -> None:
    """Refuse, in one `DataError` line, a column whose values are in other units than in training.

    `raw` is the window's (L, R) grid values in their own units, before any transform (NaN = missing),
    columns in `preprocessing.raw_columns` order. Each column's `typical_magnitude` is compared with the
    symbol's train one (`Preprocessing.raw_magnitude`); a ratio outside [1 / `MAX_UNIT_RATIO`,
    `MAX_UNIT_RATIO`] is refused (the farthest column named). `check_window` cannot see a unit change
    down (x / k scales toward −mean / std, a floor) nor one squeezed by log1p. Skipped: a bundle without
    recorded sizes (exported before them), the yield (`UNIT_CHECK_SKIPS`), a column without a finite
    nonzero train size, and a column with no nonzero value in the window.
    """
    from seqsweep.data.windows import typical_magnitude

    trained = preprocessing.raw_magnitude.get(symbol)
    if trained is None:
        return
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = typical_magnitude(raw) / np.asarray(trained, dtype=np.float64)  # (R,)
    checked = np.isfinite(ratio) & (ratio > 0)
    checked &= np.array([c not in UNIT_CHECK_SKIPS for c in preprocessing.raw_columns])
    off = np.where(checked, np.abs(np.log(np.where(checked, ratio, 1.0))), 0.0)  # either way, in log
    if off.max() <= np.log(MAX_UNIT_RATIO):
        return
    j = int(np.argmax(off))
    size = f"{ratio[j]:.3g} times" if ratio[j] >= 1 else f"1/{1 / ratio[j]:.3g} of"
    raise DataError(
        f"{preprocessing.raw_columns[j]} of {symbol} is {size} its training size (median |value| in the "
        f"window against the train split's; predict accepts 1/{MAX_UNIT_RATIO:.0f} to {MAX_UNIT_RATIO:.0f} "
        "times); a unit changed? give the column in the units it was trained on"
    )


def masked_cells(window: np.ndarray, columns: tuple[str, ...], unobserved: tuple[str, ...] = ()) -> str:
    """The note on input cells masked (NULL, or a LEFT JOINed table without the row) in rows of `window`
    that hold other values, per column of `columns` outside `unobserved` (those are noted whole):
    "masked cells in observed rows of the window: close 1 of 12 (the last row among them)"; "" if none.

    `window` is (L, F) scaled features, MASK_VALUE at missing cells, its first len(columns) the inputs.
    A row missing whole is already counted by `observed_rows`; a cell missing in an observed row was
    shown nowhere, though the model sees it masked (and a target's value at the last row is what its
    next move is measured from)."""
    inputs = window[:, : len(columns)]
    masked = (inputs == MASK_VALUE) & (inputs != MASK_VALUE).any(axis=1, keepdims=True)
    parts = []
    for j, column in enumerate(columns):
        count = int(masked[:, j].sum())
        if count and column not in unobserved:
            last = " (the last row among them)" if masked[-1, j] else ""
            parts.append(f"{column} {count} of {len(window)}{last}")
    return f"masked cells in observed rows of the window: {', '.join(parts)}" if parts else ""


def _unobserved_columns(
    bundle: ModelBundle, symbol: str, url: str | None, at: pd.Timestamp | None, columns: tuple[str, ...]
) -> str:
    """Columns with no observed cell in the window: refused if NULL in all the symbol's recent rows.

    The build refuses a column that is all NaN for a symbol; a column that is only missing in this
    window (a LEFT JOINed yield over a weekend) was masked in training windows too, and is noted.
    """
    from seqsweep.data.sources import plan_source
    from seqsweep.data.symbol_rows import load_symbol_rows
    from seqsweep.data.tables import DATE

    spec = _read_spec(bundle, (symbol,), at, max(UNSEEN_HISTORY_ROWS, bundle.lookback + bundle.horizon))
    history = load_symbol_rows(plan_source(spec, url, columns=bundle.preprocessing.raw_columns), symbol)
    notes = []
    for column in columns:
        seen_at = history.loc[history[column].notna(), DATE]
        if seen_at.empty:
            raise DataError(
                f"symbol {symbol}: column {column!r} is all NaN (NULL) in its {len(history)} rows up to "
                f"{at or 'now'} (the build refuses such a column too); fill it, or predict --at a time "
                "where it is observed"
            )
        notes.append(f"{column} (last observed {seen_at.iloc[-1]})")
    return f"no observed value in the window for {', '.join(notes)}: the model sees it masked"


def _extra_rows(preprocessing: Preprocessing) -> int:
    """1 when a recorded transform uses the previous row (diff, log_return, pct_change), else 0."""
    from seqsweep.data.features import NEEDS_PREVIOUS

    transforms = preprocessing.extra.get("transforms") or {}
    return int(any(name in NEEDS_PREVIOUS for name in transforms.values()))


def _read_spec(
    bundle: ModelBundle, symbols: tuple[str, ...], at: pd.Timestamp | None, rows: int
) -> DatasetSpec:
    """The bundle's dataset spec narrowed to the wanted symbols and the latest `rows` rows up to `at`."""
    return dataclasses.replace(
        bundle.dataset,
        symbols=bundle.dataset.symbols if bundle.dataset.join_spec.single_instrument else symbols,
        pca_components=None,  # the fitted PCA comes from the bundle; the narrowed list may be shorter
        start=None,
        end=str(at) if at is not None else None,
        max_rows_per_symbol=rows,
        db=None,
    )


def _with_own_scaler(
    bundle: ModelBundle, symbol: str, url: str | None, at: pd.Timestamp | None
) -> tuple[Preprocessing, int]:
    """The bundle's preprocessing plus a scaler for `symbol` fitted on its own history up to `at`."""
    from seqsweep.data.features import apply_transforms, prepare_rows
    from seqsweep.data.sources import plan_source
    from seqsweep.data.symbol_rows import load_symbol_rows
    from seqsweep.data.tables import DATE
    from seqsweep.data.windows import TRAIN, fit_scalers

    spec = _read_spec(bundle, (symbol,), at, max(UNSEEN_HISTORY_ROWS, bundle.lookback + bundle.horizon))
    plan = plan_source(spec, url, columns=bundle.preprocessing.raw_columns)
    prep = bundle.preprocessing
    history = prepare_rows(load_symbol_rows(plan, symbol), prep.extra.get("frequency"), symbol=symbol)
    raw = history[list(prep.raw_columns)].to_numpy(np.float64)
    inputs = apply_transforms(
        raw,
        prep.raw_columns,
        prep.extra.get("transforms") or {},
        symbol=symbol,
        times=history[DATE].to_numpy("datetime64[ns]").astype(np.int64),
    )
    mean, std = fit_scalers(
        inputs,
        np.zeros(len(raw), dtype=np.int16),
        np.full(len(raw), TRAIN, dtype=np.int8),
        (symbol,),
        prep.raw_columns,
    )
    extended = dataclasses.replace(
        prep,
        scale_mean={**prep.scale_mean, symbol: mean[0]},
        scale_std={**prep.scale_std, symbol: std[0]},
    )
    return extended, int((~np.isnan(raw).all(axis=1)).sum())


def _symbols(bundle: ModelBundle, symbols: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    if not symbols:
        return bundle.symbols
    wanted = tuple(dict.fromkeys(canonical_symbol(s) for s in symbols if s.strip()))
    if not wanted:
        raise ConfigError("--symbols: name at least one symbol")
    if bundle.dataset.join_spec.single_instrument and wanted != bundle.symbols:
        raise ConfigError(
            f"--symbols: the bundle's join {bundle.dataset.join!r} holds one instrument, {bundle.symbols[0]}"
        )
    return wanted


def _db_url(db_url: str | None, bundle: ModelBundle) -> str:
    """`--db`, else the bundle's sweep `dataset.db`, else $SEQSWEEP_DB_URL, else the generated sample
    database: the README's resolution rule. A stored URL whose password is hidden (`***`) takes
    $SEQSWEEP_DB_URL, and without it is a ConfigError: the training database, not the sample."""
    import yaml

    from seqsweep.db_url import DB_URL_ENV, fill_hidden_password, resolve

    stored = None
    sweep_file = bundle.path / fmt.SWEEP_YAML
    if not db_url and sweep_file.is_file():
        dataset = (yaml.safe_load(sweep_file.read_text(encoding="utf-8")) or {}).get("dataset")
        stored = dataset.get("db") if isinstance(dataset, dict) else None
        unrecorded = isinstance(dataset, dict) and stored is None and dataset.get("csv") is None
        if unrecorded and not os.environ.get(DB_URL_ENV):
            # exported before `run` recorded the database it read: the sample would be a guess
            raise ConfigError(
                f"predict: {bundle.path} does not say which database its model was trained on; pass "
                f"--db URL or set ${DB_URL_ENV}"
            )
    stored = fill_hidden_password(stored) if isinstance(stored, str) else None
    return resolve(db_url, stored)


def _timestamp(at: str | None) -> pd.Timestamp | None:
    """`--at` as naive UTC, read as `dataset.start`/`end` are (ISO 8601 only, an offset converted):
    `pd.Timestamp("05/01/2024")` would be 1 May, month first, without a word; `--at 2024` (a year, not a
    time) would be 2024-01-01 00:00. ConfigError otherwise."""
    from seqsweep.data.spec import naive_utc

    return None if at is None else naive_utc(at, "--at", instant=True)


def _check_window_reaches(
    symbol: str, window_end: pd.Timestamp, at: pd.Timestamp, step: pd.Timedelta
) -> None:
    """DataError (one line) when the symbol's rows end a step or more before `--at`: the prediction would
    be for the last row's time, not for the time asked."""
    if at - window_end >= step:
        raise DataError(
            f"--at {at}: the rows of {symbol} end at {window_end}, {at - window_end} before it; the "
            f"prediction would be for {window_end}, not for --at: load the newer rows, or give --at "
            f"{window_end} or earlier"
        )


def _step(bundle: ModelBundle) -> pd.Timedelta | None:
    frequency = bundle.preprocessing.extra.get("frequency")
    return pd.Timedelta(pd.tseries.frequencies.to_offset(frequency)) if frequency else None
