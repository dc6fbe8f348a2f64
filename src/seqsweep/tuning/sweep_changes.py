"""What differs between a sweep file and an experiment's stored copy of its own, said in the sweep's terms.

`run` on a name that already holds an experiment names the keys that differ (`sweep_differences`) in its
refusal; a warm start names what makes the earlier experiment's scores incomparable with this sweep's
(another dataset, model or fixed params: `warm_start_differences`, `warm_start_dataset`) in the line it
prints (`warm_start_note`). Paths compare by the file or folder they name (`./runs/` and `runs` are one),
so a respelled path is no difference.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from seqsweep.errors import ConfigError
from seqsweep.layout import SWEEP_COPY
from seqsweep.search_spaces.credentials import without_password
from seqsweep.search_spaces.sweep import SweepSpec
from seqsweep.tuning.dataset_record import dataset_cause, embedding_of, recorded_dataset, recorded_dataset_key
from seqsweep.tuning.study_owner import sqlite_study_file


def sweep_differences(copy: Path, text: str) -> list[str]:
    """The keys (dotted, two levels deep: `params.cell_size`, `search.num_samples`) whose values differ
    between the experiment's sweep copy `copy` and the sweep YAML `text`, sorted; empty when they agree
    or the copy cannot be read."""
    try:
        stored = _sweep_mapping(copy.read_text(encoding="utf-8"))  # None: a copy edited out of shape
    except (OSError, ValueError):  # gone, or not UTF-8
        return []
    given = _sweep_mapping(text)
    if stored is None or given is None:
        return []
    stored, given = _placed(stored), _placed(given)
    changed = []
    for key in sorted(set(stored) | set(given), key=str):
        was, now = stored.get(key), given.get(key)
        if was == now:
            continue
        if isinstance(was, dict) and isinstance(now, dict):
            changed += [
                f"{key}.{k}" for k in sorted(set(was) | set(now), key=str) if was.get(k) != now.get(k)
            ]
        else:
            changed.append(str(key))
    return changed


def _placed(sweep: dict[str, Any]) -> dict[str, Any]:
    """A sweep mapping with each path compared by the file or folder it names, for `sweep_differences`.

    `storage_path` is left out: the experiment was found in the folder this sweep's storage path (or
    `--storage`) leads to, so it names that folder whatever its spelling (`./runs/`, `runs`, an absolute
    path or a link to it). A local path in `warm_start`, `dataset.csv` and `dataset.embedding_model`, and
    the file of a SQLite `dataset.db` or `search.storage`, is compared as its real path: a trailing slash,
    `./` or a symlinked folder named the same file and made the same sweep "another sweep".
    """
    placed = {key: value for key, value in sweep.items() if key != "storage_path"}
    warm_start = placed.get("warm_start")
    if isinstance(warm_start, str) and warm_start and "://" not in warm_start:  # always a local folder
        placed["warm_start"] = os.path.realpath(os.path.expanduser(warm_start))
    for section, keys in (("dataset", ("db", "csv", "embedding_model")), ("search", ("storage",))):
        block = placed.get(section)
        if not isinstance(block, dict):
            continue
        placed[section] = dict(block)
        for key in keys:
            value = block.get(key)
            if isinstance(value, str):
                placed[section][key] = _real_sqlite(value) if key in ("db", "storage") else _real_path(value)
    return placed


def _real_path(value: str) -> str:
    """A local path (absolute, or `./`/`../`-relative) as its real path; anything else (a URI, a model
    name on the Hugging Face hub) as it is."""
    if "://" in value or not (os.path.isabs(value) or value.startswith((".", "~"))):
        return value
    return os.path.realpath(os.path.expanduser(value))


def _real_sqlite(url: str) -> str:
    """A SQLite URL naming a file by its absolute path (as `run` stores it) as that file's real path, for
    comparison; any other URL as it is."""
    path = sqlite_study_file(url) if "?" not in url else None
    return url if path is None else f"sqlite:///{os.path.realpath(path)}"


def warm_start_differences(
    spec: SweepSpec, earlier_experiment: str, dataset_key: str | None, bundle: Any = None
) -> list[str]:
    """What makes the earlier experiment's scores incomparable with this sweep's, in words: another
    dataset (`warm_start_dataset`), another model, other fixed params. Empty when none is seen (or the
    earlier experiment recorded too little to tell)."""
    from seqsweep.results.experiment import read_sweep_copy

    earlier_dir = Path(earlier_experiment).expanduser()
    dataset = warm_start_dataset(spec, earlier_dir, dataset_key, bundle)
    differences = [] if dataset is None else [dataset]
    try:
        earlier = read_sweep_copy(earlier_dir / SWEEP_COPY)
    except (ConfigError, OSError):
        return differences
    if earlier.model_name != spec.model_name:
        differences.append(f"another model ({earlier.model_name})")
    earlier_fixed, fixed = earlier.fixed, spec.fixed
    changed = sorted(k for k in set(earlier_fixed) | set(fixed) if earlier_fixed.get(k) != fixed.get(k))
    if changed:
        shown = ", ".join(f"{k} {earlier_fixed.get(k, '-')!r} -> {fixed.get(k, '-')!r}" for k in changed[:4])
        differences.append(f"other fixed params ({shown})")
    return differences


def warm_start_dataset(
    spec: SweepSpec, earlier_dir: Path, dataset_key: str | None, bundle: Any
) -> str | None:
    """The words "another dataset (...)" naming how the earlier experiment's dataset differs from this sweep's, in the
    sweep file's terms; None when they are the same dataset (the same recorded key) or nothing tells.

    The settings that differ are named with their values (`dataset.lookback 12 -> 16`), also for an
    earlier experiment that recorded no dataset key; the same settings under another key say why the key
    differs (other rows, another release or library: `dataset_cause`). The keys alone (two hashes) did
    not say what differed, and an experiment without a recorded key was not compared at all."""
    earlier_key = recorded_dataset_key(earlier_dir)
    if earlier_key is not None and earlier_key == dataset_key:
        return None
    settings = dataset_setting_changes(earlier_dir / SWEEP_COPY, without_password(spec).to_yaml())
    if settings:
        more = f" and {len(settings) - 4} more" if len(settings) > 4 else ""
        return f"another dataset ({', '.join(settings[:4])}{more})"
    if earlier_key is None or dataset_key is None:
        return None
    cause, _fix = dataset_cause(recorded_dataset(earlier_dir), embedding_of(bundle))
    return (
        f"another dataset (the same dataset settings, but {cause}; dataset {earlier_key}, this sweep's "
        f"{dataset_key})"
    )


def dataset_setting_changes(copy: Path, text: str) -> list[str]:
    """Each `dataset` setting whose value differs between the experiment's sweep copy `copy` and the sweep
    YAML `text`, as "dataset.lookback 12 -> 16" (nested ones dotted: `dataset.split.train`), sorted; paths
    compared by what they name (`_placed`). A setting one side lacks (a copy written before it existed)
    counts only when the other side sets it. Empty when they agree or the copy cannot be read."""
    try:
        stored = _sweep_mapping(copy.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    given = _sweep_mapping(text)
    if stored is None or given is None:
        return []
    was_block, now_block = _placed(stored).get("dataset"), _placed(given).get("dataset")
    if not isinstance(was_block, dict) or not isinstance(now_block, dict):
        return []
    was, now = _flat(was_block, "dataset."), _flat(now_block, "dataset.")
    unset: tuple[Any, ...] = (None, [], {})
    changed = []
    for key in sorted(set(was) | set(now)):
        if key not in was or key not in now:
            if was.get(key, now.get(key)) in unset:
                continue
        elif was[key] == now[key]:
            continue
        changed.append(f"{key} {_short(was, key)} -> {_short(now, key)}")
    return changed


def _sweep_mapping(text: str) -> dict[str, Any] | None:
    """The sweep YAML `text` as a mapping; None when it is not one (empty, edited out of shape)."""
    try:
        loaded = yaml.safe_load(text)
    except (ValueError, TypeError, AttributeError, yaml.YAMLError):
        return None
    return loaded if isinstance(loaded, dict) else None


def _flat(block: dict[str, Any], prefix: str) -> dict[str, Any]:
    """`block` with each nested mapping's keys dotted under `prefix` (an empty mapping is a value)."""
    flat: dict[str, Any] = {}
    for key, value in block.items():
        if isinstance(value, dict) and value:
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _short(settings: dict[str, Any], key: str, limit: int = 48) -> str:
    """`repr` of the setting `key` of `settings`, cut to `limit` characters; "-" where it is not set."""
    text = repr(settings[key]) if key in settings else "-"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def warm_start_note(
    added: int, earlier_experiment: str, differences: list[str], *, finished: int = 0, copies: int = 0
) -> str:
    """The line `run` prints on seeding its searcher with `added` of the earlier experiment's `finished`
    trials: how many were left out (outside this sweep's space), what makes the earlier scores
    incomparable (so a warm start from another dataset or model is never silent), and how many of the
    points the earlier experiment had itself copied from one before it (a chain)."""
    note = f"warm start: {added} finished trials from {earlier_experiment}"
    if copies and added:
        note += f" ({min(copies, added)} of them its own warm start's points, from an experiment before it)"
    if finished > added:
        note += (
            f"; {finished - added} of its finished trials lie outside this sweep's space and were left out"
        )
    if added and differences:
        note += (
            f"; the earlier experiment had {'; '.join(differences)}: its scores are not comparable with this "
            f"sweep's (they only steer the search and stay out of its leaderboard)"
        )
    return note
