"""The sweep's search algorithms and trial schedulers: one name → factory table each.

The keys are the validation: `search.algorithm` must be a key of `SAMPLERS` and `scheduler.type` a
key of `SCHEDULERS` (`check_name`), so a new algorithm is one entry here and nowhere else. The
pattern is Ray's `SEARCH_ALG_IMPORT` + `create_searcher` (python/ray/tune/search/__init__.py): one
dict, its keys in the error. Importing this module imports no Ray: each factory imports what it
builds when it is called, so the sweep-file schema (`seqsweep.search_spaces.settings`) checks names
here without loading the runtime.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from seqsweep.errors import ConfigError

if TYPE_CHECKING:
    import optuna
    from ray.tune.schedulers import TrialScheduler

    from seqsweep.search_spaces.sweep import SweepSpec
    from seqsweep.tuning.searchers import BudgetView, StopRecord

SamplerFactory = Callable[["SweepSpec"], "optuna.samplers.BaseSampler"]
"""spec → the Optuna sampler of its `search` section."""
SchedulerFactory = Callable[["SweepSpec", "StopRecord | None", "BudgetView | None"], "TrialScheduler"]
"""(spec, the stops shared with the searcher, the sweep's budget) → Tune's trial scheduler."""

DEFAULT_STARTUP_TRIALS: Final = 10
"""TPE's random start when `search.n_startup_trials` is left out."""


def _tpe(spec: SweepSpec) -> optuna.samplers.BaseSampler:
    """Multivariate TPE, its random start never shorter than `max_concurrent` (the first parallel
    wave is random). A mixed-family sweep's space is conditional: TPE then runs with `group=True`,
    which fits each family's parameters only on the trials that sampled them."""
    import optuna

    s = spec.file.search
    startup = max(
        s.n_startup_trials if s.n_startup_trials is not None else DEFAULT_STARTUP_TRIALS, s.max_concurrent
    )
    if not spec.families:
        return optuna.samplers.TPESampler(seed=s.seed, n_startup_trials=startup, multivariate=True)
    with warnings.catch_warnings():  # `group` is marked experimental in Optuna
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=s.seed, n_startup_trials=startup, multivariate=True, group=True
        )


def _random(spec: SweepSpec) -> optuna.samplers.BaseSampler:
    import optuna

    return optuna.samplers.RandomSampler(seed=spec.file.search.seed)


def _grid(spec: SweepSpec) -> optuna.samplers.BaseSampler:
    """Every combination of the `choice` parameters (the schema refuses a grid over anything else)."""
    import optuna

    from seqsweep.search_spaces.params import Choice

    grid = {name: list(p.values) for name, p in spec.searched.items() if isinstance(p, Choice)}
    return optuna.samplers.GridSampler(grid, seed=spec.file.search.seed)


SAMPLERS: Final[Mapping[str, SamplerFactory]] = MappingProxyType(
    {"tpe": _tpe, "random": _random, "grid": _grid}
)
"""`search.algorithm` → its Optuna sampler: `tpe` (Optuna's TPE), `random`, or `grid`."""


def _fifo(spec: SweepSpec, stops: StopRecord | None, budget: BudgetView | None) -> TrialScheduler:
    from seqsweep.tuning.searchers import SweepFIFOScheduler

    return SweepFIFOScheduler(budget)


def _asha(spec: SweepSpec, stops: StopRecord | None, budget: BudgetView | None) -> TrialScheduler:
    """ASHA on `training_iteration` (epochs), `max_t` defaulting to the most epochs a trial can run."""
    from seqsweep.tuning.searchers import RecordingASHAScheduler

    sched = spec.file.scheduler
    return RecordingASHAScheduler(
        stops=stops,
        budget=budget,
        time_attr="training_iteration",
        max_t=sched.max_t or spec.max_epochs,
        grace_period=sched.grace_period,
        reduction_factor=sched.reduction_factor,
    )


SCHEDULERS: Final[Mapping[str, SchedulerFactory]] = MappingProxyType({"asha": _asha, "none": _fifo})
"""`scheduler.type` → Tune's trial scheduler: `asha` stops weak trials early, `none` trains every trial fully."""


def check_name(registry: Mapping[str, object], name: object, key: str) -> None:
    """ConfigError naming `key` and the registry's valid names unless `name` is one of them."""
    if not isinstance(name, str) or name not in registry:
        raise ConfigError(f"{key}: must be one of {', '.join(registry)}, got {name!r}")
