"""What this machine offers a local Ray, as `validate` counts it without importing Ray."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqsweep.cluster.machine import machine_gpus


@pytest.mark.parametrize(
    ("visible", "expected"),
    [(None, 2), ("", 0), ("0", 1), ("0,1,2", 2), ("-1", 0), (" 1 , ", 1)],
)
def test_gpus_are_the_drivers_within_cuda_visible_devices(
    visible: str | None, expected: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two GPUs under the driver's folder; CUDA_VISIBLE_DEVICES (unset, empty, a list) narrows them."""
    for bus in ("0000:17:00.0", "0000:65:00.0"):
        (tmp_path / bus).mkdir()
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert machine_gpus(tmp_path) == expected


def test_no_driver_is_no_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    assert machine_gpus(tmp_path / "absent") == 0
