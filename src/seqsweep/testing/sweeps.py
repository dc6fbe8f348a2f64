"""Sweep-file pieces small enough for a test on 2 CPU cores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def tiny_dataset(db_url: str, **changes: Any) -> dict[str, Any]:
    """A sweep file's `dataset` section on the generated database: 2 symbols × the latest 300 hours,
    target `close`, lookback 6, horizon 2, 2 PCA components; `changes` override or add keys."""
    return {
        "db": db_url,
        "join": "notebook",
        "symbols": ["LINKUSDT", "UNIUSDT"],
        "targets": ["close"],
        "lookback": 6,
        "horizon": 2,
        "max_rows_per_symbol": 300,
        "pca_components": 2,
        **changes,
    }


def no_retry_sweep_file(
    folder: Path,
    name: str,
    db_url: str,
    entry: dict[str, str],
    params: dict[str, Any],
    search: dict[str, Any],
) -> Path:
    """`folder/<name>.yaml`: a sweep of `entry` (`{"model": ...}` or `{"trainable": ...}`) over `params`
    on `tiny_dataset(db_url)`, searched as `search` says, without a scheduler or retries, 1 CPU a trial,
    stored under `folder/runs`; for tests of how trials fail."""
    sweep = {
        "name": name,
        **entry,
        "dataset": tiny_dataset(db_url),
        "params": params,
        "search": search,
        "scheduler": {"type": "none"},
        "resources": {"cpu": 1},
        "failure": {"max_retries": 0},
        "storage_path": str(folder / "runs"),
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False), encoding="utf-8")
    return path
