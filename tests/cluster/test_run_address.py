"""`run --address HOST:PORT` where something listens that is no Ray: one line, exit 2, within seconds.

MariaDB's port, or a plain TCP listener, accepted the TCP check; `ray.init` then retried the "GCS" for
ever, printing Ray's C++ warnings, deaf to Ctrl-C and SIGTERM (only SIGKILL ended it)."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from seqsweep.cluster import session
from tests.cluster.cli_process import seqsweep_process


def _run_at(address: str, storage: Path) -> subprocess.CompletedProcess[str]:
    """`seqsweep run demo --address ADDRESS` in a fresh process (`cli_process`) whose HOME holds no sample
    database yet: the address is refused before the sample database would be generated."""
    return seqsweep_process(["run", "demo", "--address", address, "--storage", str(storage)], home=storage)


@pytest.fixture
def silent_listener() -> Iterator[str]:
    """A TCP server that accepts and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    for conn in accepted:
        conn.close()
    server.close()


@pytest.mark.mysql
def test_run_at_mariadbs_port_is_one_line(tmp_path: Path) -> None:
    address = "127.0.0.1:3306"
    done = _run_at(address, tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"seqsweep: error: --address {address}: cannot connect to a Ray cluster there (what listens there "
        f"is no Ray (gRPC) server); is its head running (`ray start --head --port 3306`) and reachable from here?"
    ]
    assert not (tmp_path / "demo").exists()
    assert not (tmp_path / ".cache").exists(), "the sample database was generated before the address check"


def test_run_at_a_listener_that_says_nothing_is_one_line(silent_listener: str, tmp_path: Path) -> None:
    done = _run_at(silent_listener, tmp_path)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert "what listens there is no Ray (gRPC) server" in line


def test_a_real_ray_head_answers_the_check(ray_cluster: object) -> None:
    import ray

    assert session.unreachable(ray.get_runtime_context().gcs_address, grpc=True) is None


def test_a_head_that_refuses_the_token_is_one_line_naming_the_token(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """`run --address HEAD:PORT` at a head with token authentication and another token: Ray's C++ client
    wrote `gcs_client.cc:210: Failed to get cluster ID from GCS server: Unauthenticated: RPC error:
    InvalidAuthToken ...` to stderr once a second for 20 s, then the line said "cannot connect to a Ray
    cluster there (Failed to connect to Ray cluster at ...)", not naming the token."""
    import os

    import ray

    def refuse(address: str, **_: object) -> None:
        native = b"[2026-12-02 17:06:56,066 W 5460 5460] gcs_client.cc:210: Failed to get cluster ID from "
        os.write(
            2,
            native + b"GCS server: Unauthenticated: RPC error: InvalidAuthToken: Authentication "
            b"token is missing or incorrect\n",
        )
        raise ConnectionError(f"Failed to connect to Ray cluster at {address}")

    monkeypatch.setattr(session, "unreachable", lambda address, **_: None)  # a GCS answers there
    monkeypatch.setattr(ray, "init", refuse)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    with pytest.raises(session.ConfigError) as refused, session.ray_session("10.0.0.7:6379"):
        pass
    assert str(refused.value) == f"--address 10.0.0.7:6379: {session.TOKEN_FIX}"
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
