"""What a built dataset holds, as a JSON-ready dict and as text: `seqsweep data build` prints it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from seqsweep.constants import CLASS_NAMES, MASK_VALUE, SPLITS
from seqsweep.data.bundle import DatasetBundle
from seqsweep.data.windows import EMBARGO, assign_splits


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


def summarize(bundle: DatasetBundle) -> dict[str, Any]:
    """Symbols, rows and windows per split, features, class balance, bytes in the store vs minimal, cache key."""
    codes = assign_splits(
        bundle.row_time, bundle.boundaries, int(bundle.preprocessing.extra.get("gap_ns", 0))
    )
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
        "first_time": str(pd.Timestamp(int(bundle.row_time.min()))),
        "last_time": str(pd.Timestamp(int(bundle.row_time.max()))),
        "valid_starts": str(pd.Timestamp(bundle.boundaries[0])),
        "test_starts": str(pd.Timestamp(bundle.boundaries[1])),
        "rows_per_split": rows,
        "windows_per_split": {name: len(bundle.splits[name]) for name in SPLITS},
        "class_balance": {
            name: _class_balance(bundle.splits[name].labels, bundle.target_names) for name in SPLITS
        },
        "bytes": {"store": store, "minimal": minimal, "ratio": round(store / minimal, 4)},
    }


def _mib(n: int) -> str:
    return f"{n / 2**20:.2f} MiB"


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
        "windows: " + "  ".join(f"{k} {v}" for k, v in summary["windows_per_split"].items()),
        f"features: {', '.join(summary['feature_names'])}",
        "class balance (down / flat / up) per target and step:",
    ]
    for split, targets in summary["class_balance"].items():
        for target, steps in targets.items():
            cells = "  ".join(
                f"h{h + 1} {s['down']:.2f}/{s['flat']:.2f}/{s['up']:.2f}" for h, s in enumerate(steps)
            )
            lines.append(f"  {split:<5} {target:<20} {cells}")
    size = summary["bytes"]
    lines.append(
        f"object store: {_mib(size['store'])} (minimal {_mib(size['minimal'])}, ratio {size['ratio']:.3f})"
    )
    lines.append(f"cache key: {summary['cache_key']}")
    return "\n".join(lines)
