"""`seqsweep export DIR --out BUNDLE [--trial ID]`: the winner (or a chosen trial) as a self-contained folder.

The model comes from the trial's best checkpoint through its framework adapter
(`seqsweep.trainables.frameworks`: `load_checkpoint`, `export`, `load_export`); the preprocessing from the sweep's cached dataset. The
folder is written under a temporary name beside `--out` and moved into place with `os.replace` only
when complete, and the exported model is reloaded and checked against the checkpoint before that.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.metadata
import logging
import math
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from seqsweep import __version__
from seqsweep._fs import move_into_place, naming_path, with_umask_mode, writable_folder
from seqsweep._text import CELL_DIGITS, signed
from seqsweep.constants import CLASS_NAMES, MASK_VALUE
from seqsweep.data.bundle import DatasetBundle
from seqsweep.db_url import has_password, mask
from seqsweep.errors import ConfigError
from seqsweep.layout import SWEEP_COPY
from seqsweep.results import bundle_format as fmt
from seqsweep.results.bootstrap import Interval
from seqsweep.results.evaluate import PERSISTENCE, TEST_SPLIT, SplitEvaluation, evaluate_winners, load_dataset
from seqsweep.results.experiment import Experiment, TrialSummary, read_experiment
from seqsweep.results.leaderboard import SELECTION_NOTE
from seqsweep.results.refit import Refit, check_refit, refit_sentence, refit_trial, score_on_test
from seqsweep.results.score_tables import cell_breadth, symbol_breadth
from seqsweep.results.winner_outputs import load_trial_checkpoint, rebuilt_from, user_model_code

logger = logging.getLogger(__name__)

VERSIONED_PACKAGES = (
    "seqsweep", "numpy", "pandas", "scikit-learn", "keras", "tensorflow", "tensorflow-cpu", "torch", "ray",
    "optuna", "sentence-transformers", "sqlalchemy",
)  # fmt: skip
CHECK_WINDOWS = 256
"""Test windows on which the exported model must reproduce the checkpoint's probabilities."""
CHECK_TOLERANCE = 1e-5


@dataclasses.dataclass(frozen=True)
class ExportOutcome:
    path: Path
    trial: TrialSummary
    framework: str
    files: list[str]
    max_abs_diff: float
    refit: Refit | None = None
    """Set with `--refit`: the exported model is the configuration retrained on train + validation."""
    test_scores: tuple[float, float] | None = None
    """With `--refit`: test macro-F1 (per cell) of the refit model and of the trial's best checkpoint."""

    def describe(self) -> str:
        check = (
            f"checked: the exported model reproduces {'the refit model' if self.refit else 'the checkpoint'}'s "
            f"probabilities on the test windows "
            f"(max |diff| {self.max_abs_diff:.2e})"
            if math.isfinite(self.max_abs_diff)
            else "not checked: the training function has no predict hook, so the copied checkpoint cannot predict"
        )
        what = f"best epoch {self.trial.best_epoch}"
        if self.refit is not None:
            epochs = f"{self.refit.epochs} epoch{'s' if self.refit.epochs != 1 else ''}"
            what = f"refit on train + validation ({self.refit.n_train_windows} windows) for {epochs}"
        head = f"exported trial {self.trial.trial_id} ({self.trial.family}, {self.framework}, {what}) to {self.path}"
        if self.test_scores is not None:
            head += (
                f"\ntest macro-F1 (per cell): refit {self.test_scores[0]:.4f}, "
                f"best checkpoint {self.test_scores[1]:.4f}"
            )
        return f"{head}\n{check}\n" + "\n".join(f"  {name}" for name in self.files)


def export_bundle(
    experiment_dir: str | Path,
    out: str | Path,
    trial_id: str | None = None,
    *,
    db_url: str | None = None,
    force: bool = False,
    refit: bool = False,
) -> ExportOutcome:
    """Write the bundle of `trial_id` (default: the winner by the sweep's validation metric) to `out`.

    With `refit` the exported model is the trial's configuration retrained on train + validation for its
    best epoch count (`seqsweep.results.refit`), scored on test beside the best checkpoint and the
    baselines; ConfigError where a refit cannot apply (a training function, walk-forward folds).
    """
    experiment = read_experiment(experiment_dir)
    if trial_id is None and experiment.lost:
        gone = experiment.lost[0]
        raise ConfigError(
            f"{experiment.path}: trial {gone.trial_id} ran but {gone.error}, so which trial won cannot be "
            f"known; restore its folder, or export a trial by name (--trial ID)"
        )
    trial = experiment.trial(trial_id) if trial_id else experiment.ranked()[0]
    if not trial.ranked or trial.checkpoint is None:
        where = f" ({trial.missing_checkpoint})" if trial.missing_checkpoint else ""
        why = (
            trial.error
            or f"its best epoch's checkpoint{where} is not on disk: checkpoints.keep did not keep it, or it was deleted"
        )
        who = f"--trial {trial.trial_id}" if trial_id else f"the winner (trial {trial.trial_id})"
        raise ConfigError(f"{who}: cannot export a trial with status {trial.status} ({why})")
    if refit:
        check_refit(experiment, trial)  # before the dataset is read or anything trains
    target = Path(out).expanduser().resolve()
    check_replaceable(target, experiment.path, force)
    writable_folder(target.parent, "--out")

    bundle = load_dataset(experiment, db_url)
    temp = with_umask_mode(Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent)))
    refit_dir = Path(tempfile.mkdtemp(prefix=f".{target.name}.refit.", dir=target.parent)) if refit else None
    refitted: Refit | None = None
    versus: Interval | None = None
    scores: tuple[float, float] | None = None
    try:
        with naming_path(target):
            if refit_dir is not None:
                with user_model_code(trial, "retrained on train + validation (--refit)"):
                    refitted = refit_trial(experiment, trial, bundle, refit_dir)
                evaluation, versus = score_on_test(trial, refitted, bundle)
                scores = (evaluation.winners[0].scores["macro_f1"], evaluation.winners[1].scores["macro_f1"])
            else:
                tested = evaluate_winners(experiment, [trial], bundle).test
                assert tested is not None  # test=True always scores the test split
                evaluation = tested
            checkpoint = refitted.checkpoint if refitted is not None else Path(str(trial.checkpoint))
            framework, model_files, max_diff = _write_model(trial, bundle, temp, checkpoint)
            _write_bundle_files(
                experiment,
                trial,
                bundle,
                evaluation,
                framework,
                model_files,
                max_diff,
                temp,
                refitted,
                versus,
            )
            fmt.write_checksums(temp)
            files = sorted(str(p.relative_to(temp)) for p in temp.rglob("*") if p.is_file())
            move_into_place(temp, target)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    finally:
        if refit_dir is not None:
            shutil.rmtree(refit_dir, ignore_errors=True)
    return ExportOutcome(target, trial, framework, files, max_diff, refitted, scores)


def check_replaceable(target: Path, experiment_dir: Path, force: bool) -> None:
    """ConfigError (one line) unless `target` may become the bundle: absent, or with `force` an earlier
    bundle (its `bundle.json`) or an empty folder. `--force` never deletes the experiment being exported,
    a folder holding it (its storage path), or anything that is not a bundle (a home folder, a report)."""
    if not target.exists():
        return
    experiment = experiment_dir.resolve()
    if target == experiment or target in experiment.parents:
        raise ConfigError(
            f"--out {target}: holds the experiment {experiment} being exported; choose a path outside it"
        )
    if not force:
        raise ConfigError(
            f"--out {target}: already exists; choose another path or pass --force to replace it"
        )
    if target.is_dir() and ((target / fmt.MANIFEST).is_file() or not any(target.iterdir())):
        return
    raise ConfigError(
        f"--out {target}: is not a seqsweep bundle (no {fmt.MANIFEST}); --force replaces only an earlier "
        f"bundle: choose another path"
    )


def _write_model(
    trial: TrialSummary, bundle: DatasetBundle, folder: Path, checkpoint: Path | None = None
) -> tuple[str, dict[str, str], float]:
    """The model files (through the checkpoint's framework adapter) plus a check: the reloaded export
    predicts what the checkpoint predicts. Returns (framework name, {role: path in the bundle}, max
    |diff|), the diff NaN when the adapter cannot reload the export here (a function without hook).

    `checkpoint` is the folder the model comes from: the trial's best checkpoint by default, the
    refit's last one with `--refit`."""
    checkpoint = checkpoint if checkpoint is not None else Path(str(trial.checkpoint))
    with user_model_code(trial, rebuilt_from(checkpoint)):
        framework, model = load_trial_checkpoint(trial.trial_id, checkpoint, family=trial.family)
        model_dir = folder / fmt.MODEL_DIR
        model_dir.mkdir()
        sample = slice(0, min(CHECK_WINDOWS, len(bundle.splits[TEST_SPLIT])))
        example = bundle.windows(TEST_SPLIT, sample)  # (B, L, F)
        written = framework.export(model, model_dir, example)
        files = {role: f"{fmt.MODEL_DIR}/{name}" for role, name in written.items()}
        if not framework.verifiable(model):
            return framework.name, files, math.nan
        got = framework.predict_export(framework.load_export(model_dir), example)
        expected = model.predict_proba(example)
    max_diff = float(np.max(np.abs(got - expected))) if expected.size else 0.0
    if not max_diff <= CHECK_TOLERANCE:
        raise ConfigError(
            f"trial {trial.trial_id}: the exported {framework.name} model differs from its checkpoint "
            f"(max |diff| {max_diff:.3g} on {len(example)} test windows); not exported"
        )
    return framework.name, files, max_diff


def bundle_sweep_copy(sweep: dict[str, Any]) -> dict[str, Any]:
    """The experiment's sweep as a bundle keeps it: a `dataset.db` with a password is kept with the
    password hidden (`***`), never a real one, so that `predict` asks for `--db` or $SEQSWEEP_DB_URL
    rather than reading another database (the generated sample) without a word."""
    dataset = sweep.get("dataset")
    stored_db = dataset.get("db") if isinstance(dataset, dict) else None
    if isinstance(dataset, dict) and has_password(stored_db, count_hidden=True):
        sweep = {**sweep, "dataset": {**dataset, "db": mask(str(stored_db))}}
    return sweep


def _write_bundle_files(
    experiment: Experiment,
    trial: TrialSummary,
    bundle: DatasetBundle,
    evaluation: SplitEvaluation,
    framework: str,
    model_files: dict[str, str],
    max_diff: float,
    folder: Path,
    refit: Refit | None = None,
    versus: Interval | None = None,
) -> None:
    """Everything but the model files. With `refit`, `evaluation`'s first winner is the refit model (the
    one exported) and its second the trial's best checkpoint; `versus` is refit minus checkpoint."""
    prep = bundle.preprocessing
    fmt.write_preprocessing(prep, tuple(bundle.symbols), folder)
    dataset = {k: v for k, v in bundle.spec.to_dict().items() if k != "db"}
    (folder / fmt.DATASET_YAML).write_text(yaml.safe_dump(dataset, sort_keys=False), encoding="utf-8")
    sweep = bundle_sweep_copy(yaml.safe_load((experiment.path / SWEEP_COPY).read_text(encoding="utf-8")))
    (folder / fmt.SWEEP_YAML).write_text(yaml.safe_dump(sweep, sort_keys=False), encoding="utf-8")

    test = evaluation.to_dict()
    scored_model = test["winners"][0] if test["winners"] else None  # none: a function without its hook
    chosen_by_hand = selection_note(experiment, trial)
    if chosen_by_hand and scored_model is not None:
        scored_model = {**scored_model, "kind": "chosen trial"}
    metrics: dict[str, Any] = {
        "selection": SELECTION_NOTE.format(metric=experiment.metric, mode=experiment.mode) + chosen_by_hand,
        "validation": {"best_epoch": trial.best_epoch, **trial.best_metrics},
        "test": {
            "note": test["note"],
            "n_windows": test["n_windows"],
            "n_positions": test["n_positions"],
            "period": test["period"],
            "model": scored_model,
            "baselines": test["baselines"],
            "bootstrap": test.get("bootstrap"),
            "verdict": scored_model.get("verdict") if scored_model else None,
        },
        "export_check": {
            "windows": min(CHECK_WINDOWS, test["n_windows"]),
            "max_abs_diff": max_diff if math.isfinite(max_diff) else None,
        },
    }
    refit_entry = refit.to_dict() if refit is not None else {}
    if refit is not None:
        metrics["test"]["model"] = {**test["winners"][0], "kind": "refit"}  # the exported model
        metrics["test"]["checkpoint_model"] = {**test["winners"][1], "kind": "best checkpoint, not exported"}
        metrics["refit"] = {**refit_entry, "vs_checkpoint": versus.to_dict() if versus is not None else None}
    fmt.write_json(folder / fmt.METRICS_JSON, metrics)
    versions = library_versions()
    fmt.write_json(folder / fmt.VERSIONS_JSON, versions)

    from seqsweep.trainables.frameworks import get_framework

    extra = get_framework(framework).manifest_entry(folder / fmt.MODEL_DIR)
    manifest = {
        "format": fmt.FORMAT_VERSION,
        fmt.CHECKSUMS_KEY: fmt.CHECKSUMS,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seqsweep": __version__,
        "experiment": str(experiment.path),
        "sweep": experiment.name,
        "trial_id": trial.trial_id,
        "chosen": "--trial (not the winner)" if chosen_by_hand else "winner",
        "family": trial.family,
        "framework": framework,
        "model_files": model_files,
        **extra,
        "config": trial.config,
        "searched": {name: trial.params.get(name) for name in experiment.searched if name in trial.params},
        "best_epoch": trial.best_epoch,
        "exported_model": "refit" if refit is not None else "best_checkpoint",
        **({"refit": refit_entry} if refit is not None else {}),
        "lookback": bundle.spec.lookback,
        "horizon": bundle.spec.horizon,
        "n_features": len(prep.feature_names),
        "feature_names": list(prep.feature_names),
        "target_names": list(bundle.target_names),
        "symbols": list(bundle.symbols),
        "classes": list(CLASS_NAMES),
        "mask_value": MASK_VALUE,
        "frequency": prep.extra.get("frequency"),
        "transforms": dict(prep.extra.get("transforms") or {}),
        **_folds_entry(bundle),
        "input": "(B, lookback, n_features) float32, features in feature_names order, MASK_VALUE where missing",
        "output": "(B, horizon, targets, 3) probabilities of down, flat, up",
    }
    fmt.write_json(folder / fmt.MANIFEST, manifest)
    (folder / fmt.README).write_text(model_card(manifest, metrics, dataset, versions), encoding="utf-8")


def _function_sentence(manifest: dict[str, Any]) -> str:
    """The model card's paragraph on a training function's export ("" for a family's model)."""
    entry = manifest.get("trainable")
    if not entry:
        return ""
    hook = entry.get("predict_hook")
    use = (
        f"`{hook}(checkpoint_dir, windows)` turns it into probabilities (seqsweep predict calls it, so the "
        "module must be importable where the bundle is used)"
        if hook
        else "its module has no `predict(checkpoint_dir, windows)` hook, so this bundle cannot predict and "
        "has no test scores; add the hook to use it"
    )
    return (
        f"\n\nTrained by the training function `{entry['trainable']}` (a sweep's `trainable:`): the bundle holds "
        f"the trial's best checkpoint folder as the function wrote it (`{fmt.MODEL_DIR}/checkpoint/`), and {use}."
    )


def selection_note(experiment: Experiment, trial: TrialSummary) -> str:
    """ "" for the winner; for a trial exported with `--trial`, a sentence saying so, with its rank, the
    winner's id and, when the scheduler cut it, after how many epochs (its card must not call it the
    winner)."""
    ranked = experiment.ranked()
    if ranked[0].trial_id == trial.trial_id:
        return ""
    rank = next(i for i, t in enumerate(ranked, start=1) if t.trial_id == trial.trial_id)
    cut = (
        f"; the scheduler stopped it after {trial.epochs_run} epoch{'s' if trial.epochs_run != 1 else ''}"
        if trial.stopped_early
        else ""
    )
    return (
        f" This trial was not the winner: it was chosen with `--trial`, ranked {rank} of {len(ranked)} by "
        f"{experiment.metric} (the winner is {ranked[0].trial_id}){cut}."
    )


def model_card(
    manifest: dict[str, Any], metrics: dict[str, Any], dataset: dict[str, Any], versions: dict[str, str]
) -> str:
    """README.md of the bundle, written only from the facts in the other files."""
    test = metrics["test"]
    models = [m for m in (test["model"], test.get("checkpoint_model")) if m]  # the refit's checkpoint second
    scored = [*models, *test["baselines"]]
    score_rows = "\n".join(
        f"| {s['name']} ({s['kind']}) | {s['macro_f1']:.4f} | {s['macro_f1_pooled']:.4f} | {s['accuracy']:.4f} "
        f"| {s['precision_macro']:.4f} | {s['recall_macro']:.4f} |"
        for s in scored
    )
    refit = metrics.get("refit")
    subject = f"{manifest['trial_id']} refit on train + validation" if refit else manifest["trial_id"]
    verdict = _verdict_paragraph(subject, test)
    if refit and test.get("checkpoint_model", {}).get("verdict"):
        verdict += f"\n\nThe best checkpoint (not exported) {test['checkpoint_model']['verdict']}."
    exported = (
        f"\n\n{refit_sentence(refit, test['model'], test['checkpoint_model'])}"
        if refit and test.get("checkpoint_model")
        else ""
    )
    steps = "\n".join(
        f"| {row['target']} | +{row['step']} | "
        + " | ".join(f"{s['by_step'][i]['macro_f1']:.4f}" for s in scored)
        + " |"
        for i, row in enumerate(scored[0]["by_step"] if scored else [])
    )
    validation = metrics["validation"]
    val = ", ".join(f"{k} {v:.4f}" for k, v in validation.items() if isinstance(v, float))
    if refit:
        val += " (the best checkpoint's: the refit model trained on the validation windows, so it has no held-out validation score)"
    searched = ", ".join(f"`{k}` = {_short(v)}" for k, v in manifest["searched"].items()) or "none"
    from seqsweep.trainables.frameworks import get_framework

    masking = get_framework(manifest["framework"]).missing_inputs
    files = "\n".join(f"- `{path}`" for path in manifest["model_files"].values())
    libs = ", ".join(f"{k} {v}" for k, v in versions.items())
    return f"""# Model card: {manifest["sweep"]} / trial {manifest["trial_id"]}

A `{manifest["family"]}` ({manifest["framework"]}) sequence classifier exported by seqsweep {manifest["seqsweep"]}
on {manifest["created"]} from `{manifest["experiment"]}`.{_function_sentence(manifest)}

## What it predicts
For each of the targets {", ".join(f"`{t}`" for t in manifest["target_names"])} and each of the next
{manifest["horizon"]} steps (grid `{manifest["frequency"]}`), the probabilities that the move from the last
observed value is down, flat or up. Flat is the band between the train split's label thresholds
(`preprocessing.npz: thresholds`, method `{dataset["labels"]["method"]}`).

- Input: the last {manifest["lookback"]} rows × {manifest["n_features"]} features, in `feature_names` order
  (`bundle.json`), missing values = {manifest["mask_value"]}.
- Output: (batch, {manifest["horizon"]}, {len(manifest["target_names"])}, 3) probabilities.

## Data
Join `{dataset["join"]}`, symbols {", ".join(manifest["symbols"])}; lookback {dataset["lookback"]},
horizon {dataset["horizon"]}; {_split_sentence(dataset["split"])}. Scalers, PCA and thresholds were fitted
on the train split only. {_transform_sentence(manifest.get("transforms") or {})}

## How it was chosen
{metrics["selection"]}{_folds_sentence(manifest.get("folds"))}
Searched: {searched}; best epoch {manifest["best_epoch"]}. Validation at that epoch: {val}.{exported}

## Test scores ({test["n_windows"]} windows, {test["n_positions"]} labels, {test["period"][0]} .. {test["period"][1]})
{test["note"]}

| predictor | macro-F1 (per cell) | macro-F1 (pooled) | accuracy | precision | recall |
|---|---|---|---|---|---|
{score_rows}

macro-F1 (per cell) is the mean over (target, step) cells of each cell's three-class macro-F1, the
score the sweep ranked by; the pooled one takes every cell together (the notebook's score).

{verdict}

Macro-F1 per target and step (model, then baselines in the order above):

| target | step | {" | ".join(s["name"] for s in scored)} |
|---|---|{"---|" * len(scored)}
{steps}

## Use
```
seqsweep predict . [--db URL] [--symbols ...] [--at TIMESTAMP] [--json]
```
(run in this folder, or give its path instead of `.`; without `--db` the database is `sweep.yaml`'s
`dataset.db`, else `$SEQSWEEP_DB_URL`, else the generated sample database)
Reads the last {manifest["lookback"]} rows per symbol with seqsweep's own source and feature code, applies
this folder's preprocessing and prints the class probabilities; Ray is not needed. A symbol not listed
above is embedded with the same sentence model and PCA and scaled on its own history (the output says so).

Model files:
{files}

## Limits
Trained on {", ".join(manifest["symbols"])} only; scores above are on one chronological test period.
Missing inputs carry {manifest["mask_value"]}: {masking}; a window with few observed rows predicts poorly.

Library versions at export: {libs}.
"""


def _split_sentence(split: dict[str, Any]) -> str:
    """How the dataset was split, for the model card: by fractions or by dates."""
    if split.get("valid_start") is not None:
        return f"chronological split by dates: valid from {split['valid_start']}, test from {split['test_start']}"
    return f"chronological split train {split['train']}, valid {split['valid']}, test the rest"


def _transform_sentence(transforms: dict[str, str]) -> str:
    """The input transforms, for the model card (predict applies them to the rows it reads)."""
    if not transforms:
        return "Inputs are levels (no transform)."
    listed = ", ".join(f"`{column}` {name}" for column, name in transforms.items())
    return (
        f"Input transforms, per symbol before scaling (predict applies them too): {listed}; "
        "labels come from the targets' levels."
    )


def _folds_entry(bundle: DatasetBundle) -> dict[str, Any]:
    """The manifest's `folds` entry for a walk-forward dataset (none for one fold)."""
    if bundle.n_folds == 1:
        return {}
    return {
        "folds": {
            "n_folds": bundle.n_folds,
            "exported_fold": bundle.n_folds - 1,
            "note": "the last fold's model: trained on every row before the last validation block",
        }
    }


def _folds_sentence(folds: dict[str, Any] | None) -> str:
    """The model card's sentence on walk-forward folds ("" for one fold)."""
    if not folds:
        return ""
    k = folds["n_folds"]
    return (
        f"\nWalk-forward validation over {k} folds (expanding window, embargo after each boundary): each "
        f"configuration was ranked by its mean validation score over the {k} folds, each fold with its own "
        f"scalers and thresholds. **The exported model is the last fold's (fold {k} of {k})**, trained on "
        "every row before the last validation block (the train split above); the earlier folds' models "
        "were used only to score the configuration."
    )


def _verdict_paragraph(trial_id: str, test: dict[str, Any]) -> str:
    """The model card's verdict: the sentence on persistence, and every interval (both baselines and
    chance) with how they were drawn."""
    model = test["model"]
    if not model:
        return "No test score of the model: its training function has no predict hook."
    compared = model.get("vs_baselines") or {}
    if not compared:
        return "No interval against the baselines was computed."
    lines = [f"**Verdict:** trial {trial_id} {model['verdict']}."]
    persistence: dict[str, Any] = next((b for b in test.get("baselines", []) if b["name"] == PERSISTENCE), {})
    breadth = symbol_breadth(model.get("by_symbol", {}), PERSISTENCE, persistence.get("by_symbol", {}))
    if breadth:
        lines.append(f"By symbol (each symbol's test windows alone, no intervals), it {breadth}.")
    cells = cell_breadth(model.get("by_step", []), PERSISTENCE, persistence.get("by_step", []))
    if cells:
        lines.append(f"By (target, step) cell (no intervals), it {cells}.")
    lines += [
        f"- minus {name}: {signed(c['delta'], CELL_DIGITS)} (95 % interval {signed(c['ci95'][0], CELL_DIGITS)} "
        f"to {signed(c['ci95'][1], CELL_DIGITS)})"
        for name, c in compared.items()
    ]
    b = test.get("bootstrap") or {}
    if b:
        lines.append(
            f"\nIntervals: {b['method']}; {b['draws']} draws, blocks of {b['block_windows']} windows, "
            f"seed {b['seed']}."
        )
    return "\n".join(lines)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else repr(value)


def library_versions() -> dict[str, str]:
    """Installed versions (from package metadata: nothing is imported), plus Python's."""
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions
