"""A sweep's budgets: `search.time_budget_s` and `search.stop_at`.

`SweepBudget` is a Tune `Callback` that the sweep's scheduler and searcher consult. Once the budget
has ended (the sweep's elapsed time, over all its runs and resumes, reached `time_budget_s`, or some
trial reported a value that reaches a `stop_at` target) the scheduler (`seqsweep.tuning.searchers.
make_scheduler`) stops each running trial at its next report, so it finishes the epoch it is
in and that epoch is recorded; the searcher (`PruningOptunaSearch.link`) starts no new trial, and the
sweep ends cleanly. Trials it stops are recorded in the shared `StopRecord`, so Optuna keeps them as
PRUNED. (Not a Tune `Stopper`: Tune pickles its stopper into the experiment state and restores that
copy on resume, cut off from the scheduler and searcher; and `stop_all` would cut running epochs.)

The elapsed time and the reached target are part of the callback state Tune saves with the
experiment, so both survive `resume`: a resumed sweep has what is left of its time budget, and a
sweep that a target already ended stays ended.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from seqsweep.constants import MIN_MODE_METRICS
from seqsweep.tuning.clock import SweepClock
from seqsweep.tuning.searchers import StopRecord


def reaches(metric: str, value: Any, target: float) -> bool:
    """Whether `value` reaches `target`: >= for a metric to maximise, <= for a loss or an error."""
    if not (isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)):
        return False
    return value <= target if metric in MIN_MODE_METRICS else value >= target


class SweepBudget(SweepClock):
    """Ends a sweep once `time_budget_s` seconds have run or any trial reaches a `stop_at` target.

    `time_budget_s`: seconds of sweep time (the time the sweep was stopped between runs left out),
    None for no limit. `stop_at`: metric name → target value (reached at >= for metrics to maximise,
    <= for `val_loss`, `train_loss` and `val_mse`). `stops` receives every trial this budget stops.
    """

    def __init__(
        self,
        time_budget_s: float | None = None,
        stop_at: Mapping[str, float] | None = None,
        stops: StopRecord | None = None,
    ) -> None:
        self.time_budget_s = time_budget_s
        self.stop_at = dict(stop_at or {})
        self.stops = stops if stops is not None else StopRecord()
        super().__init__()
        self.reached: str | None = None
        """Why a target ended the sweep (`val_macro_f1 0.6123 >= 0.6 (trial X)`), once one has."""

    @property
    def active(self) -> bool:
        """Whether there is any budget at all."""
        return self.time_budget_s is not None or bool(self.stop_at)

    @property
    def time_spent(self) -> bool:
        return self.time_budget_s is not None and self.elapsed_s >= self.time_budget_s

    @property
    def ended(self) -> bool:
        """True once no new trial may start and running trials stop after their epoch."""
        return self.reached is not None or self.time_spent

    def reason(self) -> str | None:
        """One line saying what ended the sweep, or None if the budget has not ended it."""
        if self.reached is not None:
            return f"stop_at reached: {self.reached}; the sweep ended there"
        if self.time_spent:
            return f"time budget of {self.time_budget_s:g} s spent; the sweep ended there"
        return None

    def check(self, trial_id: str, result: Mapping[str, Any]) -> bool:
        """Look at one trial's report (stop_at targets); True when the trial must stop after it."""
        self._check_target(trial_id, result)
        if not self.ended:
            return False
        self.stops.add(trial_id)
        return True

    def _check_target(self, trial_id: str, result: Mapping[str, Any]) -> None:
        if self.reached is not None:
            return
        for metric, target in self.stop_at.items():
            value = result.get(metric)
            if isinstance(value, int | float) and reaches(metric, value, target):
                sign = "<=" if metric in MIN_MODE_METRICS else ">="
                self.reached = f"{metric} {float(value):.4f} {sign} {target:g} (trial {trial_id})"
                return

    # --- Callback state (saved with the experiment, restored on resume) ----------------------------
    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        """Every recorded report is checked against the targets (the scheduler checks them first)."""
        self._check_target(str(trial.trial_id), result)

    def get_state(self) -> dict[str, Any] | None:
        return {"elapsed_s": self.elapsed_s, "reached": self.reached}

    def set_state(self, state: dict[str, Any]) -> None:
        self.restore_elapsed(state)
        reached = state.get("reached")
        if isinstance(reached, str):
            self.reached = reached

    def __getstate__(self) -> dict[str, Any]:
        """Pickled with the tuner: the driver-only `StopRecord` is left out (relinked on resume)."""
        state = self.__dict__.copy()
        state["stops"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        if self.stops is None:
            self.stops = StopRecord()
