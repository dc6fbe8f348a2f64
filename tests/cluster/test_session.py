"""`ray_session`, the one Ray starter: what it starts, what it stops, and SIGINT while a local Ray starts."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from seqsweep.cluster import session
from seqsweep.errors import ConfigError


class FakeRay:
    """Records `ray.init` / `ray.shutdown` calls and the SIGINT handler in force during `init`."""

    def __init__(self, initialized: bool = False, fail: bool = False) -> None:
        self.initialized = initialized
        self.fail = fail
        self.inits: list[dict[str, Any]] = []
        self.sigint_during_init: Any = None
        self.shutdowns = 0

    def is_initialized(self) -> bool:
        return self.initialized

    def init(self, **kwargs: Any) -> None:
        self.sigint_during_init = signal.getsignal(signal.SIGINT)
        if self.fail:
            raise ConnectionError("nobody there")
        self.inits.append(kwargs)
        self.initialized = True

    def shutdown(self) -> None:
        self.shutdowns += 1
        self.initialized = False


@pytest.fixture
def fake_ray(monkeypatch: pytest.MonkeyPatch) -> FakeRay:
    fake = FakeRay()
    monkeypatch.setattr(session, "ray", fake)
    return fake


def test_a_private_local_ray_is_started_and_stopped(fake_ray: FakeRay) -> None:
    with session.ray_session(num_cpus=3):
        assert fake_ray.inits == [
            {"address": "local", "num_cpus": 3, "include_dashboard": False, "log_to_driver": False}
        ]
    assert fake_ray.shutdowns == 1


def test_a_ray_already_running_is_used_and_left_running(fake_ray: FakeRay) -> None:
    fake_ray.initialized = True
    with session.ray_session("auto"):
        pass
    assert fake_ray.inits == [] and fake_ray.shutdowns == 0


def test_an_unreachable_address_is_one_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session, "ray", FakeRay(fail=True))
    with (
        pytest.raises(ConfigError, match=r"--address 10\.0\.0\.1:6379: cannot connect"),
        session.ray_session("10.0.0.1:6379"),
    ):
        pass


def test_sigint_is_ignored_only_while_ray_starts(fake_ray: FakeRay) -> None:
    def handler(signum: int, frame: Any) -> None:
        pass

    previous = signal.signal(signal.SIGINT, handler)
    try:
        with session.ray_session(sigint_deaf_start=True):
            assert fake_ray.sigint_during_init is signal.SIG_IGN
            assert signal.getsignal(signal.SIGINT) is handler
        with session.ray_session():
            assert fake_ray.sigint_during_init is handler
    finally:
        signal.signal(signal.SIGINT, previous)


class SigtermDuringInit(FakeRay):
    """`ray.init` that, like Ray's own, installs `sys.exit(15)` for SIGTERM; a SIGTERM arrives before it returns."""

    def init(self, **kwargs: Any) -> None:
        import sys

        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))
        self.initialized = True
        signal.raise_signal(signal.SIGTERM)


def test_a_sigterm_while_ray_starts_goes_to_the_commands_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    """`data build` stopped while `ray.init` ran exited 15 without a word (Ray's handler's `sys.exit`)."""
    from seqsweep.cli import Terminated, sigterm_unwinds

    fake = SigtermDuringInit()
    monkeypatch.setattr(session, "ray", fake)
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        with sigterm_unwinds():
            ours = signal.getsignal(signal.SIGTERM)
            with pytest.raises(Terminated), session.ray_session(num_cpus=1):
                pytest.fail("the block ran after a SIGTERM")
            assert signal.getsignal(signal.SIGTERM) is ours
        assert fake.shutdowns == 1  # the Ray it started is stopped again
    finally:
        signal.signal(signal.SIGTERM, previous)
