"""`ray_session`, the one Ray starter: what it starts, what it stops, and SIGINT while a local Ray starts."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
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
            # neither the command's handler nor the default action: a Ctrl-C is only recorded meanwhile
            assert fake_ray.sigint_during_init not in (handler, signal.SIG_DFL, signal.default_int_handler)
            assert signal.getsignal(signal.SIGINT) is handler
        with session.ray_session():
            assert fake_ray.sigint_during_init is handler
    finally:
        signal.signal(signal.SIGINT, previous)


class SigintDuringInit(FakeRay):
    """`ray.init` during which a Ctrl-C arrives (the terminal signals the whole foreground group)."""

    def init(self, **kwargs: Any) -> None:
        super().init(**kwargs)
        signal.raise_signal(signal.SIGINT)


@pytest.fixture
def ctrl_c_during_init(monkeypatch: pytest.MonkeyPatch) -> Iterator[SigintDuringInit]:
    """A fake Ray whose start meets a Ctrl-C; SIGINT's handler put back after the test."""
    fake = SigintDuringInit()
    monkeypatch.setattr(session, "ray", fake)
    previous = signal.getsignal(signal.SIGINT)
    yield fake
    signal.signal(signal.SIGINT, previous)


def test_a_ctrl_c_while_ray_starts_stops_the_ray_it_started_and_interrupts(
    ctrl_c_during_init: SigintDuringInit,
) -> None:
    """A Ctrl-C while `run` started its local Ray was ignored, and the whole sweep ran to its end."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with pytest.raises(KeyboardInterrupt), session.ray_session(sigint_deaf_start=True):
        pytest.fail("the block ran after a Ctrl-C")
    fake = ctrl_c_during_init
    assert fake.shutdowns == 1 and not fake.initialized  # the Ray it started is stopped again
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_ctrl_c_while_ray_starts_is_ignored_when_the_command_ignores_sigint(
    ctrl_c_during_init: SigintDuringInit,
) -> None:
    """Under `nohup` (or a shell's `&`) SIGINT is ignored: the start goes on, Ray kept running."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with session.ray_session(sigint_deaf_start=True):
        assert ctrl_c_during_init.initialized
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert ctrl_c_during_init.shutdowns == 1  # stopped as the block ended, not before


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


OS_HANDLERS = """
import ctypes, json, os, signal, sys, time
from seqsweep import cli
from seqsweep.cluster.session import ray_session

class Sigaction(ctypes.Structure):  # glibc's struct sigaction: the handler comes first
    _fields_ = [("handler", ctypes.c_void_p), ("mask", ctypes.c_ulong * 16), ("flags", ctypes.c_int),
                ("restorer", ctypes.c_void_p)]

def in_the_kernel(signum):
    action = Sigaction()
    if ctypes.CDLL(None, use_errno=True).sigaction(signum, None, ctypes.byref(action)) != 0:
        raise OSError(ctypes.get_errno(), "sigaction")
    return action.handler or 0  # 0: SIG_DFL, 1: SIG_IGN, else Python's C handler

def handlers():
    return {int(s): in_the_kernel(s) for s in (signal.SIGINT, signal.SIGTERM)}

signal.signal(signal.SIGINT, signal.default_int_handler)
with cli.sigterm_unwinds():
    seen = {"before": handlers()}
    with ray_session(num_cpus=1):
        pass
    seen["after"] = handlers()
    print(json.dumps(seen), flush=True)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(60)
    except cli.Terminated:
        print("Terminated", flush=True)
"""
"""A process that starts and stops a private local Ray under the CLI's SIGTERM handler, then sends itself
SIGTERM: prints the kernel's SIGINT and SIGTERM handlers before and after (JSON), then `Terminated`."""


def test_the_commands_sigterm_handler_outlives_ray_shutdown() -> None:
    """`ray.shutdown` reset SIGTERM to the default action in the kernel while `signal.getsignal` still
    named the command's handler: a SIGTERM after a command had stopped its local Ray (a dataset build's)
    killed the process without its clean-ups or its line. A real Ray, in a process of its own (this
    one's may be running the session's Ray, which `ray_session` would use, not stop)."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", OS_HANDLERS], capture_output=True, text=True, timeout=180
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the Ray process did not end within 180 s: {exc.stderr!r}") from None
    lines = done.stdout.splitlines()
    assert lines, f"no output (exit {done.returncode}): {done.stderr[-2000:]}"
    seen = json.loads(lines[0])
    assert seen["before"][str(int(signal.SIGTERM))] not in (0, 1)  # Python's handler is set
    assert seen["after"] == seen["before"]
    assert lines[1:] == ["Terminated"] and done.returncode == 0, done.stderr[-2000:]
