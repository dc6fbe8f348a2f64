"""Rules of the sweep file that protect a sweep about to run, and the lenient read of a finished one.

Some rules refuse a value that a sweep would run otherwise than its author meant (`[16, 16, 32]` draws 16
twice as often; ASHA's keys without `type: asha` stop no trial early; an int range whose `high` no step
reaches). They were added after experiments had run under them: such an experiment's trials exist and
are what they are, so reading it (`seqsweep results`, `export`, a warm start) notes the broken rule
(`lenient_run_rules`) instead of refusing the experiment, while `seqsweep run` and `resume`, which start
trials, keep refusing (`RunRuleError`).

A run rule is checked once, while the raw file is parsed (`parse_sweep`), never again when a parsed
sweep is copied with `dataclasses.replace`, so a lenient read stays readable afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from seqsweep.errors import ConfigError


class RunRuleError(ConfigError):
    """A sweep file breaks a rule that protects a sweep about to run (`run_rule`)."""


_NOTED: ContextVar[list[str] | None] = ContextVar("seqsweep_run_rules_noted", default=None)
"""Inside `lenient_run_rules`: the broken rules noted so far; None outside (every rule refuses)."""


def run_rule(message: str) -> None:
    """A run rule is broken (`message`: one line naming the key, the rule and the fix): RunRuleError,
    unless a finished experiment is being read (`lenient_run_rules`), which notes it and goes on with
    the value as written (as the sweep ran)."""
    noted = _NOTED.get()
    if noted is None:
        raise RunRuleError(message)
    if message not in noted:
        noted.append(message)


@contextmanager
def lenient_run_rules() -> Iterator[list[str]]:
    """Within the block, `run_rule` notes each broken rule (once) in the list it yields, in order."""
    noted: list[str] = []
    token = _NOTED.set(noted)
    try:
        yield noted
    finally:
        _NOTED.reset(token)
