"""The settings sections of a sweep file: `search`, `scheduler`, `resources`, `failure`, `checkpoints`.

Each section checks its own fields in `__post_init__` (as `seqsweep.data.spec.DatasetSpec` does), so
an invalid section cannot be built from a file or from Python: `SearchSettings(mode="up")` raises
ConfigError. Each message names the key as the sweep file spells it, the rule and the value
(`search.num_samples: must be >= 1, got 0`). Rules that join two sections (a grid takes `choice`
parameters only, ASHA's grace period fits in the epochs, ...) are the sweep's, in
`seqsweep.search_spaces.sweep`. Algorithm and scheduler names are the keys of
`seqsweep.tuning.registry`'s `SAMPLERS` and `SCHEDULERS`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from seqsweep._yaml import number_text_hint
from seqsweep.constants import DEFAULT_METRIC, DEFAULT_MODE, SEARCH_METRICS
from seqsweep.errors import ConfigError
from seqsweep.tuning.registry import SAMPLERS, SCHEDULERS, check_name

MODES = ("min", "max")
MAX_SEED = 2**32 - 1
"""The largest `search.seed`: Optuna's samplers seed numpy's `RandomState`, which takes 0 … 2**32 - 1."""


@dataclass(frozen=True)
class SearchSettings:
    algorithm: str = "tpe"
    """`tpe` (Optuna's TPE), `random`, or `grid` (every combination of the `choice` params)."""
    metric: str = DEFAULT_METRIC
    """What ranks trials: `val_macro_f1` (per-cell macro-F1, the default), `val_skill` (the same minus
    persistence's: for users who only want models that beat persistence), `val_loss`, `val_mse`, ...
    Which names are valid depends on what trains (the sweep checks it)."""
    mode: str = DEFAULT_MODE
    """`max` or `min`; defaults to `min` for `val_loss`, `train_loss` and `val_mse`, else `max`."""
    num_samples: int | None = None
    """Trials to run; None means 8, or the grid's size for `grid`."""
    max_concurrent: int = 2
    seed: int = 0
    n_startup_trials: int | None = None
    """TPE's random start (None: 10); never fewer than max_concurrent, so the first parallel wave is random."""
    storage: str | None = None
    """Optuna RDB URL; None keeps the study in `<experiment>/optuna.db` (SQLite)."""
    time_budget_s: float | None = None
    """Seconds of sweep time (over runs and resumes); once spent, running trials finish their epoch,
    no new trial starts and the sweep ends (exit 0). None: no limit."""
    stop_at: dict[str, float] | None = None
    """Metric → target, e.g. `{val_macro_f1: 0.6}`: the sweep ends as for a spent time budget once any
    trial reports a value reaching a target (>= to maximise, <= for `val_loss`, `train_loss`, `val_mse`)."""

    def __post_init__(self) -> None:
        """Raises ConfigError naming the first invalid `search.<key>`."""
        check_name(SAMPLERS, self.algorithm, "search.algorithm")
        if self.mode not in MODES:
            raise ConfigError(f"search.mode: must be `min` or `max`, got {self.mode!r}")
        if self.num_samples is not None and self.num_samples < 1:
            raise ConfigError(f"search.num_samples: must be >= 1, got {self.num_samples}")
        if self.max_concurrent < 1:
            raise ConfigError(f"search.max_concurrent: must be >= 1, got {self.max_concurrent}")
        if self.n_startup_trials is not None and self.n_startup_trials < 0:  # -1 was read as max_concurrent
            raise ConfigError(
                f"search.n_startup_trials: must be >= 0 (leave it out for 10), got {self.n_startup_trials}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            # Optuna's samplers (numpy's RandomState) take 0 … 2**32 - 1 only
            raise ConfigError(f"search.seed: must be a whole number from 0 to {MAX_SEED}, got {self.seed!r}")
        self._check_budget()

    def _check_budget(self) -> None:
        """`time_budget_s` > 0 seconds; `stop_at` maps reported metrics to finite numbers."""
        budget = self.time_budget_s
        if budget is not None and (
            isinstance(budget, bool) or not isinstance(budget, int | float) or not 0 < budget < math.inf
        ):
            raise ConfigError(
                f"search.time_budget_s: must be a number of seconds > 0, got {budget!r}{number_text_hint(budget)}"
            )
        if self.stop_at is None:
            return
        if not isinstance(self.stop_at, dict) or not self.stop_at:
            raise ConfigError(
                f"search.stop_at: write metric: target, e.g. {{val_macro_f1: 0.6}}, got {self.stop_at!r}"
            )
        for metric, target in self.stop_at.items():
            if metric not in SEARCH_METRICS:
                raise ConfigError(
                    f"search.stop_at: unknown metric {metric!r} (valid: {', '.join(SEARCH_METRICS)})"
                )
            if isinstance(target, bool) or not isinstance(target, int | float) or not math.isfinite(target):
                raise ConfigError(
                    f"search.stop_at.{metric}: the target must be a finite number, got {target!r}"
                    f"{number_text_hint(target)}"
                )


@dataclass(frozen=True)
class SchedulerSettings:
    type: str = "none"
    """`asha` stops weak trials early (each reaches Optuna as PRUNED); `none` trains every trial fully."""
    grace_period: int = 1
    reduction_factor: int = 2
    max_t: int | None = None
    """Epochs at most; None takes the largest `epochs` in the space."""

    def __post_init__(self) -> None:
        """Raises ConfigError for an unknown `scheduler.type`, a `max_t` < 1 (0 was read as unset) or a
        grace period < 1 / reduction factor < 2."""
        check_name(SCHEDULERS, self.type, "scheduler.type")
        if self.max_t is not None and self.max_t < 1:
            raise ConfigError(
                f"scheduler.max_t: must be >= 1 epoch (leave it out to take the largest params.epochs), "
                f"got {self.max_t}"
            )
        if self.grace_period < 1 or self.reduction_factor < 2:
            raise ConfigError(
                f"scheduler: grace_period >= 1 and reduction_factor >= 2 must hold, got "
                f"grace_period={self.grace_period}, reduction_factor={self.reduction_factor}"
            )


ASHA_KEYS: Final = ("grace_period", "reduction_factor", "max_t")
"""The `scheduler` keys that only `type: asha` reads: written without any `type` they are refused
(`type` defaults to none, which reads none of them); beside an explicit `type: none` (a sweep switched
to full training with `--set scheduler.type=none`) they are left unread on purpose."""


@dataclass(frozen=True)
class ResourceSettings:
    cpu: float = 1.0
    gpu: float = 0.0
    """Share of one GPU per trial; 0.5 lets two trials share a GPU, each capped at half its memory."""
    workers: int = 1
    """Data-parallel workers per trial (torch models): each trial runs a Ray Train job of this many
    workers, each given `cpu` CPUs and `gpu` of a GPU; the trial itself holds no CPU."""

    def __post_init__(self) -> None:
        """Raises ConfigError unless cpu > 0, gpu >= 0 (a fraction at most 1), workers >= 1, all finite
        (a NaN cpu passed both comparisons and Ray then never placed a trial)."""
        finite = all(math.isfinite(v) for v in (self.cpu, self.gpu, self.workers))
        if not finite or not (self.cpu > 0 and self.gpu >= 0 and self.workers >= 1):
            raise ConfigError(
                f"resources: cpu > 0, gpu >= 0 and workers >= 1 must hold (finite numbers), got cpu={self.cpu}, "
                f"gpu={self.gpu}, workers={self.workers}"
            )
        if self.gpu > 1 and self.gpu != int(self.gpu):
            raise ConfigError(
                f"resources.gpu: a fraction must be at most 1 (or a whole number), got {self.gpu}"
            )


@dataclass(frozen=True)
class FailureSettings:
    max_retries: int = 1
    """Retries of a trial that raises, before it is marked errored. The sweep goes on either way."""

    def __post_init__(self) -> None:
        """Raises ConfigError for a negative `failure.max_retries`."""
        if self.max_retries < 0:
            raise ConfigError(f"failure.max_retries: must be >= 0, got {self.max_retries}")


@dataclass(frozen=True)
class CheckpointSettings:
    keep: int = 2
    """Checkpoints kept per trial, ranked by the search metric (its best epoch is always kept)."""

    def __post_init__(self) -> None:
        """Raises ConfigError for `checkpoints.keep` < 1."""
        if self.keep < 1:
            raise ConfigError(f"checkpoints.keep: must be >= 1, got {self.keep}")


MAX_NAME_BYTES: Final = 100
"""The longest sweep name: a file name holds 255 bytes, and Tune's trial folders and files add to it."""


def check_sweep_name(name: str) -> None:
    """`sweep.name`: non-empty, without spaces or slashes (it names the experiment directory and the study),
    and none of the names a folder of the storage path cannot take: `.` (the storage path itself), `..`
    (its parent: the experiment would land beside the user's files and its `sweep.yaml` over theirs) and
    `datasets` (the dataset cache, `seqsweep.layout.DATASETS_DIR`). Raises ConfigError (one line)."""
    from seqsweep.layout import DATASETS_DIR

    if not name or any(c in name for c in "/\\") or any(c.isspace() or not c.isprintable() for c in name):
        # a NUL reached the file system as "embedded null byte" (exit 3, after the build); a newline
        # split the name over two lines of every message
        raise ConfigError(
            f"sweep.name: must be a non-empty name without blanks, control characters or slashes, got {name!r}"
        )
    if len(name.encode()) > MAX_NAME_BYTES:
        raise ConfigError(
            f"sweep.name: at most {MAX_NAME_BYTES} bytes (it names a folder, and trial folders add to it), "
            f"got {len(name.encode())}"
        )
    if name in (".", "..", DATASETS_DIR):
        raise ConfigError(
            f"sweep.name: {name!r} cannot name an experiment folder of the storage path ('.', '..' and "
            f"{DATASETS_DIR!r}, the dataset cache, are taken); choose another name"
        )
