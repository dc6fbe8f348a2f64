"""Running sweeps on Ray Tune: start, watch, resume."""

from seqsweep.tuning.runner import SweepInterrupted, SweepOutcome, resume_sweep, run_sweep

__all__ = ["SweepInterrupted", "SweepOutcome", "resume_sweep", "run_sweep"]
