"""One exception base; the CLI turns every subclass into one line on stderr and exit code 2."""


class SeqsweepError(Exception):
    """Base of every error a user can fix. Its message is one line that names what to fix."""


class ConfigError(SeqsweepError):
    """A sweep file or dataset spec breaks a rule (unknown key, value out of range, ...)."""


class DataError(SeqsweepError):
    """The database or the data in it cannot give the dataset that the spec asks for."""


class UnknownModelError(ConfigError):
    """A sweep names a model family that is neither built in nor an importable `module:function`."""


class NoValidTrialsError(SeqsweepError):
    """An experiment has no trial that finished with a finite validation score."""


class TrialError(SeqsweepError):
    """A single trial cannot go on (a NaN loss, say). It fails that trial, never the sweep."""
