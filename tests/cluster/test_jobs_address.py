"""`submit`, `status` and `logs` pointed at an address where no Ray Jobs API answers (nothing listens, or a
listener of another protocol such as MariaDB's): one line, exit 2, at once."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from seqsweep import cli
from tests.cluster.cli_process import seqsweep_process


def _free_port() -> int:
    with socket.socket() as probe:  # bound and closed: nothing listens there afterwards
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("scheme", ["", "http://"], ids=["HOST:PORT", "http://HOST:PORT"])
@pytest.mark.parametrize("command", [["status", "raysubmit_x"], ["logs", "raysubmit_x"], ["submit", "demo"]])
def test_a_jobs_address_where_nothing_listens_is_one_line(
    command: list[str], scheme: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without `http://` Ray's client first tried the address as a GCS for about 45 s and printed its own
    C++ warnings (`rpc_client.h ... Failed to connect to GCS`) before seqsweep's line."""
    address = f"{scheme}127.0.0.1:{_free_port()}"
    extra = ["--storage", str(tmp_path)] if command[0] == "submit" else []
    assert cli.main([*command, "--address", address, *extra]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"seqsweep: error: --address {address}: no Ray Jobs API answers there (Connection refused)"
    ]


def test_a_bare_host_port_where_http_answers_asks_for_http(capsys: pytest.CaptureFixture[str]) -> None:
    """The dashboard's port given without `http://`: Ray took it for a GCS address, tried it for about
    45 s while printing its C++ warnings, then failed with `RpcError`."""
    import http.server
    import threading

    class Quiet(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # the server's log is not the CLI's
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        address = f"127.0.0.1:{server.server_address[1]}"
        assert cli.main(["status", "--address", address, "raysubmit_x"]) == 2
        assert capsys.readouterr().err.splitlines() == [
            f"seqsweep: error: --address {address}: an HTTP server answers there (the dashboard's Jobs API?); "
            f"write http://{address}"
        ]
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_a_cluster_that_wants_its_token_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A head with token authentication (`ray start`'s default here) refused the client: the line said "no
    Ray Jobs API answers there (AuthenticationError)", though the API had answered."""
    import ray.job_submission
    from ray.exceptions import AuthenticationError

    import seqsweep.cluster.session as session

    def refuse(address: str) -> None:
        raise AuthenticationError("Authentication token is missing or incorrect")

    monkeypatch.setattr(session, "unreachable", lambda address, **_: None)
    monkeypatch.setattr(ray.job_submission, "JobSubmissionClient", refuse)
    address = "http://127.0.0.1:8265"
    assert cli.main(["status", "raysubmit_x", "--address", address]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"seqsweep: error: --address {address}: the cluster uses token authentication")
    assert "RAY_AUTH_TOKEN" in line


def _jobs_command(command: list[str], address: str, storage: Path) -> subprocess.CompletedProcess[str]:
    """`seqsweep COMMAND --address ADDRESS` in a fresh process (`cli_process`)."""
    extra = ["--storage", str(storage)] if command[0] == "submit" else []
    return seqsweep_process([*command, "--address", address, *extra])


@pytest.mark.mysql
@pytest.mark.parametrize("command", [["status", "raysubmit_x"], ["logs", "raysubmit_x"], ["submit", "demo"]])
def test_a_jobs_address_at_mariadbs_port_is_one_line(command: list[str], tmp_path: Path) -> None:
    """MariaDB's port speaks neither HTTP nor gRPC: Ray's client tried it as a GCS for about 45 s, printed
    three lines of C++ warnings (`rpc_client.h ... Failed to connect to GCS`), then `(RpcError)`."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 3306)) != 0:
            pytest.skip("no MariaDB at 127.0.0.1:3306")
    address = "127.0.0.1:3306"
    done = _jobs_command(command, address, tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"seqsweep: error: --address {address}: no Ray Jobs API answers there (what listens there is no "
        f"Ray (gRPC) server)"
    ]


def test_a_jobs_address_where_a_listener_says_nothing_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A TCP listener that never answers (neither HTTP nor gRPC) is refused by the same probe."""
    from seqsweep.cluster import jobs, session

    monkeypatch.setattr(jobs, "HTTP_CHECK_S", 0.5)
    monkeypatch.setattr(session, "CONNECT_CHECK_S", 0.5)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"127.0.0.1:{server.getsockname()[1]}"
        assert cli.main(["status", "raysubmit_x", "--address", address]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"seqsweep: error: --address {address}: no Ray Jobs API answers there (what listens there is no "
        f"Ray (gRPC) server)"
    ]
