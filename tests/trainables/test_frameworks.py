"""The frameworks table: names, lazy imports, detection, and results going through the adapters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seqsweep.errors import ConfigError
from seqsweep.trainables.frameworks import FRAMEWORK_IMPORT, detect, framework_names, get_framework


def test_each_name_gives_its_adapter() -> None:
    assert framework_names() == ("keras", "torch", "function")
    for name in FRAMEWORK_IMPORT:
        assert get_framework(name).name == name


def test_an_unknown_framework_lists_the_valid_names() -> None:
    with pytest.raises(ConfigError, match=r"^unknown framework 'jax': use one of keras, torch, function$"):
        get_framework("jax")


def test_detect_names_the_model_when_nothing_owns_the_network() -> None:
    with pytest.raises(
        ConfigError, match=r"model 'mine:build': the function returned list; expected a keras"
    ):
        detect([], "mine:build")


def test_detect_maps_a_torch_module_to_torch() -> None:
    from torch import nn

    assert detect(nn.Linear(2, 2), "m").name == "torch"


def test_adapters_and_families_import_no_framework() -> None:
    script = """
import sys
from seqsweep.trainables.frameworks import FRAMEWORK_IMPORT, get_framework, detect
from seqsweep.trainables import resolve_family
for name in FRAMEWORK_IMPORT:
    get_framework(name)
for name in ("lstm", "lstm_vae", "gru"):
    resolve_family(name).frameworks
try:
    detect(object(), "x")
except Exception:
    pass
import seqsweep.results.predict
print(sorted(m for m in ("tensorflow", "torch", "keras", "ray") if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_results_never_branch_on_a_framework_name() -> None:
    import seqsweep.results

    folder = Path(seqsweep.results.__file__).parent
    for module in ("export.py", "predict.py", "model_bundle.py"):
        text = (folder / module).read_text()
        for name in ("keras", "torch", "function"):
            assert f'== "{name}"' not in text and f"'{name}'" not in text, f"{module} branches on {name}"


@pytest.mark.parametrize("family", ["lstm_vae", "gru"])
def test_an_export_reloads_to_the_checkpoints_predictions(family: str, tmp_path: Path) -> None:
    """checkpoint → `export` → `load_export` → `predict_export` gives what the checkpoint predicts,
    custom layers (the VAE's sampling) included, and an empty batch keeps its shape."""
    from trainables_helpers import TINY_CONFIGS

    from seqsweep.testing import make_bundle
    from seqsweep.trainables import DeviceSettings, InMemoryReporter, TrialSettings, train
    from seqsweep.trainables.frameworks import checkpoint_framework

    bundle = make_bundle(n_rows=300)
    reporter = InMemoryReporter(root=tmp_path / "run")
    config = {**TINY_CONFIGS[family], "epochs": 1}
    train(config, bundle, TrialSettings(model=family), reporter, DeviceSettings())
    checkpoint = reporter.last_checkpoint
    framework = checkpoint_framework(checkpoint)
    model = framework.load_checkpoint(checkpoint, DeviceSettings())
    x = bundle.windows("valid", slice(0, 8))
    files = framework.export(model, tmp_path, x)
    assert all((tmp_path / name).exists() for name in files.values()), files
    exported = framework.load_export(tmp_path)
    np.testing.assert_allclose(framework.predict_export(exported, x), model.predict_proba(x), atol=1e-5)
    assert framework.predict_export(exported, x[:0]).shape == (0, *model.predict_proba(x).shape[1:])
