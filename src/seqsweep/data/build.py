"""`build_dataset`: SQL rows → features → split → scale → windows + labels, once per spec and source.

The per-symbol work (`featurize_symbol`) runs on Ray Data, one task per symbol
(`from_items(symbols).map_batches(...)`): each task runs its own bound-parameter query, hashes the
rows it read (`cache.rows_digest`) and puts them on the grid with yield conversion and calendar
encodings. There is no all-to-all shuffle (DESIGN measured a groupby at 18 s against 3–6 s for this
shape). `in_process=True` calls the same function in this process instead, without Ray (the dry
build of `seqsweep validate`, a bounded query). The driver then keys the dataset on the spec and
the digests of the rows read; a cached dataset of that key is returned, else it fits the train-only
statistics, indexes the windows and caches the result.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any, cast

import numpy as np
import pandas as pd

from seqsweep._text import counted
from seqsweep.constants import MASK_VALUE, SPLITS
from seqsweep.data import cache
from seqsweep.data.bundle import DatasetBundle, Preprocessing
from seqsweep.data.engines import resolve_db_url
from seqsweep.data.features import (
    CYCLICAL_FEATURES,
    assemble_features,
    cyclical_encodings,
    embedding_model_identity,
    feature_names,
    grid_step,
    prepare_rows,
    symbol_embeddings,
    transform_symbols,
)
from seqsweep.data.folds import build_folds
from seqsweep.data.sources import SourcePlan, plan_source
from seqsweep.data.spec import DatasetSpec
from seqsweep.data.summary import warn_build
from seqsweep.data.symbol_rows import load_symbol_rows
from seqsweep.data.tables import DATE
from seqsweep.data.windows import (
    assign_splits,
    check_constant_in_train,
    check_finite_features,
    fit_magnitudes,
    fit_scalers,
    index_windows,
    short_split_cause,
    split_boundaries,
)
from seqsweep.errors import DataError, SeqsweepError, not_opened_line

logger = logging.getLogger(__name__)

BUILD_COUNT = 0
"""Builds computed (not read from the cache) by this process: lets tests prove a consumer never rebuilds."""

TASK_MAX_RETRIES = 3
"""How often a per-symbol task whose worker process died (the OOM killer, a crash in native code, a lost
node) is run again. Ray Data retries such a task without end (`max_retries=-1`): a symbol whose rows
killed its worker each time left `data build` and `run` waiting forever, without a word."""

_INDEX, _TIME, _DIGEST = "__symbol_index", "__time_ns", "__digest"
_CYCLICAL = tuple(f"__{name}" for name in CYCLICAL_FEATURES)


KeyCheck = Callable[[str, tuple[str, str]], None]
"""`build_dataset`'s `check_key`: (the dataset's cache key, (embedding model, identity of its files)) →
None, or raises to stop the build."""


def build_count() -> int:
    """How many datasets this process has computed (cache hits excluded)."""
    return BUILD_COUNT


def build_dataset(
    spec: DatasetSpec,
    *,
    db_url: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    in_process: bool = False,
    check_key: KeyCheck | None = None,
) -> DatasetBundle:
    """The dataset `spec` describes, from the cache when the same spec was built on the same rows.

    `db_url`: a SQLAlchemy URL; None reads `spec.db`, then $SEQSWEEP_DB_URL, then the generated sample
    database. `cache_dir`: where built datasets live (default ~/.cache/seqsweep/datasets; a sweep
    passes `<storage>/datasets`). The rows are always read (the key hashes them); a cache hit skips
    the embeddings, statistics and windows. `in_process`: read and grid the symbols in this process,
    one after the other, without Ray (for small, bounded queries); otherwise one Ray Data task per
    symbol. `check_key`: called with the dataset's cache key and (`dataset.embedding_model`, the
    identity of its files) once the rows are read, before the cache is read or anything is built; what it
    raises ends the build there (a `resume` on changed rows is refused without building a dataset it
    will not use). Raises DataError / ConfigError with one line naming what to fix.
    """
    global BUILD_COUNT
    grid_step(spec.frequency)  # a bad frequency fails before any query
    url = None if spec.csv is not None else resolve_db_url(db_url, spec)
    plan = plan_source(spec, url)
    rows = _load_rows(spec, plan, in_process=in_process)
    fingerprint = cache.fingerprint(plan.value_columns, _digests(plan, rows))
    fingerprint["embedding_model"] = embedding_model_identity(spec.embedding_model)  # its files, not its name
    key = cache.cache_key(spec, fingerprint)
    if check_key is not None:
        check_key(key, (spec.embedding_model, fingerprint["embedding_model"]))
    if use_cache:
        cached = cache.load(spec, key, cache_dir)
        if cached is not None:
            logger.info("dataset %s read from the cache in %s", key, cache.cache_root(cache_dir).absolute())
            warn_build(cached)
            return cached
    bundle = _assemble(spec, plan, rows, key)
    BUILD_COUNT += 1
    if use_cache:
        cache.save(bundle, cache_dir, fingerprint)
    warn_build(bundle)
    return bundle


def _digests(plan: SourcePlan, rows: dict[str, np.ndarray]) -> dict[str, int | None]:
    """Each symbol's `rows_digest`, carried by every one of its rows (None for a symbol without rows)."""
    present, first = np.unique(rows[_INDEX], return_index=True)
    found = {int(i): int(rows[_DIGEST][j]) for i, j in zip(present, first, strict=True)}
    return {symbol: found.get(i) for i, symbol in enumerate(plan.symbols)}


# --- per-symbol work (a Ray Data task, or a plain call) --------------------------------------------


def featurize_symbol(
    plan: SourcePlan, symbol: str, index: int, frequency: str | None
) -> dict[str, np.ndarray]:
    """Query one symbol's rows, hash them, grid them, convert the yield, add calendar encodings.

    Returns columns of equal length n (grid rows): `__symbol_index` int32 (= `index`), `__time_ns`
    int64, each of `plan.value_columns` float64 (NaN = missing), the 8 calendar encodings float64, and
    `__digest` uint64 (the symbol's `cache.rows_digest` of the rows as read, repeated on every row).
    """
    return grid_symbol(plan, load_symbol_rows(plan, symbol), symbol, index, frequency)


def grid_symbol(
    plan: SourcePlan, rows: pd.DataFrame, symbol: str, index: int, frequency: str | None
) -> dict[str, np.ndarray]:
    """`featurize_symbol` of rows already read (`symbol_rows.load_symbol_rows`' frame: `date` + value columns)."""
    digest = cache.rows_digest(rows, plan.value_columns)
    grid = prepare_rows(rows, frequency, symbol=symbol)
    out = {
        _INDEX: np.full(len(grid), index, dtype=np.int32),
        _TIME: grid[DATE].to_numpy("datetime64[ns]").astype(np.int64),
        _DIGEST: np.full(len(grid), digest, dtype=np.uint64),
    }
    out |= {column: grid[column].to_numpy(np.float64) for column in plan.value_columns}
    calendar = cyclical_encodings(grid[DATE])
    out |= {name: calendar[:, i] for i, name in enumerate(_CYCLICAL)}
    return out


def load_and_featurize_symbol(
    batch: dict[str, np.ndarray], *, plan: SourcePlan, frequency: str | None
) -> dict[str, np.ndarray]:
    """One Ray Data task: `featurize_symbol` for the one symbol of `batch` (`symbol`, `index`)."""
    from seqsweep.cluster.ray_data_logs import write_ray_data_logs_as_utf8

    write_ray_data_logs_as_utf8()  # this worker's Ray Data log files as UTF-8, whatever its locale
    return featurize_symbol(plan, str(batch["symbol"][0]), int(batch["index"][0]), frequency)


@contextlib.contextmanager
def _ray() -> Iterator[None]:
    """Use the running Ray; otherwise start a local one for this build and shut it down after."""
    from seqsweep.cluster.session import ray_session

    with ray_session(num_cpus=os.cpu_count() or 1):
        yield


def _user_error(exc: BaseException) -> SeqsweepError | None:
    """The SeqsweepError a task raised, dug out of Ray's wrappers (RayTaskError(ConfigError) has it as `cause`);
    for an OSError of a file it could not open, a DataError naming the path (`errors.not_opened_line`); for a
    task whose worker process died every time it ran (`TASK_MAX_RETRIES`), a DataError saying so."""
    from ray.exceptions import NodeDiedError, OutOfMemoryError, RayError, WorkerCrashedError

    error = _in_chain(exc, lambda e: isinstance(e, SeqsweepError) and not isinstance(e, RayError))
    if isinstance(error, SeqsweepError):
        return error
    # a file the task could not open (gone since the plan, a folder, not readable): its path, exit 2
    unopened = _in_chain(exc, lambda e: not isinstance(e, RayError) and not_opened_line(e) is not None)
    if unopened is not None:
        return DataError(f"a per-symbol task of the dataset build: {not_opened_line(unopened)}")
    died = _in_chain(exc, lambda e: isinstance(e, WorkerCrashedError | OutOfMemoryError | NodeDiedError))
    if died is None:
        return None
    return DataError(
        f"a per-symbol task of the dataset build lost its worker process on each of its "
        f"{counted(TASK_MAX_RETRIES + 1, 'run')} ({type(died).__name__}): killed by the OOM killer (give the "
        "machine more memory, or read fewer rows per symbol: dataset.start, dataset.max_rows_per_symbol), or "
        "a crash in native code (the database driver); Ray's worker logs say which"
    )


def _in_chain(exc: BaseException, wanted: Callable[[BaseException], bool]) -> BaseException | None:
    """The first exception in `exc`'s chain (Ray's `cause`, `__cause__`, `__context__`) that is `wanted`."""
    stack: list[Any] = [exc]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if wanted(current):
            return cast(BaseException, current)
        stack += [getattr(current, "cause", None), current.__cause__, current.__context__]
    return None


def _load_rows(spec: DatasetSpec, plan: SourcePlan, *, in_process: bool = False) -> dict[str, np.ndarray]:
    """Featurize every symbol (Ray Data tasks, or here) and gather the rows, sorted by symbol (spec order), then time."""
    if in_process:
        batches = [featurize_symbol(plan, symbol, i, spec.frequency) for i, symbol in enumerate(plan.symbols)]
    else:
        batches = _ray_batches(spec, plan)
    batches = [b for b in batches if len(b[_INDEX])]
    if not batches:
        raise DataError(
            f"the {spec.join} query returned no rows for {', '.join(plan.symbols)}{_bounds_hint(spec)}"
        )
    return gather_rows(plan, batches)


def gather_rows(plan: SourcePlan, batches: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Non-empty `featurize_symbol` batches, in any order → one set of columns sorted by symbol index, then time.

    Batches that each hold one symbol in ascending time (what a task returns) are put in symbol order
    and concatenated; anything else is concatenated and sorted with `np.lexsort` (the same order).
    """
    columns = (_INDEX, _TIME, _DIGEST, *plan.value_columns, *_CYCLICAL)
    batches = sorted(batches, key=lambda b: int(b[_INDEX][0]))
    ordered = all(
        (b[_INDEX] == b[_INDEX][0]).all() and (np.diff(b[_TIME]) > 0).all() for b in batches
    ) and len({int(b[_INDEX][0]) for b in batches}) == len(batches)
    rows = {c: np.concatenate([np.asarray(b[c]) for b in batches]) for c in columns}
    if ordered:
        return rows
    order = np.lexsort((rows[_TIME], rows[_INDEX]))
    return {c: v[order] for c, v in rows.items()}


def _ray_batches(spec: DatasetSpec, plan: SourcePlan) -> list[dict[str, np.ndarray]]:
    """One Ray Data task per symbol (a local Ray is started for the build when none is running)."""
    import ray.data

    from seqsweep.cluster.ray_data_logs import write_ray_data_logs_as_utf8

    write_ray_data_logs_as_utf8()  # Ray Data's log files as UTF-8, whatever the locale (`✔️` in its lines)
    items = [{"symbol": symbol, "index": i} for i, symbol in enumerate(plan.symbols)]
    with _ray():
        context = ray.data.DataContext.get_current()
        settings = ("enable_progress_bars", "print_on_execution_start", "raise_original_map_exception")
        saved = {name: getattr(context, name) for name in settings}
        # quiet, and a task's DataError/ConfigError reaches the driver as itself, not as text in a wrapper
        for name, value in zip(settings, (False, False, True), strict=True):
            setattr(context, name, value)
        try:
            dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
                load_and_featurize_symbol,  # type: ignore[arg-type]  # Ray's stub wants a positional-only UDF
                batch_size=1,
                fn_kwargs={"plan": plan, "frequency": spec.frequency},
                num_cpus=1,
                max_retries=TASK_MAX_RETRIES,
            )
            return list(dataset.iter_batches(batch_size=None, batch_format="numpy"))
        except Exception as exc:
            error = _user_error(exc)
            if error is None:
                raise
            # Ray Data appends retry advice to the message: keep the one line the task wrote
            raise type(error)(str(error).splitlines()[0]) from None
        finally:
            for name, value in saved.items():
                setattr(context, name, value)


def _bounds_hint(spec: DatasetSpec) -> str:
    if spec.start or spec.end:
        return f" between start={spec.start} and end={spec.end}; widen them"
    return spec.join_spec.empty_hint


# --- the driver's part ----------------------------------------------------------------------------


def _check_symbols(spec: DatasetSpec, plan: SourcePlan, rows: dict[str, np.ndarray]) -> list[slice]:
    """Each symbol's row range; a symbol without rows, with too few, or with an all-NaN column is named."""
    counts = np.bincount(rows[_INDEX], minlength=len(plan.symbols))
    stops = np.cumsum(counts)
    slices = [slice(int(stop - n), int(stop)) for n, stop in zip(counts, stops, strict=True)]
    need = spec.lookback + spec.horizon
    for symbol, part in zip(plan.symbols, slices, strict=True):
        raw = np.column_stack([rows[c][part] for c in plan.value_columns])
        observed = int((~np.isnan(raw).all(axis=1)).sum())
        if observed == 0:
            raise DataError(f"symbol {symbol}: the {spec.join} query returned no rows{_bounds_hint(spec)}")
        if observed < need:
            raise DataError(
                f"symbol {symbol}: {observed} rows, fewer than lookback + horizon = {need}; "
                "drop the symbol or widen start/end/max_rows_per_symbol"
            )
        for j, column in enumerate(plan.value_columns):
            if np.isnan(raw[:, j]).all():
                raise DataError(
                    f"symbol {symbol}: column {column!r} is all NaN (NULL); fill it, leave the column out "
                    f"(dataset.exclude_columns: [{column}]) or drop the symbol"
                )
    return slices


def _assemble(spec: DatasetSpec, plan: SourcePlan, rows: dict[str, np.ndarray], key: str) -> DatasetBundle:
    symbols = plan.symbols
    slices = _check_symbols(spec, plan, rows)
    times, row_symbol = rows[_TIME], rows[_INDEX].astype(np.int16)
    raw = np.column_stack([rows[c] for c in plan.value_columns])  # (rows, R) float64, NaN = missing
    calendar = np.column_stack([rows[c] for c in _CYCLICAL])  # (rows, 8)

    step = grid_step(spec.frequency)
    if step is None:  # rows as they come: the typical spacing stands in for a step
        step = pd.Timedelta(int(np.median(np.diff(times))) if len(times) > 1 else 0)
    first = np.array([times[s][0] for s in slices])
    last = np.array([times[s][-1] for s in slices])
    boundaries = split_boundaries(first, last, spec.split, grid_step(spec.frequency), symbols)
    gap_ns = int(spec.split.gap * step.value)
    codes = assign_splits(times, boundaries, gap_ns)
    # inputs: each column as `dataset.transform` says, per symbol (the first row of a differenced column masked)
    inputs = transform_symbols(raw, slices, plan.value_columns, spec.transform, symbols, times)
    mean, std = fit_scalers(inputs, row_symbol, codes, symbols, plan.value_columns)
    check_constant_in_train(inputs, row_symbol, codes, symbols, plan.value_columns)
    # the untransformed columns' typical train size: predict refuses a column now in other units by it
    magnitude = fit_magnitudes(raw, row_symbol, codes, len(symbols))

    embeddings, pca_mean, pca_components = symbol_embeddings(
        symbols, spec.n_pca_components, spec.embedding_model
    )
    names = feature_names(plan.value_columns, spec.n_pca_components)
    features = np.empty((len(times), len(names)), dtype=np.float32)  # (rows, F)
    for s, part in enumerate(slices):
        features[part] = assemble_features(
            inputs[part], calendar[part], embeddings[symbols[s]], mean[s], std[s]
        )
        check_finite_features(features[part], inputs[part], times[part], symbols[s], plan.value_columns)

    target_index = [plan.value_columns.index(t) for t in spec.target_columns]
    # labels and moves come from the targets' untransformed levels, scaled with their own train statistics
    # (the same numbers as the input scalers when no transform is set), whatever `dataset.transform` says
    target_mean, target_std = fit_scalers(
        raw[:, target_index], row_symbol, codes, symbols, spec.target_columns
    )
    targets = (raw[:, target_index] - target_mean[row_symbol]) / target_std[row_symbol]
    splits, thresholds = index_windows(
        targets, row_symbol, codes, lookback=spec.lookback, horizon=spec.horizon, labels=spec.labels,
        features=features, feature_columns=target_index,  # a level feature column holds float32(target)
        why_short=lambda name: short_split_cause(
            name, codes, row_symbol, first, last, counts=np.array([s.stop - s.start for s in slices]),
            symbols=symbols, split=spec.split, need=spec.lookback + spec.horizon,
        ),
    )  # fmt: skip
    folds = build_folds(  # walk-forward folds before the last (None for dataset.split.folds: 1)
        spec, times=times, row_symbol=row_symbol, inputs=inputs, mean=mean, std=std,
        target_levels=raw[:, target_index], target_std=target_std, targets=targets, boundaries=boundaries,
        common_start=int(first.max()), gap_ns=gap_ns, train=splits["train"], symbols=symbols,
        columns=plan.value_columns,
    )  # fmt: skip
    preprocessing = Preprocessing(
        feature_names=names,
        raw_columns=plan.value_columns,
        scale_mean=dict(zip(symbols, mean, strict=True)),
        scale_std=dict(zip(symbols, std, strict=True)),
        raw_magnitude=dict(zip(symbols, magnitude, strict=True)),
        embeddings=embeddings,
        pca_mean=pca_mean,
        pca_components=pca_components,
        thresholds=thresholds,
        extra={
            "join": spec.join,
            "frequency": spec.frequency,
            "step_ns": int(step.value),
            "gap_ns": gap_ns,
            "embedding_model": spec.embedding_model,
            "embedding_model_identity": embedding_model_identity(spec.embedding_model),
            "label_method": spec.labels.method,
            "mask_value": MASK_VALUE,
            "transforms": {c: t for c, t in spec.transform.items() if t != "level"},
        },
    )
    logger.info(
        "built dataset %s: %d %s, %d rows × %d features, windows %s",
        key, len(symbols), "symbol" if len(symbols) == 1 else "symbols", len(times), len(names),
        {name: len(splits[name]) for name in SPLITS},
    )  # fmt: skip
    return DatasetBundle(
        spec=spec,
        features=features,
        row_symbol=row_symbol,
        row_time=times.astype(np.int64),
        symbols=symbols,
        target_names=spec.target_columns,
        splits=splits,
        preprocessing=preprocessing,
        cache_key=key,
        boundaries=boundaries,
        folds=folds,
    )
