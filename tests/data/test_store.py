"""The bundle goes into Ray's object store once; consumers read zero-copy, read-only views and never rebuild."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import ray

from seqsweep.data import DatasetSpec, build_dataset, get_bundle, put_bundle
from seqsweep.data.build import build_count


@ray.remote(num_cpus=1)
def consume(handle: list[Any]) -> dict[str, Any]:
    """A trial's view of the data: resolve the ref it was handed, touch a batch, report what it saw."""
    from seqsweep.data.build import build_count as worker_build_count

    bundle = get_bundle(handle[0])
    again = get_bundle(handle[0])
    x, _, _ = next(bundle.batches("train", 8))
    return {
        "writeable": bundle.features.flags.writeable,
        "labels_writeable": bundle.splits["train"].labels.flags.writeable,
        "labels": bundle.splits["train"].labels,  # derived in this worker from the stored levels
        "owns_data": bundle.features.flags.owndata,
        "shared": np.shares_memory(bundle.features, again.features),
        "checksum": float(bundle.features.astype(np.float64).sum()),
        "batch": x.shape,
        "builds_here": worker_build_count(),
    }


def test_consumers_share_one_read_only_copy_and_do_not_rebuild(
    ray_cluster: Any, sample_db_url: str, tmp_path: Path
) -> None:
    before = build_count()
    bundle = build_dataset(
        DatasetSpec(join="prices", symbols=("LINKUSDT", "UNIUSDT")), db_url=sample_db_url, cache_dir=tmp_path
    )
    assert build_count() == before + 1
    ref = put_bundle(bundle)
    # wrapped in a list so Ray hands the tasks the ref itself, not the resolved value
    results = ray.get([consume.remote([ref]), consume.remote([ref])])
    assert build_count() == before + 1  # two consumers, still one build
    expected = float(bundle.features.astype(np.float64).sum())
    for seen in results:
        assert seen["writeable"] is False and seen["labels_writeable"] is False
        assert np.array_equal(seen["labels"], bundle.splits["train"].labels)
        assert seen["owns_data"] is False  # a view of the shared-memory object
        assert seen["shared"] is True  # two reads, one buffer: zero-copy
        assert seen["checksum"] == pytest.approx(expected)
        assert seen["batch"] == (8, bundle.spec.lookback, bundle.features.shape[1])
        assert seen["builds_here"] == 0
    local = get_bundle(ref)
    assert local.features.flags.writeable is False
    assert np.array_equal(local.features, bundle.features)
    assert get_bundle(bundle) is bundle
