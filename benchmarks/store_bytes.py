"""Ratio 2: object-store bytes of the built dataset vs rows × features × 4, and vs materialised windows;
and (2c) the same dataset with 3 walk-forward folds vs 1 (`dataset.split.folds`).

The bundle is `ray.put` into the running local Ray and its size read back from Ray itself: the object's
size (`ray.experimental.get_object_locations`) and the plasma store's used bytes before and after
(`object_store_bytes_used` of the node's store stats). Its parts (`DatasetBundle.stored_nbytes`): the
feature matrix, the target levels the labels and moves are derived from, and the row/window index.
The materialised windows (what the notebook's `X_train`, `X_valid`, `X_test` hold: every window's (L, F)
inputs, plus labels and moves) are put and measured the same way on the ETHUSDT join; on the 16-symbol
prices join (about 1 GB of windows) their bytes are counted, not put. No repeats: the bytes are exact.
`--scale small` measures the latest `Scale.store_rows` rows a symbol (the wiring, in seconds); `full` all.
"""

from __future__ import annotations

from typing import Any

from benchmarks.common import Context, Row

GOAL_COMPACT = 1.2
GOAL_FOLDS = 1.05
"""Stored bytes with 3 walk-forward folds over stored bytes with 1: the features are stored once."""


def store_used_bytes() -> int | None:
    """Bytes used in the local plasma store, from Ray's node stats (None if Ray does not say)."""
    import ray
    from ray._private import internal_api

    try:
        state = internal_api.get_state_from_address(ray.get_runtime_context().gcs_address)
        reply = internal_api.get_memory_info_reply(state)
        return int(reply.store_stats.object_store_bytes_used)
    except Exception:
        return None


def put_and_measure(value: Any) -> tuple[int, int | None]:
    """(object size Ray reports, growth of the store's used bytes) for `ray.put(value)`; the object is freed after."""
    import ray

    before = store_used_bytes()
    ref = ray.put(value)
    after = store_used_bytes()
    size = int(ray.experimental.get_object_locations([ref])[ref]["object_size"])
    del ref
    grown = None if before is None or after is None else after - before
    return size, grown


def measure_bundle(bundle: Any, *, put_windows: bool = True) -> dict[str, Any]:
    """Stored bytes of `bundle` (from Ray) and its parts; the materialised windows' bytes (put, or counted)."""
    from seqsweep.constants import SPLITS

    stored, grown = put_and_measure(bundle)
    parts = bundle.stored_nbytes()
    rows, features = bundle.features.shape
    windows = sum(len(bundle.splits[s]) for s in SPLITS)
    per_window = sum(bundle.splits[s].labels.nbytes + bundle.splits[s].moves.nbytes for s in SPLITS)
    if put_windows:
        materialised = {
            split: (bundle.windows(split), bundle.splits[split].labels, bundle.splits[split].moves)
            for split in SPLITS
        }
        materialised_stored, _ = put_and_measure(materialised)
        del materialised
    else:
        materialised_stored = windows * bundle.spec.lookback * features * 4 + per_window
    return {
        "stored": stored,
        "grown": grown,
        "rows": rows,
        "features": features,
        "targets": len(bundle.target_names),
        "windows": windows,
        "dense": rows * features * 4,
        "levels": parts["targets"],
        "index": parts["index"],
        "per_window": per_window,
        "materialised": materialised_stored,
        "lookback": bundle.spec.lookback,
    }


def measure_folds(one: Any, three: Any) -> dict[str, Any]:
    """Stored bytes of a 1-fold and a 3-fold bundle of the same rows, and what the 3-fold one adds.

    `views`: bytes of the earlier folds' window labels and moves, which a trial derives from the stored
    train moves when it opens the folds (in its own memory, never in the object store).
    """
    stored_one, _ = put_and_measure(one)
    stored_three, _ = put_and_measure(three)
    views = 0
    for f in range(three.n_folds - 1):
        view = three.fold(f)
        views += sum(w.labels.nbytes + w.moves.nbytes + w.ends.nbytes for w in view.splits.values())
    return {
        "one": stored_one,
        "three": stored_three,
        "fold_arrays": three.folds.nbytes,
        "views": views,
    }


def mb(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 1e6:.2f} MB"


def kb(n: int) -> str:
    return f"{n / 1e3:.1f} kB"


def measure(ctx: Context) -> list[Row]:
    from seqsweep.data import DatasetSpec, build_dataset
    from seqsweep.data.spec import SplitSpec

    rows = ctx.scale.store_rows
    real = build_dataset(
        DatasetSpec(symbols=("ETHUSDT",), max_rows_per_symbol=rows),
        db_url=ctx.real_db_url(),
        cache_dir=ctx.workdir / "store_cache",
    )
    eth = measure_bundle(real)
    real_folds = build_dataset(
        DatasetSpec(symbols=("ETHUSDT",), split=SplitSpec(folds=3), max_rows_per_symbol=rows),
        db_url=ctx.real_db_url(),
        cache_dir=ctx.workdir / "store_cache",
    )
    folds = measure_folds(real, real_folds)
    del real, real_folds
    prices = build_dataset(
        DatasetSpec(join="prices", max_rows_per_symbol=rows),
        db_url=ctx.real_db_url(),
        cache_dir=ctx.workdir / "store_cache",
    )
    sixteen = measure_bundle(prices, put_windows=False)
    sixteen_symbols = len(prices.symbols)
    del prices

    compact = eth["stored"] / eth["dense"]
    compact16 = sixteen["stored"] / sixteen["dense"]
    larger = eth["materialised"] / eth["stored"]
    larger16 = sixteen["materialised"] / sixteen["stored"]
    lookback = eth["lookback"]
    met = max(compact, compact16) <= GOAL_COMPACT
    return [
        Row(
            key="2a",
            measured=(
                f"object-store bytes of the built dataset (`ray.put`, object size from Ray) vs rows × features × 4; "
                f"real ETHUSDT join, {eth['rows']:,} rows × {eth['features']} features, L {lookback}: stored "
                f"{mb(eth['stored'])} (plasma used +{mb(eth['grown'])}) = features {mb(eth['dense'])} + target "
                f"levels {mb(eth['levels'])} ({eth['targets']} targets: int32 residuals beside their feature "
                f"columns; labels and moves, {mb(eth['per_window'])} per window before, are derived per batch) + "
                f"row times/symbols and window ends as runs {kb(eth['index'])}; real {sixteen_symbols}-symbol "
                f"prices join, {sixteen['rows']:,} rows × {sixteen['features']} features: {mb(sixteen['stored'])} "
                f"vs {mb(sixteen['dense'])} = {compact16:.2f}× (target levels {mb(sixteen['levels'])}, index "
                f"{kb(sixteen['index'])})"
            ),
            value=f"{compact:.2f}× ({mb(eth['stored'])} vs {mb(eth['dense'])}); prices join {compact16:.2f}×",
            goal=f"≤ {GOAL_COMPACT}×",
            met=met,
            command=ctx.command("store"),
        ),
        Row(
            key="2b",
            measured=(
                f"object-store bytes of the materialised windows (X (n, L, F) of every split + labels and moves, "
                f"the notebook's way) vs the built dataset; real ETHUSDT join, {eth['windows']:,} windows, "
                f"L {lookback}: {mb(eth['materialised'])} vs {mb(eth['stored'])}; real {sixteen_symbols}-symbol "
                f"prices join ({sixteen['windows']:,} windows, counted, not put): "
                f"{mb(sixteen['materialised'])} vs {mb(sixteen['stored'])} = {larger16:.1f}×"
            ),
            value=f"{larger:.1f}× larger",
            goal=f"≥ L / {GOAL_COMPACT} = {lookback / GOAL_COMPACT:.0f}× larger",
            met=larger >= lookback / GOAL_COMPACT,
            command=ctx.command("store"),
        ),
        Row(
            key="2c",
            measured=(
                f"object-store bytes of the built dataset with 3 walk-forward folds vs 1 (`dataset.split.folds`); "
                f"real ETHUSDT join: {mb(folds['three'])} vs "
                f"{mb(folds['one'])} (+{folds['three'] - folds['one']:,} bytes); the folds add per-fold "
                f"scale/shift, thresholds and per-symbol window ranges ({folds['fold_arrays']:,} bytes); the "
                f"features are stored once; each trial derives the earlier folds' labels and moves "
                f"({mb(folds['views'])}) in its own memory"
            ),
            value=f"{folds['three'] / folds['one']:.3f}× ({mb(folds['three'])} vs {mb(folds['one'])})",
            goal=f"≤ {GOAL_FOLDS}×",
            met=folds["three"] / folds["one"] <= GOAL_FOLDS,
            command=ctx.command("store"),
        ),
    ]
