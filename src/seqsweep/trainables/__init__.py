"""Model families as Ray Tune trainables: one shared epoch loop, one module per family, one adapter
per framework (`frameworks/`).

Light on purpose: importing this package imports neither TensorFlow, torch nor Ray. A family imports
its framework when it builds or loads a model; only `tune_reporter` and `train_workers` import Ray.
"""

from seqsweep.trainables.base import DeviceSettings, Evaluation, TrainableModel, TrialSettings
from seqsweep.trainables.checkpoint import LoopState, ModelInfo, load_checkpoint, read_state
from seqsweep.trainables.family import ModelFamily
from seqsweep.trainables.frameworks import Framework, get_framework
from seqsweep.trainables.hyperparameters import Choice, Float, Int
from seqsweep.trainables.loop import train
from seqsweep.trainables.registry import FAMILIES, family_names, resolve_family
from seqsweep.trainables.reporting import InMemoryReporter, Reporter
from seqsweep.trainables.seeding import trial_seed

__all__ = [
    "FAMILIES",
    "Choice",
    "DeviceSettings",
    "Evaluation",
    "Float",
    "Framework",
    "InMemoryReporter",
    "Int",
    "LoopState",
    "ModelFamily",
    "ModelInfo",
    "Reporter",
    "TrainableModel",
    "TrialSettings",
    "family_names",
    "get_framework",
    "load_checkpoint",
    "read_state",
    "resolve_family",
    "train",
    "trial_seed",
]
