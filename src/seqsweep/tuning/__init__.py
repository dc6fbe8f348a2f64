"""Running sweeps on Ray Tune: start, watch, resume."""

from seqsweep.tuning.runner import SweepOutcome, resume_sweep, run_sweep

__all__ = ["SweepOutcome", "resume_sweep", "run_sweep"]
