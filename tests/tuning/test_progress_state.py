"""The progress line across a resume: the best never drops, the elapsed time leaves out the stop."""

from __future__ import annotations

import io
import pickle
import time

from seqsweep.tuning.progress import SweepProgress


def test_best_and_elapsed_go_on_from_the_saved_state() -> None:
    before = SweepProgress("val_macro_f1", "max", total=4, stream=io.StringIO())
    before._offer(0.41)
    before.elapsed_before = 75.0  # as if it had run 75 s already
    saved = before.get_state()
    assert saved is not None and saved["best"] == 0.41 and saved["elapsed_s"] >= 75.0

    # Tune unpickles the callback from tuner.pkl in the resuming process, then restores its state.
    resumed = pickle.loads(pickle.dumps(before))
    resumed.started -= 3600.0  # a monotonic reading from before the stop must not count
    resumed.setup()
    resumed.set_state(saved)
    resumed._offer(0.30)  # a worse epoch after the resume
    line = resumed.line()
    assert "best val_macro_f1 0.4100" in line
    elapsed = int(line.rsplit("elapsed ", 1)[1].split("m")[0]) * 60 + int(line.rsplit("m", 1)[1][:2])
    assert 75 <= elapsed < 75 + 60, line


def test_a_fresh_unpickled_callback_restarts_its_clock() -> None:
    progress = SweepProgress("val_loss", "min", total=2)
    progress.started = time.monotonic() - 10_000.0
    restored = pickle.loads(pickle.dumps(progress))
    assert restored.elapsed_s < 60.0
