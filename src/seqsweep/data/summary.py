"""What a built dataset holds, as a JSON-ready dict and as text: `seqsweep data build` prints it.

Besides shapes and class balance it reports how the split came out (the share of rows each split
really got, with a warning when a split by fractions lands more than `SHARE_TOLERANCE` away from the
asked share) and the gaps: masked rows and masked input cells per split and symbol, with a warning for a
gap that is exactly the hour clocks skip when summer time starts (dates in local time?).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import pandas as pd

from seqsweep.constants import CLASS_NAMES, MASK_VALUE, SPLITS
from seqsweep.data.bundle import DatasetBundle
from seqsweep.data.local_time import LOCAL_TIME_FIX, skipped_hour
from seqsweep.data.spec import grid_step
from seqsweep.data.windows import EMBARGO, assign_splits

logger = logging.getLogger(__name__)

SHARE_TOLERANCE: Final = 0.05
"""A split by fractions whose realized share of rows differs from the asked one by more than this warns."""


def _class_balance(labels: np.ndarray, target_names: tuple[str, ...]) -> dict[str, list[dict[str, float]]]:
    """Per target, per horizon step: the share of down / flat / up among unmasked labels."""
    balance: dict[str, list[dict[str, float]]] = {}
    for t, target in enumerate(target_names):
        steps = []
        for h in range(labels.shape[1]):
            column = labels[:, h, t]
            valid = column[column != MASK_VALUE]
            counts = np.bincount(valid.astype(np.int64), minlength=len(CLASS_NAMES))
            total = max(int(counts.sum()), 1)
            steps.append(
                {name: round(int(c) / total, 4) for name, c in zip(CLASS_NAMES, counts, strict=True)}
            )
        balance[target] = steps
    return balance


def _codes(bundle: DatasetBundle) -> np.ndarray:
    """(rows,) int8 split code of every row of `bundle` (TRAIN, VALID, TEST, EMBARGO)."""
    return assign_splits(bundle.row_time, bundle.boundaries, int(bundle.preprocessing.extra.get("gap_ns", 0)))


def split_shares(bundle: DatasetBundle) -> dict[str, Any]:
    """How the chronological split came out, JSON-ready.

    Returns `by` ("fractions" or "dates"), `asked` ({train, valid, test} fractions, None for dates),
    `realized` (each split's share of the rows in train + valid + test; embargo rows are left out of
    both sides, as they are dropped on purpose) and `warning` (one sentence, or None): with fractions,
    set when a realized share is more than `SHARE_TOLERANCE` (5 points) away from the asked one. The
    fractions cut the period every symbol covers, so a symbol that starts late (or ends early) puts
    the other symbols' earlier rows all in train: the warning names that symbol.
    """
    codes = _codes(bundle)
    counts = np.array([int((codes == code).sum()) for code in range(len(SPLITS))], dtype=np.int64)
    total = max(int(counts.sum()), 1)
    realized = {name: round(int(n) / total, 4) for name, n in zip(SPLITS, counts, strict=True)}
    fractions = bundle.spec.split.fractions
    if fractions is None:
        return {"by": "dates", "asked": None, "realized": realized, "warning": None}
    train, valid = fractions
    asked = {"train": round(train, 4), "valid": round(valid, 4), "test": round(1 - train - valid, 4)}
    off = max(abs(realized[name] - asked[name]) for name in SPLITS)
    warning = None
    if off > SHARE_TOLERANCE:
        warning = (
            "the split's shares of rows (train / valid / test) are "
            + " / ".join(f"{realized[n]:.0%}" for n in SPLITS)
            + ", not the asked "
            + " / ".join(f"{asked[n]:.0%}" for n in SPLITS)
            + f": {_overlap_reason(bundle)}; split by dates (dataset.split.valid_start, test_start) "
            "or leave that symbol out"
        )
    return {"by": "fractions", "asked": asked, "realized": realized, "warning": warning}


def _overlap_reason(bundle: DatasetBundle) -> str:
    """Which symbol narrows the period the fractions are taken over."""
    firsts, lasts = [], []
    for s in range(len(bundle.symbols)):
        times = bundle.row_time[bundle.row_symbol == s]
        firsts.append(int(times.min()) if len(times) else 0)
        lasts.append(int(times.max()) if len(times) else 0)
    late, early = int(np.argmax(firsts)), int(np.argmin(lasts))
    notable = SHARE_TOLERANCE * max(max(lasts) - min(firsts), 1)  # a shift worth naming
    reason = (
        f"the fractions are taken over the period every symbol covers, "
        f"{pd.Timestamp(firsts[late])} → {pd.Timestamp(lasts[early])}"
    )
    causes = []
    if firsts[late] - min(firsts) > notable:
        causes.append(f"{bundle.symbols[late]} starts at {pd.Timestamp(firsts[late])}")
    if max(lasts) - lasts[early] > notable:
        causes.append(f"{bundle.symbols[early]} ends at {pd.Timestamp(lasts[early])}")
    return reason + (f", because {' and '.join(causes)}" if causes else "")


def warn_split_shares(bundle: DatasetBundle) -> str | None:
    """Log `split_shares(bundle)["warning"]` as a warning (the build calls this); returns it, or None."""
    warning = split_shares(bundle)["warning"]
    if warning:
        logger.warning("dataset %s: %s", bundle.cache_key, warning)
    return warning


SPARSE_INPUT_SHARE: Final = 0.5
"""An input masked in more than this share of the rows that hold an observation warns (`sparse_inputs`)."""


def sparse_inputs(bundle: DatasetBundle) -> dict[str, float]:
    """Each input column (the scaled raw columns) masked in more than `SPARSE_INPUT_SHARE` of the grid rows
    that are not masked whole, with that share (0..1, rounded to 4 places), in feature order.

    Such a column is mostly missing where the other columns have values: a source that lacks them, or
    a join that met few of its dates (a yield table in another time zone, a partner table on another
    grid). A transform's first row, masked in every input, is not counted (it masks the whole row)."""
    names = bundle.preprocessing.raw_columns
    masked = bundle.features == MASK_VALUE  # (rows, F)
    observed = ~masked.all(axis=1)
    if not observed.any():
        return {}
    shares = masked[observed][:, : len(names)].mean(axis=0)  # (R,)
    return {
        str(name): round(float(share), 4)
        for name, share in zip(names, shares, strict=True)
        if share > SPARSE_INPUT_SHARE
    }


def _sparse_warning(sparse: Mapping[str, float]) -> str | None:
    if not sparse:
        return None
    shown = ", ".join(f"{name!r} in {share:.0%}" for name, share in sparse.items())
    return (
        f"inputs masked in most rows that hold other values: {shown}; check that their table's dates meet "
        f"the other tables' (time zone, grid) and that it holds those times, or leave them out "
        f"(dataset.exclude_columns)"
    )


def warn_sparse_inputs(bundle: DatasetBundle) -> str | None:
    """Log a warning naming the inputs `sparse_inputs` finds (the build calls this); returns it, or None."""
    warning = _sparse_warning(sparse_inputs(bundle))
    if warning:
        logger.warning("dataset %s: %s", bundle.cache_key, warning)
    return warning


def skipped_hours(bundle: DatasetBundle) -> list[str]:
    """What each symbol whose grid lacks exactly the hour a zone's clocks skip when summer time starts
    (`local_time.skipped_hour`) lacks, symbols alike in one line: its dates are likely local time, an
    hour off UTC from there on, which nothing else can see. Warned, not refused (an exchange may have
    been down for that hour); a repeated hour is refused where its two rows meet (`symbol_rows.clean_rows`)."""
    step = grid_step(bundle.spec.frequency)
    if step is None:
        return []
    observed = ~(bundle.features == MASK_VALUE).all(axis=1)
    symbols: dict[str, list[str]] = {}  # what is skipped → the symbols that skip it
    for index, symbol in enumerate(bundle.symbols):
        rows = observed & (bundle.row_symbol == index)
        skipped = skipped_hour(pd.Series(bundle.row_time[rows].astype("datetime64[ns]")), step)
        if skipped is not None:
            symbols.setdefault(skipped, []).append(symbol)
    return [
        f"{', '.join(names)} {'has' if len(names) == 1 else 'have'} {skipped} (a masked gap): {LOCAL_TIME_FIX}"
        for skipped, names in symbols.items()
    ]


def warn_build(bundle: DatasetBundle) -> None:
    """Every warning about a built or cached dataset: split shares, sparse inputs, skipped hours."""
    warn_split_shares(bundle)
    warn_sparse_inputs(bundle)
    for warning in skipped_hours(bundle):
        logger.warning("dataset %s: %s", bundle.cache_key, warning)


def gaps(bundle: DatasetBundle) -> dict[str, Any]:
    """Masked rows and masked input cells per split and per symbol, JSON-ready.

    A masked row is a grid row with every feature at MASK_VALUE (no observation at that step, or a row
    whose every input is a transform without a previous value). A masked cell is one of the
    `inputs` source columns (the scaled raw columns, not embedding or calendar) at MASK_VALUE, the
    cells of masked rows included. Returns `inputs` (R), `splits` (those with rows: train, valid,
    test, and embargo when `gap` > 0), `per_split` {split: {rows, masked_rows, masked_cells}} and
    `per_symbol` {symbol: {split: {rows, masked_rows, masked_cells}}}. Counts are ints.
    """
    n_inputs = len(bundle.preprocessing.raw_columns)
    codes = _codes(bundle)
    masked = bundle.features == MASK_VALUE  # (rows, F)
    row_masked = masked.all(axis=1)
    cells = masked[:, :n_inputs].sum(axis=1)  # (rows,)
    names = {code: name for code, name in enumerate(SPLITS)} | {EMBARGO: "embargo"}
    splits = [name for code, name in names.items() if code != EMBARGO or (codes == EMBARGO).any()]

    def counts(where: np.ndarray) -> dict[str, dict[str, int]]:
        return {
            names[code]: {
                "rows": int((where & (codes == code)).sum()),
                "masked_rows": int((where & (codes == code) & row_masked).sum()),
                "masked_cells": int(cells[where & (codes == code)].sum()),
            }
            for code in names
            if names[code] in splits
        }

    every = np.ones(len(codes), dtype=bool)
    return {
        "inputs": n_inputs,
        "splits": splits,
        "per_split": counts(every),
        "per_symbol": {symbol: counts(bundle.row_symbol == s) for s, symbol in enumerate(bundle.symbols)},
    }


def summarize(bundle: DatasetBundle) -> dict[str, Any]:
    """Symbols, rows and windows per split, the split's realized shares, gaps, features, transforms,
    class balance, bytes in the store vs minimal, cache key."""
    codes = _codes(bundle)
    rows = {name: int((codes == code).sum()) for code, name in enumerate(SPLITS)}
    rows["embargo"] = int((codes == EMBARGO).sum())
    store, minimal = bundle.nbytes, bundle.minimal_nbytes
    return {
        "cache_key": bundle.cache_key,
        "join": bundle.spec.join,
        "symbols": list(bundle.symbols),
        "lookback": bundle.spec.lookback,
        "horizon": bundle.spec.horizon,
        "targets": list(bundle.target_names),
        "n_rows": int(bundle.features.shape[0]),
        "n_features": int(bundle.features.shape[1]),
        "feature_names": list(bundle.feature_names),
        "transforms": dict(bundle.preprocessing.extra.get("transforms") or {}),
        "exclude_columns": list(bundle.spec.exclude_columns),
        "first_time": str(pd.Timestamp(int(bundle.row_time.min()))),
        "last_time": str(pd.Timestamp(int(bundle.row_time.max()))),
        "valid_starts": str(pd.Timestamp(bundle.boundaries[0])),
        "test_starts": str(pd.Timestamp(bundle.boundaries[1])),
        "rows_per_split": rows,
        "split": split_shares(bundle),
        "gaps": gaps(bundle),
        "sparse_inputs": sparse_inputs(bundle),
        "skipped_hours": skipped_hours(bundle),
        "windows_per_split": {name: len(bundle.splits[name]) for name in SPLITS},
        "class_balance": {
            name: _class_balance(bundle.splits[name].labels, bundle.target_names) for name in SPLITS
        },
        "bytes": {"store": store, "minimal": minimal, "ratio": round(store / minimal, 4)},
    }


def _mib(n: int) -> str:
    return f"{n / 2**20:.2f} MiB"


def _split_line(split: dict[str, Any]) -> str:
    realized = " / ".join(f"{split['realized'][n]:.0%}" for n in SPLITS)
    if split["asked"] is None:
        return f"split: by dates; shares of rows (train / valid / test) {realized}"
    asked = " / ".join(f"{split['asked'][n]:.0%}" for n in SPLITS)
    return f"split: by fractions; asked (train / valid / test) {asked}, built {realized} of rows"


def _gap_lines(gap: dict[str, Any]) -> list[str]:
    """The gaps table: one line per symbol and a total, `masked rows / masked cells` per split."""
    splits = gap["splits"]

    def cell(entry: dict[str, int]) -> str:
        return f"{entry['masked_rows']} / {entry['masked_cells']}"

    table = [(symbol, [cell(per[s]) for s in splits]) for symbol, per in gap["per_symbol"].items()]
    table.append(("all", [cell(gap["per_split"][s]) for s in splits]))
    width = max(14, *(len(name) + 2 for name, _ in table))
    widths = [max(len(s), *(len(row[i]) for _, row in table)) + 3 for i, s in enumerate(splits)]
    lines = [
        f"gaps (masked rows / masked cells of the {gap['inputs']} inputs, per split and symbol):",
        (
            "  " + "symbol".ljust(width) + "".join(s.ljust(w) for s, w in zip(splits, widths, strict=True))
        ).rstrip(),
    ]
    for name, row in table:
        lines.append(
            (
                "  " + name.ljust(width) + "".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
            ).rstrip()
        )
    return lines


def render_text(summary: dict[str, Any]) -> str:
    """A few aligned lines a person reads in a terminal."""
    lines = [
        f"dataset {summary['cache_key']}  (join: {summary['join']}, lookback {summary['lookback']}, "
        f"horizon {summary['horizon']})",
        f"symbols ({len(summary['symbols'])}): {', '.join(summary['symbols'])}",
        f"time: {summary['first_time']} → {summary['last_time']}; valid from {summary['valid_starts']}, "
        f"test from {summary['test_starts']}",
        f"rows: {summary['n_rows']} × {summary['n_features']} features  "
        + "  ".join(f"{k} {v}" for k, v in summary["rows_per_split"].items()),
    ]
    split = summary.get("split")
    if split:
        lines.append(_split_line(split))
        if split["warning"]:
            lines.append(f"warning: {split['warning']}")
    lines.append("windows: " + "  ".join(f"{k} {v}" for k, v in summary["windows_per_split"].items()))
    lines.append(f"features: {', '.join(summary['feature_names'])}")
    if summary.get("transforms"):
        lines.append(
            "transforms (inputs only; labels from the levels): "
            + ", ".join(f"{c} {t}" for c, t in summary["transforms"].items())
        )
    if summary.get("exclude_columns"):
        lines.append(f"excluded columns: {', '.join(summary['exclude_columns'])}")
    if summary.get("gaps"):
        lines += _gap_lines(summary["gaps"])
    sparse = _sparse_warning(summary.get("sparse_inputs") or {})
    if sparse:
        lines.append(f"warning: {sparse}")
    lines += [f"warning: {skipped}" for skipped in summary.get("skipped_hours") or []]
    lines.append("class balance (down / flat / up) per target and step:")
    for split_name, targets in summary["class_balance"].items():
        for target, steps in targets.items():
            cells = "  ".join(
                f"h{h + 1} {s['down']:.2f}/{s['flat']:.2f}/{s['up']:.2f}" for h, s in enumerate(steps)
            )
            lines.append(f"  {split_name:<5} {target:<20} {cells}")
    size = summary["bytes"]
    lines.append(
        f"object store: {_mib(size['store'])} (minimal {_mib(size['minimal'])}, ratio {size['ratio']:.3f})"
    )
    lines.append(f"cache key: {summary['cache_key']}")
    return "\n".join(lines)
