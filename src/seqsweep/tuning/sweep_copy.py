"""The experiment's own copy of its sweep file, and the refusal of a copy edited by hand.

`run` writes the validated sweep into the experiment (`sweep.yaml`, password hidden) and records its
SHA-256 beside it (`seqsweep_sweep.json`). Everything after reads that copy: `resume` rebuilds the
trainable, the dataset and the budget from it while Ray Tune restores the searcher and Optuna's study
as they were, and `results` / `export` rebuild the test split from its `dataset`. A copy edited by hand
would silently split the experiment in two (a resumed sweep training new trials with the edited
`params` while its searcher samples the stored space; test scores on another dataset than the
trials'), so an edit is refused in one line. The supported changes go through `resume --num-samples` /
`--time-budget-s`, which record the new digest. An experiment made before the digest was recorded is not
checked.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from seqsweep._fs import atomic_write_json, atomic_write_text
from seqsweep.errors import ConfigError
from seqsweep.layout import SWEEP_COPY, SWEEP_DIGEST_FILE


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_sweep_copy(experiment_dir: Path, text: str) -> None:
    """Write `text` as the experiment's `sweep.yaml` and record its digest (both atomically)."""
    atomic_write_text(experiment_dir / SWEEP_COPY, text)
    atomic_write_json(experiment_dir / SWEEP_DIGEST_FILE, {"sha256": _digest(text)})


def check_sweep_copy(experiment_dir: Path) -> None:
    """ConfigError (one line) when `sweep.yaml` differs from what seqsweep wrote. Nothing is checked
    without a recorded digest or without the copy (the caller reports a missing copy)."""
    try:
        payload = json.loads((experiment_dir / SWEEP_DIGEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    recorded = payload.get("sha256") if isinstance(payload, dict) else None
    copy = experiment_dir / SWEEP_COPY
    try:
        text = copy.read_text(encoding="utf-8")
    except OSError:
        return  # a missing copy is reported by the caller, which needs it
    if recorded and _digest(text) != recorded:
        raise ConfigError(
            f"{experiment_dir}: its {SWEEP_COPY} was edited after the sweep started (its trials, "
            f"searcher and study follow the sweep as it started); put the file back, or run the changed "
            f"sweep as a new experiment (another `name`); `resume --num-samples` / `--time-budget-s` "
            f"change what may change"
        )
