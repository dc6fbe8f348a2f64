"""A bundle folder made from a built dataset without training: the files `seqsweep export` writes that
`predict` reads, for tests that replace the model by a recorder (family "recorder")."""

from __future__ import annotations

from pathlib import Path

import yaml

from seqsweep.data import DatasetBundle
from seqsweep.results import bundle_format as fmt


def crafted_bundle(dataset: DatasetBundle, folder: Path) -> Path:
    """The files `seqsweep export` writes that `predict` reads (the model itself is replaced by a recorder)."""
    folder.mkdir()
    fmt.write_preprocessing(dataset.preprocessing, dataset.symbols, folder)
    spec = {k: v for k, v in dataset.spec.to_dict().items() if k != "db"}
    (folder / fmt.DATASET_YAML).write_text(yaml.safe_dump(spec, sort_keys=False))
    fmt.write_json(
        folder / fmt.MANIFEST,
        {
            "format": fmt.FORMAT_VERSION,
            "family": "recorder",
            "framework": "torch",
            "trial_id": "crafted",
            "lookback": dataset.spec.lookback,
            "horizon": dataset.spec.horizon,
            "target_names": list(dataset.target_names),
            "symbols": list(dataset.symbols),
            "transforms": dataset.preprocessing.extra["transforms"],
        },
    )
    return folder
