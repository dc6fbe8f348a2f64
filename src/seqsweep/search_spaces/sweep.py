"""The sweep file: one YAML document that names everything a sweep needs.

    name: demo
    model: lstm                       # lstm | lstm_vae | gru | package.module:function
    # or several families: model: {type: choice, values: [lstm, gru]} with params blocks
    # {common: {...}, lstm: {...}, gru: {...}} (seqsweep.search_spaces.mixed)
    # or, instead of model: trainable: package.module:train   (any training function, see
    # seqsweep.trainables.function)
    dataset: {...}                    # seqsweep.data.spec.DatasetSpec
    params: {cell_size: {type: choice, values: [16, 32]}, epochs: 3}
    search: {algorithm: tpe, num_samples: 8, max_concurrent: 2, seed: 0}
    scheduler: {type: asha, grace_period: 1, reduction_factor: 2}
    resources: {cpu: 1, gpu: 0}
    failure: {max_retries: 1}
    checkpoints: {keep: 2}
    storage_path: ./runs

`load_sweep` checks every rule that needs no data and no cluster; each error names the key, the
rule and the value.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seqsweep._config import from_mapping, to_mapping
from seqsweep.constants import DEFAULT_METRIC, DEFAULT_MODE, MIN_MODE_METRICS, SEARCH_METRICS, VAL_MSE
from seqsweep.data.spec import DatasetSpec
from seqsweep.errors import ConfigError
from seqsweep.search_spaces.mixed import COMMON, MODEL_KEY, family_space, qualified, split_name
from seqsweep.search_spaces.params import Choice, Fixed, Param, Searched, param_to_dict, parse_param

ALGORITHMS = ("tpe", "random", "grid")
SCHEDULERS = ("asha", "none")
BUILTIN_DIR = Path(__file__).parent / "sweeps"
MAX_CORNER_CHECKS = 4096


@dataclass(frozen=True)
class SearchSettings:
    algorithm: str = "tpe"
    """`tpe` (Optuna's TPE), `random`, or `grid` (every combination of the `choice` params)."""
    metric: str = DEFAULT_METRIC
    """What ranks trials: `val_macro_f1` (per-cell macro-F1, the default), `val_skill` (the same minus
    persistence's: for users who only want models that beat persistence), `val_loss`, `val_mse`, ..."""
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


@dataclass(frozen=True)
class SchedulerSettings:
    type: str = "none"
    """`asha` stops weak trials early (each reaches Optuna as PRUNED); `none` trains every trial fully."""
    grace_period: int = 1
    reduction_factor: int = 2
    max_t: int | None = None
    """Epochs at most; None takes the largest `epochs` in the space."""


@dataclass(frozen=True)
class ResourceSettings:
    cpu: float = 1.0
    gpu: float = 0.0
    """Share of one GPU per trial; 0.5 lets two trials share a GPU, each capped at half its memory."""
    workers: int = 1
    """Data-parallel workers per trial (torch models): each trial runs a Ray Train job of this many
    workers, each given `cpu` CPUs and `gpu` of a GPU; the trial itself holds no CPU."""


@dataclass(frozen=True)
class FailureSettings:
    max_retries: int = 1
    """Retries of a trial that raises, before it is marked errored. The sweep goes on either way."""


@dataclass(frozen=True)
class CheckpointSettings:
    keep: int = 2
    """Checkpoints kept per trial, ranked by the search metric (its best epoch is always kept)."""


@dataclass(frozen=True)
class SweepFile:
    """The raw sections, as written (params still unparsed)."""

    name: str
    model: str | dict[str, Any] = ""
    """A family name or a model builder `package.module:function`; empty when `trainable` is given.
    Several families: `{type: choice, values: [lstm, gru]}`, with one `params` block per family."""
    trainable: str | None = None
    """A training function `package.module:function` (`seqsweep.trainables.function`), instead of `model`."""
    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    params: dict[str, Any] = field(default_factory=dict)
    search: SearchSettings = field(default_factory=SearchSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    resources: ResourceSettings = field(default_factory=ResourceSettings)
    failure: FailureSettings = field(default_factory=FailureSettings)
    checkpoints: CheckpointSettings = field(default_factory=CheckpointSettings)
    storage_path: str = "./runs"
    warm_start: str | None = None
    """An earlier experiment directory whose finished trials seed the searcher."""


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: the file plus its parsed search space."""

    file: SweepFile
    space: dict[str, Param]

    @property
    def name(self) -> str:
        return self.file.name

    @property
    def families(self) -> tuple[str, ...]:
        """The families of a mixed-family sweep (`model: {type: choice, values: [...]}`); () otherwise."""
        model = self.file.model
        if isinstance(model, dict) and isinstance(model.get("values"), list | tuple):
            return tuple(str(v) for v in model["values"])
        return ()

    @property
    def model_name(self) -> str:
        """What trains the trials: the `trainable` function's import path, else the `model`
        (`lstm | gru` for a mixed-family sweep)."""
        if self.families:
            return " | ".join(self.families)
        return self.file.trainable or str(self.file.model)

    def family_space(self, family: str) -> dict[str, Param]:
        """One family's whole space under its own names (common parameters plus its block)."""
        return family_space(self.space, family)

    @property
    def searched(self) -> dict[str, Searched]:
        return {k: v for k, v in self.space.items() if not isinstance(v, Fixed)}

    @property
    def fixed(self) -> dict[str, Any]:
        return {k: v.value for k, v in self.space.items() if isinstance(v, Fixed)}

    @property
    def num_samples(self) -> int:
        if self.file.search.num_samples is not None:
            return self.file.search.num_samples
        return self.grid_size() if self.file.search.algorithm == "grid" else 8

    @property
    def max_epochs(self) -> int:
        """The most epochs any trial can run (over every family of a mixed sweep)."""
        spaces = [self.family_space(f) for f in self.families] or [self.space]
        return max(int(max(s.get("epochs", Fixed(10)).corners())) for s in spaces)

    def grid_size(self) -> int:
        return math.prod(len(p.corners()) for p in self.searched.values())

    def to_dict(self) -> dict[str, Any]:
        data = to_mapping(self.file)
        if self.file.trainable is None:
            data.pop("trainable", None)
        else:
            data.pop("model", None)
        data["params"] = space_to_params(self.space, self.families)
        return data

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def resolve_sweep_path(name_or_path: str | Path) -> Path:
    """A file path, or the name of a built-in sweep (`demo`, `lstm_base`, ...)."""
    path = Path(name_or_path)
    if path.exists():
        return path
    builtin = BUILTIN_DIR / f"{name_or_path}.yaml"
    if builtin.exists():
        return builtin
    names = ", ".join(sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml")))
    raise ConfigError(f"sweep file {str(name_or_path)!r} not found (built-in sweeps: {names})")


ENV_PREFIX = "env:"
"""`env:VAR` names a sweep carried in an environment variable (how a submitted Ray Job receives it)."""


def load_sweep(name_or_path: str | Path, overrides: Sequence[str] = ()) -> SweepSpec:
    """A sweep from a file path, a built-in name, or `env:VAR`, with `KEY.PATH=VALUE` overrides applied."""
    if isinstance(name_or_path, str) and name_or_path.startswith(ENV_PREFIX):
        variable = name_or_path.removeprefix(ENV_PREFIX)
        if variable not in os.environ:
            raise ConfigError(f"sweep {name_or_path}: the environment variable {variable} is not set")
        return load_sweep_text(os.environ[variable], where=name_or_path, overrides=overrides)
    path = resolve_sweep_path(name_or_path)
    return load_sweep_text(path.read_text(), where=str(path), overrides=overrides)


def load_sweep_text(text: str, where: str, overrides: Sequence[str] = ()) -> SweepSpec:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{where}: not valid YAML{line}") from None
    for override in overrides:
        raw = apply_override(raw, override)
    return parse_sweep(raw, where=where)


def apply_override(raw: Any, override: str) -> Any:
    """`params.epochs=3` or `dataset.symbols=[ETHUSDT]`: set one key of the raw sweep (value read as YAML)."""
    key, sep, text = override.partition("=")
    if not sep or not key or not isinstance(raw, dict):
        raise ConfigError(f"--set {override!r}: write KEY.PATH=VALUE, e.g. params.epochs=3")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ConfigError(f"--set {override!r}: the value is not valid YAML") from None
    node = raw
    *parents, leaf = key.split(".")
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {override!r}: {part!r} is not a section")
        node = child
    node[leaf] = value
    return raw


def parse_sweep(raw: Any, where: str = "sweep") -> SweepSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a sweep file is a mapping with at least `name` and `model`")
    if "name" not in raw:
        raise ConfigError(f"{where}: missing required key `name`")
    given = [key for key in ("model", "trainable") if raw.get(key) not in (None, "")]
    if not given:
        raise ConfigError(
            f"{where}: missing required key `model` (or `trainable`: a training function package.module:function)"
        )
    if len(given) > 1:
        raise ConfigError(
            f"{where}: give exactly one of `model` (a family or model builder) and `trainable` "
            f"(a training function package.module:function), not both"
        )
    sweep_file = from_mapping(SweepFile, raw, where="sweep")
    search_raw = raw.get("search") or {}
    if (
        isinstance(search_raw, dict)
        and "mode" not in search_raw
        and sweep_file.search.metric in MIN_MODE_METRICS
    ):
        # a loss or an error is minimised unless the file says otherwise
        sweep_file = dataclasses.replace(
            sweep_file, search=dataclasses.replace(sweep_file.search, mode="min")
        )
    space = parse_space(sweep_file)
    families = _families(sweep_file.model)
    normalized = space_to_params(space, families)
    spec = SweepSpec(file=dataclasses.replace(sweep_file, params=normalized), space=space)
    _validate(spec)
    return spec


def _families(model: Any) -> tuple[str, ...]:
    """The families a `model: {type: choice, values: [...]}` lists; () for one model; ConfigError if malformed."""
    if isinstance(model, str):
        return ()
    if not isinstance(model, dict):
        raise ConfigError(
            f"model: a family name, 'package.module:function' or a choice of families, got {model!r}"
        )
    values = model.get("values")
    if (
        model.get("type") != "choice"
        or set(model) != {"type", "values"}
        or not isinstance(values, list)
        or not all(isinstance(v, str) and v for v in values)
        or len(set(values)) != len(values)
        or len(values) < 2
    ):
        raise ConfigError(
            f"model: several families are written model: {{type: choice, values: [lstm, gru]}} "
            f"(two or more distinct names), got {model!r}"
        )
    bad = [v for v in values if v in (COMMON, MODEL_KEY) or "/" in v]
    if bad:
        raise ConfigError(f"model.values: {bad[0]!r} cannot name a family (reserved, or holds '/')")
    return tuple(values)


def parse_space(sweep_file: SweepFile) -> dict[str, Param]:
    """The flat search space of a sweep file's `params`.

    One model: each entry under its name. Several families: `common` entries under their names, each
    family's under `family/name` (`seqsweep.search_spaces.mixed`); a block that is not `common` or one
    of `model.values` is refused.
    """
    params = sweep_file.params or {}
    families = _families(sweep_file.model)
    if not families:
        return {name: parse_param(name, value) for name, value in params.items()}
    space: dict[str, Param] = {}
    for block, entries in params.items():
        if block != COMMON and block not in families:
            raise ConfigError(
                f"params.{block}: not a family of this sweep (model.values: {', '.join(families)}); "
                f"a mixed-family sweep's params hold one block per family and `common`"
            )
        if not isinstance(entries, dict):
            raise ConfigError(f"params.{block}: expected a mapping of parameters, got {entries!r}")
        for name, value in entries.items():
            if not isinstance(name, str) or not name or "/" in name or name == MODEL_KEY:
                raise ConfigError(f"params.{block}: {name!r} cannot name a parameter")
            if block == COMMON:
                if name in families:
                    raise ConfigError(
                        f"params.common.{name}: a common parameter cannot be named like a family"
                    )
                space[name] = parse_param(f"{COMMON}.{name}", value)
            else:
                space[qualified(block, name)] = parse_param(f"{block}.{name}", value)
    return space


def space_to_params(space: dict[str, Param], families: tuple[str, ...] = ()) -> dict[str, Any]:
    """The inverse of `parse_space`: the `params` section as a sweep file writes it."""
    if not families:
        return {k: param_to_dict(v) for k, v in space.items()}
    params: dict[str, Any] = {}
    for name, param in space.items():
        family, own = split_name(name)
        params.setdefault(family or COMMON, {})[own] = param_to_dict(param)
    return params


def display_name(name: str) -> str:
    """A flat parameter name as the sweep file spells its path (`lstm.cell_size`)."""
    return name.replace("/", ".")


def _validate(spec: SweepSpec) -> None:
    """Rules that need no data: settings, generic parameter rules, then the family's own rules."""
    f = spec.file
    if not f.name or any(c in f.name for c in "/\\ "):
        raise ConfigError(f"sweep.name: must be a non-empty name without spaces or slashes, got {f.name!r}")
    s = f.search
    if s.algorithm not in ALGORITHMS:
        raise ConfigError(f"search.algorithm: must be one of {', '.join(ALGORITHMS)}, got {s.algorithm!r}")
    if f.trainable is not None:
        if not s.metric or not isinstance(s.metric, str):
            raise ConfigError(f"search.metric: name a metric the training function reports, got {s.metric!r}")
    elif s.metric not in SEARCH_METRICS:
        raise ConfigError(f"search.metric: must be one of {', '.join(SEARCH_METRICS)}, got {s.metric!r}")
    if s.metric == VAL_MSE and f.trainable is None:
        spaces = {family: spec.family_space(family) for family in spec.families} or {"": spec.space}
        for family, space in spaces.items():
            objective = space.get("objective")
            if not (isinstance(objective, Fixed) and objective.value == "regression"):
                where = f" (family {family})" if family else ""
                raise ConfigError(
                    f"search.metric: val_mse is reported only with `params.objective: regression`{where}"
                )
    if s.mode not in ("min", "max"):
        raise ConfigError(f"search.mode: must be `min` or `max`, got {s.mode!r}")
    if s.num_samples is not None and s.num_samples < 1:
        raise ConfigError(f"search.num_samples: must be >= 1, got {s.num_samples}")
    if s.max_concurrent < 1:
        raise ConfigError(f"search.max_concurrent: must be >= 1, got {s.max_concurrent}")
    _validate_budget(s)
    if spec.families:
        _validate_mixed(spec)
    elif not spec.searched:
        raise ConfigError("params: search at least one parameter (give it a `type`)")
    if s.algorithm == "grid":
        continuous = [k for k, v in spec.searched.items() if not isinstance(v, Choice)]
        if continuous:
            raise ConfigError(
                f"params.{continuous[0]}: grid search takes `choice` parameters only, "
                f"got type {spec.searched[continuous[0]].kind}"
            )
        if s.num_samples is not None and s.num_samples != spec.grid_size():
            raise ConfigError(
                f"search.num_samples: a grid has {spec.grid_size()} points; leave num_samples out or set it "
                f"to that, got {s.num_samples}"
            )
    if f.scheduler.type not in SCHEDULERS:
        raise ConfigError(f"scheduler.type: must be one of {', '.join(SCHEDULERS)}, got {f.scheduler.type!r}")
    if f.scheduler.grace_period < 1 or f.scheduler.reduction_factor < 2:
        raise ConfigError(
            f"scheduler: grace_period >= 1 and reduction_factor >= 2 must hold, got "
            f"grace_period={f.scheduler.grace_period}, reduction_factor={f.scheduler.reduction_factor}"
        )
    if f.scheduler.type == "asha":
        max_t = f.scheduler.max_t or spec.max_epochs
        if f.scheduler.grace_period > max_t:
            raise ConfigError(
                f"scheduler.grace_period: must be at most the epochs a trial can run ({max_t}), "
                f"got {f.scheduler.grace_period}"
            )
    r = f.resources
    if r.cpu <= 0 or r.gpu < 0 or r.workers < 1:
        raise ConfigError(
            f"resources: cpu > 0, gpu >= 0 and workers >= 1 must hold, got cpu={r.cpu}, gpu={r.gpu}, "
            f"workers={r.workers}"
        )
    if r.gpu > 1 and r.gpu != int(r.gpu):
        raise ConfigError(f"resources.gpu: a fraction must be at most 1 (or a whole number), got {r.gpu}")
    if f.failure.max_retries < 0:
        raise ConfigError(f"failure.max_retries: must be >= 0, got {f.failure.max_retries}")
    if f.checkpoints.keep < 1:
        raise ConfigError(f"checkpoints.keep: must be >= 1, got {f.checkpoints.keep}")
    _validate_generic_params(spec)
    _validate_with_family(spec)


def _validate_mixed(spec: SweepSpec) -> None:
    """What a mixed-family sweep cannot do (yet): a grid over a conditional space, a warm start, a
    training function."""
    if spec.file.trainable is not None:
        raise ConfigError("model: several families and `trainable` exclude each other")
    if spec.file.search.algorithm == "grid":
        raise ConfigError(
            "search.algorithm: grid is not supported over several families (a conditional space); "
            "use tpe or random, or one grid sweep per family"
        )
    if spec.file.warm_start:
        raise ConfigError(
            "warm_start: not supported for a mixed-family sweep (its conditional space cannot take an "
            "earlier study's trials); leave it out"
        )


def _validate_budget(s: SearchSettings) -> None:
    """`search.time_budget_s` > 0 seconds; `search.stop_at` maps reported metrics to finite numbers."""
    budget = s.time_budget_s
    if budget is not None and (
        isinstance(budget, bool) or not isinstance(budget, int | float) or not 0 < budget < math.inf
    ):
        raise ConfigError(f"search.time_budget_s: must be a number of seconds > 0, got {budget!r}")
    if s.stop_at is None:
        return
    if not isinstance(s.stop_at, dict) or not s.stop_at:
        raise ConfigError(
            f"search.stop_at: write metric: target, e.g. {{val_macro_f1: 0.6}}, got {s.stop_at!r}"
        )
    for metric, target in s.stop_at.items():
        if metric not in SEARCH_METRICS:
            raise ConfigError(
                f"search.stop_at: unknown metric {metric!r} (valid: {', '.join(SEARCH_METRICS)})"
            )
        if isinstance(target, bool) or not isinstance(target, int | float) or not math.isfinite(target):
            raise ConfigError(f"search.stop_at.{metric}: the target must be a finite number, got {target!r}")


def _validate_generic_params(spec: SweepSpec) -> None:
    for flat_name, param in spec.space.items():
        values = param.corners()
        name, where = split_name(flat_name)[1], display_name(flat_name)
        if name.startswith("dropout"):
            bad = [v for v in values if not (isinstance(v, int | float) and 0 <= v < 1)]
            if bad:
                raise ConfigError(f"params.{where}: a dropout rate must be in [0, 1), got {bad[0]}")
        if name in ("epochs", "batch_size"):
            bad = [v for v in values if not (isinstance(v, int) and not isinstance(v, bool) and v >= 1)]
            if bad:
                raise ConfigError(f"params.{where}: must be an integer >= 1, got {bad[0]!r}")


def corner_configs(spec: SweepSpec, family: str | None = None) -> list[dict[str, Any]]:
    """Every combination of each parameter's extremes (choice values, range ends), capped; with
    `family`, over that family's space of a mixed sweep (its own names)."""
    space = spec.space if family is None else spec.family_space(family)
    names = list(space)
    grids = [space[n].corners() for n in names]
    combos = itertools.islice(itertools.product(*grids), MAX_CORNER_CHECKS)
    return [dict(zip(names, combo, strict=True)) for combo in combos]


def _validate_with_family(spec: SweepSpec) -> None:
    from seqsweep.trainables.registry import resolve_family

    if spec.file.trainable is not None:
        _validate_trainable(spec)
        return
    for name in spec.families or (str(spec.file.model),):
        family = resolve_family(name)
        if spec.file.resources.workers > 1 and family.framework == "keras":
            raise ConfigError(
                f"resources.workers: data-parallel trials train torch models only; {name!r} is a "
                f"Keras family (use workers: 1, or the gru family)"
            )
        try:
            for config in corner_configs(spec, name if spec.families else None):
                family.validate_config(config)
        except ConfigError as exc:
            if not spec.families:
                raise
            raise ConfigError(f"params.{name}: {exc}") from None


def _validate_trainable(spec: SweepSpec) -> None:
    """A training function: importable and callable; one worker per trial; one split (no folds)."""
    from seqsweep.trainables.function import import_trainable

    trainable = str(spec.file.trainable)
    if ":" not in trainable:
        raise ConfigError(
            f"trainable: write a training function as 'package.module:function', got {trainable!r}"
        )
    import_trainable(trainable)
    if spec.file.resources.workers > 1:
        raise ConfigError(
            "resources.workers: a training function runs in its trial's process; use workers: 1"
        )
    if spec.file.dataset.split.folds > 1:
        raise ConfigError(
            "dataset.split.folds: a training function trains on one train/valid split; use folds: 1"
        )
