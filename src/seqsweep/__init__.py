"""seqsweep: hyperparameter search for sequence classifiers on market time series.

Importing the package is cheap on purpose: neither TensorFlow nor torch nor Ray is imported here.
Each model family imports its framework when it is first used.
"""

from seqsweep.errors import (
    ConfigError,
    DataError,
    NoValidTrialsError,
    SeqsweepError,
    TrialError,
    UnknownModelError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "NoValidTrialsError",
    "SeqsweepError",
    "TrialError",
    "UnknownModelError",
    "__version__",
]
