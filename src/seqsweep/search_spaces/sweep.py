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
rule and the value. Each section checks its own keys (`seqsweep.search_spaces.settings`,
`seqsweep.data.spec.DatasetSpec`); `SweepSpec` checks the rules that join sections; `parse_sweep`
then lets the model family check each corner of the space (`check_family=False` skips that).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seqsweep._config import from_mapping, key_text, to_mapping
from seqsweep._yaml import describe_error, load_strict, read_yaml_file
from seqsweep.constants import METRIC_RANGES, MIN_MODE_METRICS, SEARCH_METRICS, VAL_MSE
from seqsweep.data.spec import DatasetSpec
from seqsweep.errors import ConfigError
from seqsweep.search_spaces.mixed import COMMON, MODEL_KEY, family_space, qualified, split_name
from seqsweep.search_spaces.params import Choice, Fixed, Param, Searched, param_to_dict, parse_param
from seqsweep.search_spaces.run_rules import run_rule
from seqsweep.search_spaces.settings import (
    ASHA_KEYS,
    CheckpointSettings,
    FailureSettings,
    ResourceSettings,
    SchedulerSettings,
    SearchSettings,
    check_sweep_name,
)

__all__ = [
    "CheckpointSettings",
    "FailureSettings",
    "ResourceSettings",
    "SchedulerSettings",
    "SearchSettings",
    "SweepFile",
    "SweepSpec",
    "load_sweep",
    "parse_sweep",
]

BUILTIN_DIR = Path(__file__).parent / "sweeps"
PARAMS_PREFIX = "params."
MAX_CORNER_CHECKS = 4096


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

    def __post_init__(self) -> None:
        """Raises ConfigError for an invalid `name` or a blank `storage_path` (each settings section
        checks itself)."""
        check_sweep_name(self.name)
        if isinstance(self.storage_path, str) and not self.storage_path.strip():
            # `''` was the current folder: experiments beside the user's files, not in ./runs
            raise ConfigError(
                f"storage_path: empty; give a folder or a storage URI (e.g. ./runs), or leave it out "
                f"for {type(self).storage_path}"
            )


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: the file plus its parsed search space."""

    file: SweepFile
    space: dict[str, Param]

    def __post_init__(self) -> None:
        """The rules that join sections (`_check_sections`); the family's own are `parse_sweep`'s."""
        _check_sections(self)

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
        corners = [c for s in spaces for c in s.get("epochs", Fixed(10)).corners()]
        wrong = [c for c in corners if isinstance(c, bool) or not isinstance(c, int | float)]
        if wrong:  # a list, null, a date or text: refused here, where it is first read, naming the key
            raise ConfigError(f"params.epochs: expected a whole number of epochs, got {wrong[0]!r}")
        # NaN and inf crashed `int()`; 0 and fewer were blamed on scheduler.grace_period
        out = [c for c in corners if not 1 <= c < math.inf]
        if out:  # in the words of the families' own rule (`hyperparameters.COMMON`)
            raise ConfigError(f"params.epochs: must be an integer >= 1, got {out[0]!r}")
        return int(max(corners))

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
    if path.is_dir():
        raise ConfigError(f"sweep file {str(name_or_path)!r} is a directory; name a sweep file (.yaml)")
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
    text = read_yaml_file(path, "the sweep file")
    return load_sweep_text(text, where=str(path), overrides=overrides)


def load_sweep_text(text: str, where: str, overrides: Sequence[str] = ()) -> SweepSpec:
    try:
        raw = load_strict(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {describe_error(exc)}") from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise ConfigError(f"{where}: nested too deeply to be a sweep file") from None
    for override in overrides:
        raw = apply_override(raw, override)
    return parse_sweep(raw, where=where)


def apply_override(raw: Any, override: str) -> Any:
    """`params.epochs=3` or `dataset.symbols=[ETHUSDT]`: set one key of the raw sweep (value read as YAML)."""
    key, sep, text = override.partition("=")
    if not sep or not key or not isinstance(raw, dict):
        raise ConfigError(f"--set {override!r}: write KEY.PATH=VALUE, e.g. params.epochs=3")
    try:
        value = load_strict(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {override!r}: the value is not valid YAML: {describe_error(exc)}") from None
    node = raw
    *parents, leaf = key.split(".")
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {override!r}: {part!r} is not a section")
        node = child
    node[leaf] = value
    return raw


def parse_sweep(raw: Any, where: str = "sweep", check_family: bool = True) -> SweepSpec:
    """A sweep from its raw mapping (a YAML document), every rule that needs no data checked.

    `check_family=False` skips what needs the model's code: importing the family (or training
    function) and checking each corner of the space against it. Reading a finished experiment's
    stored sweep does so, so that results never import Keras or torch. Raises ConfigError naming
    the key, the rule and the value.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a sweep file is a mapping with at least `name` and `model`")
    if "name" not in raw:
        raise ConfigError(f"{where}: missing required key `name`")
    if "model" in raw and raw["model"] is None:  # `model: null` beside `trainable:` is `model` left out
        raw = {key: value for key, value in raw.items() if key != "model"}
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
    _check_scheduler_type_written(raw.get("scheduler"))
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
    if check_family:
        _check_with_family(spec)
    return spec


def _check_scheduler_type_written(scheduler: Any) -> None:
    """A run rule (`run_rule`): ASHA's keys (`ASHA_KEYS`) under `scheduler` without a `type`; the type
    defaults to none, so `scheduler: {grace_period: 3}` stopped no trial early, without a word."""
    if not isinstance(scheduler, dict) or "type" in scheduler:
        return
    unread = [key for key in ASHA_KEYS if key in scheduler]
    if unread:
        run_rule(
            f"scheduler.{unread[0]}: read only by `type: asha` (early stopping), but scheduler has no type "
            f"(none: every trial trains fully); add type: asha, or write type: none to train fully"
        )


def _families(model: Any) -> tuple[str, ...]:
    """The families a `model: {type: choice, values: [...]}` lists; () for one model (or none: `model`
    left out, empty or null beside `trainable`); ConfigError if malformed."""
    if model is None or isinstance(model, str):
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
    if not isinstance(params, dict):
        raise ConfigError(
            f"params: expected a mapping of parameter names to values or search specs (cell_size: 64), "
            f"got {type(params).__name__} {params!r}"[:300]
        )
    families = _families(sweep_file.model)
    if not families:
        for name in params:
            if not isinstance(name, str) or not name:
                raise ConfigError(f"params: {key_text(name)} cannot name a parameter; write its name")
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
                raise ConfigError(f"params.{block}: {key_text(name)} cannot name a parameter")
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


def _check_sections(spec: SweepSpec) -> None:
    """Rules that join sections: the metric is one the sweep can report, a grid over `choice` parameters,
    ASHA's grace period within the epochs, what a mixed-family sweep cannot do."""
    f, s = spec.file, spec.file.search
    if f.trainable is not None:
        if not s.metric or not isinstance(s.metric, str):
            raise ConfigError(f"search.metric: name a metric the training function reports, got {s.metric!r}")
    elif s.metric not in SEARCH_METRICS:
        raise ConfigError(f"search.metric: must be one of {', '.join(SEARCH_METRICS)}, got {s.metric!r}")
    else:
        _check_stop_targets(s.stop_at or {})
    if spec.families:
        _check_mixed(spec)
    elif not spec.searched:
        raise ConfigError("params: search at least one parameter (give it a `type`)")
    if s.algorithm == "grid":
        _check_grid(spec)
    if f.scheduler.type == "asha":
        max_t = spec.max_epochs if f.scheduler.max_t is None else f.scheduler.max_t
        if f.scheduler.grace_period > max_t:
            raise ConfigError(
                f"scheduler.grace_period: must be at most the epochs a trial can run ({max_t}), "
                f"got {f.scheduler.grace_period}"
            )


def _check_stop_targets(stop_at: dict[str, float]) -> None:
    """Each `search.stop_at` target within what its metric can report (`METRIC_RANGES`): `val_macro_f1: 60`
    (a percentage) was never reached, and the sweep ran its whole budget. A training function's metrics
    are its own, so its targets are not checked."""
    for metric, target in stop_at.items():
        low, high = METRIC_RANGES.get(metric, (-math.inf, math.inf))
        if not low <= target <= high:
            percent = f" (a fraction: write {target / 100:g} for {target:g}%)" if 1 < target <= 100 else ""
            raise ConfigError(
                f"search.stop_at.{metric}: must be from {low:g} to {high:g}, got {target!r}{percent}"
            )


def _check_regression(spec: SweepSpec) -> None:
    """`search.metric: val_mse` needs `params.objective: regression` (in every family's space)."""
    spaces = {family: spec.family_space(family) for family in spec.families} or {"": spec.space}
    for family, space in spaces.items():
        objective = space.get("objective")
        if not (isinstance(objective, Fixed) and objective.value == "regression"):
            where = f" (family {family})" if family else ""
            raise ConfigError(
                f"search.metric: val_mse is reported only with `params.objective: regression`{where}"
            )


def _check_grid(spec: SweepSpec) -> None:
    """A grid takes `choice` parameters only, and runs each of its points once."""
    num_samples = spec.file.search.num_samples
    continuous = [k for k, v in spec.searched.items() if not isinstance(v, Choice)]
    if continuous:
        raise ConfigError(
            f"params.{continuous[0]}: grid search takes `choice` parameters only, "
            f"got type {spec.searched[continuous[0]].kind}"
        )
    if num_samples is not None and num_samples != spec.grid_size():
        raise ConfigError(
            f"search.num_samples: a grid has {spec.grid_size()} points; leave num_samples out or set it "
            f"to that, got {num_samples}"
        )


def _check_mixed(spec: SweepSpec) -> None:
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


def corner_configs(spec: SweepSpec, family: str | None = None) -> list[dict[str, Any]]:
    """Every combination of each parameter's extremes (choice values, range ends), capped; with
    `family`, over that family's space of a mixed sweep (its own names)."""
    space = spec.space if family is None else spec.family_space(family)
    names = list(space)
    grids = [space[n].corners() for n in names]
    combos = itertools.islice(itertools.product(*grids), MAX_CORNER_CHECKS)
    return [dict(zip(names, combo, strict=True)) for combo in combos]


def _check_with_family(spec: SweepSpec) -> None:
    """The model's own rules: each family (or the training function) is imported and checks every
    corner of its space (`corner_configs`) with `validate_config`; its message gains the corner's
    searched values it does not already name, and for a mixed sweep the family's path. `val_mse` as the
    metric needs the families' regression objective (what the model reports, so checked here)."""
    from seqsweep.trainables.registry import resolve_family

    if spec.file.trainable is not None:
        _check_trainable(spec)
        return
    if spec.file.search.metric == VAL_MSE:
        _check_regression(spec)
    for name in spec.families or (str(spec.file.model),):
        family = resolve_family(name)
        if spec.file.resources.workers > 1 and family.framework == "keras":
            raise ConfigError(
                f"resources.workers: data-parallel trials train torch models only; {name!r} is a "
                f"Keras family (use workers: 1, or the gru family)"
            )
        space = spec.family_space(name) if spec.families else spec.space
        searched = [k for k, v in space.items() if not isinstance(v, Fixed)]
        for config in corner_configs(spec, name if spec.families else None):
            try:
                family.validate_config(config)
            except ConfigError as exc:
                message = with_corner(str(exc), {k: config[k] for k in searched})
                raise ConfigError(_in_family(message, name) if spec.families else message) from None


def _in_family(message: str, family: str) -> str:
    """A family's message under its block of a mixed sweep: `params.x: ...` becomes
    `params.<family>.x: ...`; any other message is prefixed with `params.<family>: `."""
    if message.startswith(PARAMS_PREFIX):
        return f"{PARAMS_PREFIX}{family}.{message.removeprefix(PARAMS_PREFIX)}"
    return f"{PARAMS_PREFIX}{family}: {message}"


def with_corner(message: str, corner: dict[str, Any]) -> str:
    """`message` + ` (corner k=v, ...)` for the corner's parameters the message does not name already
    (as a whole word); `message` unchanged when it names them all."""
    unnamed = {k: v for k, v in corner.items() if not re.search(rf"(?<!\w){re.escape(k)}(?!\w)", message)}
    if not unnamed:
        return message
    corner_text = f"corner {', '.join(f'{k}={v!r}' for k, v in unnamed.items())}"
    family = re.search(r" \(family [^()]*\)$", message)
    if family is not None:  # one bracket: `(family lstm, corner ...)`
        return f"{message[: family.end() - 1]}, {corner_text})"
    return f"{message} ({corner_text})"


def _check_trainable(spec: SweepSpec) -> None:
    """A training function: importable and callable; one worker per trial; one split (no folds)."""
    from seqsweep.trainables.function import import_trainable

    trainable = str(spec.file.trainable)
    if ":" not in trainable:
        raise ConfigError(
            f"trainable: write a training function as 'package.module:function', got {trainable!r}"
        )
    import_trainable(trainable)
    _check_common_keys(spec)
    if spec.file.resources.workers > 1:
        raise ConfigError(
            "resources.workers: a training function runs in its trial's process; use workers: 1"
        )
    if spec.file.dataset.split.folds > 1:
        raise ConfigError(
            "dataset.split.folds: a training function trains on one train/valid split; use folds: 1"
        )


def _check_common_keys(spec: SweepSpec) -> None:
    """The shared loop's keys (`epochs`, `batch_size`, `patience`) that a training function also reads:
    every corner's value must keep `hyperparameters.COMMON`'s rule (a function has no family to check)."""
    from seqsweep.trainables.hyperparameters import COMMON, Invalid

    for config in corner_configs(spec):
        for key, rule in COMMON.items():
            if key not in config:
                continue
            try:
                rule.check(config[key])
            except Invalid as exc:
                raise ConfigError(f"params.{key}: must be {exc or rule.rule}, got {config[key]!r}") from None
