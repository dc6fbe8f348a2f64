"""Which dataset an experiment trained on, recorded beside it (`DATASET_FILE`), and why another differs.

`run` writes the record once the dataset is built (`record_dataset_key`): its cache key, the seqsweep
release, the digest of the dataset-building code, the versions of the libraries that computed its values
and the embedding model's identity. `resume` refuses to go on when the dataset built now has another
key (`check_same_dataset`), and `results`, reseeded reruns and warm starts read the record to say which
of those changed (`dataset_change`, `dataset_cause`) instead of scoring trials on rows they never saw.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seqsweep._fs import atomic_write_json
from seqsweep.errors import DataError
from seqsweep.layout import DATASET_FILE


def recorded_dataset(experiment_dir: str | Path) -> dict[str, Any]:
    """The experiment's dataset record (`record_dataset_key`'s fields); {} when there is none (made before
    it was recorded, or its trials built no dataset) or it cannot be read."""
    try:
        payload = json.loads((Path(experiment_dir) / DATASET_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return payload if isinstance(payload, dict) else {}


def recorded_dataset_key(experiment_dir: str | Path) -> str | None:
    """The cache key of the dataset the experiment trained on; None for an experiment made before it
    was recorded (or whose trials built no dataset)."""
    value = recorded_dataset(experiment_dir).get("key")
    return str(value) if value else None


def record_dataset_key(experiment_dir: Path, bundle: Any) -> None:
    """Write the dataset's cache key, the seqsweep release, the digest of the dataset-building code
    that built it (`code_digest.build_code_digest`), the versions of the libraries that computed its
    values (`code_digest.build_libraries`) and its embedding model's identity (`embedding_model_identity`)
    beside the experiment (atomically); nothing when there is no bundle."""
    from seqsweep import __version__
    from seqsweep.data.code_digest import build_code_digest, build_libraries

    key = getattr(bundle, "cache_key", None)
    if key is None:
        return
    atomic_write_json(
        experiment_dir / DATASET_FILE,
        {
            "key": key,
            "seqsweep": __version__,
            "data_code": build_code_digest(),
            "libraries": build_libraries(),
            "embedding_model": (embedding_of(bundle) or (None, None))[1],
        },
    )


def embedding_of(bundle: Any) -> tuple[str, str] | None:
    """(`dataset.embedding_model`, the identity of its files) that embedded `bundle`'s symbols, if it says."""
    extra = getattr(getattr(bundle, "preprocessing", None), "extra", None)
    if not isinstance(extra, dict) or not extra.get("embedding_model_identity"):
        return None
    return str(extra.get("embedding_model")), str(extra["embedding_model_identity"])


def dataset_change(experiment_dir: str | Path, embedding: tuple[str, str] | None = None) -> str:
    """Why the dataset built now (embedded by `embedding`: model, identity of its files) has another key
    than the recorded one, for an error line: another seqsweep release, other dataset-building code,
    another version of a library that computes the values, other embedding-model files (each keys its
    datasets anew, `cache.cache_key`), or other rows in the database; then what to do about it."""
    cause, fix = dataset_cause(recorded_dataset(experiment_dir), embedding)
    return f"{cause}: {fix}"


def dataset_cause(payload: dict[str, Any], embedding: tuple[str, str] | None) -> tuple[str, str]:
    """(why a dataset of the same settings got another key than the one `payload` records, the fix);
    `embedding`: (model, identity of its files) of the dataset built now, if known."""
    from seqsweep import __version__
    from seqsweep.data.code_digest import build_code_digest, library_change

    built_by = payload.get("seqsweep")
    code = payload.get("data_code")
    if built_by is not None and built_by != __version__:
        return (
            f"its dataset was built by seqsweep {built_by} and this is seqsweep {__version__}, which builds "
            f"its own",
            f"use seqsweep {built_by}",
        )
    if code is not None and code != build_code_digest():
        return (
            f"its dataset was built by other dataset-building code (data code {code}, this seqsweep's is "
            f"{build_code_digest()}), which may featurise otherwise",
            "use the seqsweep that made the experiment",
        )
    changed = library_change(payload.get("libraries"))
    if changed is not None:
        name, was, now = changed
        return (
            f"its dataset was built with {name} {was} and this environment has {name} {now}, which may "
            f"compute its values otherwise",
            f"install {name}=={was}",
        )
    model_was = payload.get("embedding_model")
    model, model_now = embedding or (None, None)
    if model_was and model_now and model_was != model_now:
        return (
            f"its symbols were embedded by other files of dataset.embedding_model "
            f"{model!r} (model {model_was}, now {model_now})",
            "put that model's files back",
        )
    if built_by is None or code is None:  # recorded before the release or the code was: any may have changed
        return (
            "the database no longer gives the rows this experiment trained on, or an earlier seqsweep "
            "built its dataset (the dataset key now also covers the release, the dataset-building code and "
            "the embedding model's files)",
            "restore those rows, or use the seqsweep that made the experiment",
        )
    return "the database no longer gives the rows this experiment trained on", "restore those rows"


def check_same_dataset(experiment_dir: Path, bundle: Any) -> None:
    """Refuse to resume on rows that changed since the experiment started: its trials would continue
    on another dataset than the one their epochs so far were trained and scored on. Records the
    dataset when the experiment has no record yet (made before records were kept)."""
    key = getattr(bundle, "cache_key", None)
    if recorded_dataset_key(experiment_dir) is None or key is None:
        record_dataset_key(experiment_dir, bundle)
        return
    check_resumed_dataset(experiment_dir, key, embedding_of(bundle))


def check_resumed_dataset(experiment_dir: Path, key: str, embedding: tuple[str, str] | None) -> None:
    """`check_same_dataset` on the dataset's key alone (and its embedding model: model, identity of its
    files), as `build_dataset` hands them to its `check_key` before it builds anything. Raises DataError
    (one line) when the experiment recorded another dataset; nothing without a record."""
    recorded = recorded_dataset_key(experiment_dir)
    if recorded is not None and recorded != key:
        raise DataError(
            f"resume {experiment_dir}: dataset {recorded}, now {key}: {dataset_change(experiment_dir, embedding)}, or "
            f"start a new experiment"
        )
