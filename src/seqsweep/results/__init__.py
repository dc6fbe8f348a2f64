"""After a sweep: winners by validation score, honest test scores, plots, a report, an exported bundle.

Submodules, one job each: `experiment` reads what Ray Tune stored, `leaderboard` ranks and writes the
table, `evaluate` scores the baselines and the winners on validation and test, `bootstrap` puts
intervals on the winners' test lead over the baselines, `reseed` reruns the top configurations with
new seeds, `plots` draws, `sections` lays out what the console and `report` (the HTML page) show,
`pipeline` runs these in order, `export` writes a bundle and `predict` answers from one. The names below are imported on first use, so `seqsweep.results.predict` never loads Ray.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "Experiment": "seqsweep.results.experiment",
    "TrialSummary": "seqsweep.results.experiment",
    "read_experiment": "seqsweep.results.experiment",
    "leaderboard_rows": "seqsweep.results.leaderboard",
    "write_leaderboard_csv": "seqsweep.results.leaderboard",
    "write_winners_json": "seqsweep.results.leaderboard",
    "TestEvaluation": "seqsweep.results.evaluate",
    "SplitEvaluation": "seqsweep.results.evaluate",
    "Evaluations": "seqsweep.results.evaluate",
    "evaluate_winners": "seqsweep.results.evaluate",
    "Interval": "seqsweep.results.bootstrap",
    "verdict": "seqsweep.results.bootstrap",
    "ReseedOutcome": "seqsweep.results.reseed",
    "reseed_winners": "seqsweep.results.reseed",
    "write_plots": "seqsweep.results.plots",
    "write_report": "seqsweep.results.report",
    "ResultsOutcome": "seqsweep.results.pipeline",
    "write_results": "seqsweep.results.pipeline",
    "ExportOutcome": "seqsweep.results.export",
    "export_bundle": "seqsweep.results.export",
    "ModelBundle": "seqsweep.results.model_bundle",
    "Prediction": "seqsweep.results.predict",
    "load_bundle": "seqsweep.results.model_bundle",
    "predict_from_db": "seqsweep.results.predict",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'seqsweep.results' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
