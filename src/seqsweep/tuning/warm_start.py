"""A warm start's side of the earlier experiment: its Optuna study, checked, and its trials fed to the searcher.

`check_warm_start` finds the earlier experiment's study (where its stored `sweep.yaml` says, else its
`optuna.db`; a hidden password taken back from $SEQSWEEP_STUDY_URL) and refuses, in one line, a
study that now belongs to another experiment or that ranked its trials by another metric or in the
other direction. `warm_start_points` hands its COMPLETE and PRUNED trials inside this sweep's space to
the searcher; `warm_start_tally` counts them and those it had copied from an experiment before it.
What makes the earlier scores incomparable in the sweep file's terms is `sweep_changes`'.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import optuna
import yaml

from seqsweep.constants import DEFAULT_METRIC, STUDY_URL_ENV
from seqsweep.db_url import fill_from_same_storage, mask, scrub
from seqsweep.errors import ConfigError
from seqsweep.layout import (
    SWEEP_COPY,
    earlier_experiment_dir,
    read_experiment_id,
    study_db_url,
)
from seqsweep.tuning.study_owner import (
    OWNER_ATTR,
    OWNER_DIR_ATTR,
    RAY_TRIAL_ID_ATTR,
    direction_mode,
    existing_storage,
    study_record,
)

if TYPE_CHECKING:
    from seqsweep.tuning.searchers import PruningOptunaSearch


def _earlier_sweep(directory: Path) -> dict[str, Any] | None:
    """The earlier experiment's stored `sweep.yaml` as a mapping; None without a readable one."""
    try:
        raw = yaml.safe_load((directory / SWEEP_COPY).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return raw if isinstance(raw, dict) else None


def _fill_warm_start_password(earlier_experiment: str, stored: str) -> str:
    """The earlier study storage's URL with its hidden (`***`) password taken back from
    $SEQSWEEP_STUDY_URL (`fill_from_same_storage`); ConfigError naming `warm_start` without it, or when the
    variable names another storage. The password never appears in a message."""
    try:
        return fill_from_same_storage(stored, STUDY_URL_ENV)
    except ConfigError as exc:
        raise ConfigError(f"warm_start: {earlier_experiment}: {exc}") from None


def earlier_study(earlier_experiment: str) -> tuple[str | None, str]:
    """(study name, storage URL) of an earlier experiment, where its `sweep.yaml` says the study lives.

    Without a readable `sweep.yaml` the study is looked for in the directory's `optuna.db`. A storage
    stored with its password hidden (`***`) gets it back from $SEQSWEEP_STUDY_URL (ConfigError
    without it): the returned URL may then hold the password and must only be shown through `mask`.
    """
    directory = earlier_experiment_dir(earlier_experiment)
    raw = _earlier_sweep(directory)
    if raw is not None and raw.get("name"):
        search = raw.get("search")
        storage = (search.get("storage") if isinstance(search, dict) else None) or study_db_url(
            directory.resolve()
        )
        return str(raw["name"]), _fill_warm_start_password(earlier_experiment, str(storage))
    return None, study_db_url(directory.resolve())


def earlier_metric(earlier_experiment: str) -> str | None:
    """The `search.metric` the earlier experiment ranked its trials by (its stored `sweep.yaml`);
    None when that file is missing or unreadable."""
    raw = _earlier_sweep(earlier_experiment_dir(earlier_experiment))
    if raw is None or not raw.get("name"):
        return None
    search = raw.get("search")
    metric = search.get("metric") if isinstance(search, dict) else None
    return str(metric) if metric else DEFAULT_METRIC


def _check_earlier_owner(earlier_experiment: str, study_name: str, url: str, attrs: dict[str, Any]) -> None:
    """Refuse a study that no longer belongs to the earlier experiment (deleted, and its name reused).

    A study and an experiment both without an identity (made before studies had owners) pass.
    """
    owner, ours = attrs.get(OWNER_ATTR), read_experiment_id(Path(earlier_experiment).expanduser())
    if owner == ours:
        return
    if owner is None:
        whose = "is no longer the earlier experiment's (a study no experiment owns has its name)"
    else:
        whose = (
            f"now belongs to another experiment ({attrs.get(OWNER_DIR_ATTR) or 'in an unknown directory'})"
        )
    raise ConfigError(
        f"warm_start: {earlier_experiment}: study {study_name!r} in {mask(url)} {whose}; "
        f"its trials are not the earlier experiment's, nothing was seeded"
    )


def _check_same_objective(
    earlier_experiment: str, earlier: tuple[str | None, str], metric: str | None, mode: str | None
) -> None:
    """Refuse seeding a sweep with values of another metric or of the opposite direction."""
    earlier_metric_, earlier_mode = earlier
    metric_differs = metric is not None and earlier_metric_ is not None and metric != earlier_metric_
    mode_differs = mode is not None and mode != earlier_mode
    if not (metric_differs or mode_differs):
        return
    raise ConfigError(
        f"warm_start: {earlier_experiment} ranked its trials by {earlier_metric_ or '(unknown metric)'} "
        f"({earlier_mode}), this sweep by {metric or '(unknown metric)'} ({mode or earlier_mode}): its "
        f"values cannot seed this search; warm start from an experiment with the same metric and mode"
    )


def check_warm_start(
    earlier_experiment: str, *, metric: str | None = None, mode: str | None = None
) -> tuple[str | None, str, optuna.storages.RDBStorage]:
    """(study name, storage URL, storage) of the earlier experiment's study; ConfigError if it has none,
    if that study now belongs to another experiment, or (given this sweep's `metric` and `mode`) if the
    earlier experiment ranked its trials by another metric or in the other direction.

    The returned URL may hold the storage's password: show it only through `mask`.
    """
    study_name, url = earlier_study(earlier_experiment)
    try:
        storage = existing_storage(url)
    except ConfigError as exc:
        reason = scrub(str(exc), url).removeprefix("search.storage: ")
        raise ConfigError(f"warm_start: {earlier_experiment}: {reason}") from None
    if storage is not None and study_name is None:
        study_name = _only_study(earlier_experiment, storage, url)
    exists, attrs = False, cast(dict[str, Any], {})
    if storage is not None and study_name is not None:
        exists, attrs, _ = study_record(storage, study_name)
    if storage is None or study_name is None or not exists:
        raise ConfigError(
            f"warm_start: {earlier_experiment} has no study {study_name or ''!s} in {mask(url)}; "
            f"name an earlier experiment directory"
        )
    _check_earlier_owner(earlier_experiment, study_name, url, attrs)
    if metric is not None or mode is not None:
        direction = storage.get_study_directions(storage.get_study_id_from_name(study_name))[0]
        _check_same_objective(
            earlier_experiment,
            (earlier_metric(earlier_experiment), direction_mode(direction)),
            metric,
            mode,
        )
    return study_name, url, storage


def _only_study(earlier_experiment: str, storage: optuna.storages.RDBStorage, url: str) -> str | None:
    """The name of the one study in an earlier experiment's `optuna.db` when no `sweep.yaml` says which
    is its own; None when it holds none; ConfigError when it holds several."""
    names = [summary.study_name for summary in storage.get_all_studies()]
    if len(names) > 1:
        raise ConfigError(
            f"warm_start: {earlier_experiment} has no sweep.yaml to say which of the {len(names)} studies "
            f"in {mask(url)} is its own ({', '.join(sorted(names)[:4])}); put its sweep.yaml back"
        )
    return names[0] if names else None


def warm_start_points(searcher: PruningOptunaSearch, earlier_experiment: str, metric: str) -> int:
    """Feed an earlier sweep's finished trials (from its Optuna study) to `searcher`; returns how many.

    Refuses (ConfigError) a study that now belongs to another experiment, and an earlier experiment
    whose metric differs from `metric` or whose direction differs from the searcher's mode.
    """
    mode = getattr(searcher, "_mode", None)
    study_name, _url, storage = check_warm_start(earlier_experiment, metric=metric, mode=mode)
    earlier = optuna.load_study(study_name=study_name, storage=storage)
    added = 0
    space = cast(dict[str, Any], searcher._space)
    for trial in earlier.get_trials(deepcopy=False):
        finished = trial.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        if not finished or not _in_space(trial.params, space):
            continue
        value = trial.value if trial.value is not None else _last_intermediate(trial)
        if value is None:
            continue
        searcher.add_evaluated_point(
            trial.params,
            value,
            pruned=trial.state == optuna.trial.TrialState.PRUNED,
            intermediate_values=[trial.intermediate_values[k] for k in sorted(trial.intermediate_values)],
        )
        added += 1
    return added


def warm_start_tally(earlier_experiment: str) -> tuple[int, int]:
    """(finished, copied) trials of the earlier experiment's study: all its COMPLETE and PRUNED ones, and
    those of them that are not its own but points its own `warm_start` copied in from an experiment
    before it (they have no Ray trial id): a chain of warm starts passes them on, and `run` says so."""
    study_name, _url, storage = check_warm_start(earlier_experiment)
    study_id = storage.get_study_id_from_name(cast(str, study_name))
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    trials = storage.get_all_trials(study_id, deepcopy=False, states=finished)
    return len(trials), sum(RAY_TRIAL_ID_ATTR not in t.user_attrs for t in trials)


def _in_space(params: dict[str, Any], space: dict[str, Any]) -> bool:
    """Whether an earlier trial's `params` is a point of `space` (Optuna distributions by name): the same
    names, each value inside its distribution; a `choice` value the space lacks is outside, where Optuna's
    `CategoricalDistribution.to_internal_repr` raises ValueError."""
    if set(params) != set(space):
        return False
    try:
        return all(space[k]._contains(space[k].to_internal_repr(v)) for k, v in params.items())
    except (ValueError, TypeError):
        return False


def _last_intermediate(trial: optuna.trial.FrozenTrial) -> float | None:
    if not trial.intermediate_values:
        return None
    return trial.intermediate_values[max(trial.intermediate_values)]
