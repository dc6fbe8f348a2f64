"""The data plane: SQL rows → features → leakage-free windows, built once and shared via Ray's object store.

`build_dataset(spec)` returns a `DatasetBundle`; `put_bundle(bundle)` puts it in the object store once
for every trial. The builder and the store are imported on first use, so `seqsweep.data.bundle` stays
cheap to import for code that only needs the data contract.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from seqsweep.data.bundle import DatasetBundle
from seqsweep.data.spec import DatasetSpec

if TYPE_CHECKING:
    from seqsweep.data.build import build_dataset
    from seqsweep.data.store import get_bundle, put_bundle

_LAZY = {
    "build_dataset": "seqsweep.data.build",
    "put_bundle": "seqsweep.data.store",
    "get_bundle": "seqsweep.data.store",
}

__all__ = ["DatasetBundle", "DatasetSpec", "build_dataset", "get_bundle", "put_bundle"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
