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


def test_an_errored_trial_leaves_the_best_as_its_summary_does() -> None:
    """An all-errored sweep's last progress line said "best val_macro_f1 0.1617" just above the summary's
    "best ... none": an errored trial is never ranked, so its scores do not count."""
    from types import SimpleNamespace

    stream = io.StringIO()
    progress = SweepProgress("val_macro_f1", "max", total=2, stream=stream)
    first = SimpleNamespace(trial_id="t1", status="RUNNING", last_result={"val_macro_f1": 0.5})
    second = SimpleNamespace(trial_id="t2", status="RUNNING", last_result={"val_macro_f1": 0.3})
    progress.on_trial_result(1, [first, second], first, first.last_result)
    progress.on_trial_result(1, [first, second], second, second.last_result)
    assert progress.best == 0.5
    first.status = "ERROR"
    progress.on_step_end(2, [first, second])
    assert progress.best == 0.3
    # the trials' bests travel with the saved state: a resume still leaves the errored one out
    resumed = SweepProgress("val_macro_f1", "max", total=2, stream=io.StringIO())
    resumed.set_state(progress.get_state() or {})
    assert resumed.best == 0.5  # the resumed callback has not seen t1's status yet
    second.status = "ERROR"
    resumed.on_step_end(1, [first, second])
    assert resumed.best is None and "best val_macro_f1 - |" in resumed.line()


def test_a_callback_pickled_before_the_per_trial_bests_keeps_its_best() -> None:
    progress = SweepProgress("val_loss", "min", total=2)
    state = pickle.loads(pickle.dumps(progress)).__dict__ | {"best": 0.7}
    del state["_bests"], state["_errored"]
    older = SweepProgress.__new__(SweepProgress)
    older.__setstate__(state)
    older._offer(0.9, "t1")
    assert older.best == 0.7
    older._offer(0.6, "t1")
    assert older.best == 0.6
