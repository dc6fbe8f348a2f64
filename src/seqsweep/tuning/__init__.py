"""Running sweeps on Ray Tune: start, watch, resume.

The names below are imported on first use (PEP 562), so that `seqsweep.tuning.registry`, which the
sweep-file schema reads, loads without importing Ray.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seqsweep.tuning.outcome import SweepOutcome
    from seqsweep.tuning.runner import resume_sweep, run_sweep
    from seqsweep.tuning.stop_signals import SweepInterrupted

__all__ = ["SweepInterrupted", "SweepOutcome", "resume_sweep", "run_sweep"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from seqsweep.tuning import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
