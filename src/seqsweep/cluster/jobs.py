"""Submit a sweep to a Ray cluster as a Ray Job, and follow it (Ray's Jobs API).

The job's runtime environment carries the sweep (an environment variable, its database password
hidden: the head node supplies it in `$SEQSWEEP_DB_URL`) and this package's code (`py_modules`), so
the head and workers run the code the user has, even when the nodes have an older seqsweep installed;
the third-party stack (Ray, TensorFlow, torch) must be on the nodes.
"""

from __future__ import annotations

import logging
import shlex
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from seqsweep.errors import ConfigError
from seqsweep.search_spaces.credentials import without_password
from seqsweep.search_spaces.sweep import ENV_PREFIX, SweepSpec

SWEEP_ENV = "SEQSWEEP_SWEEP_YAML"
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")


def _client(address: str) -> Any:
    """A Jobs API client for `address`; ConfigError (one line) where none answers. A `HOST:PORT` where
    nothing listens is named after a TCP check (`session.unreachable`): Ray's client would first try it as
    a GCS address for about 45 s, printing its own C++ warnings. A bare `HOST:PORT` must also answer as
    a Ray GCS does (gRPC, the probe `run --address` uses): MariaDB's port took the same 45 s."""
    from ray.job_submission import JobSubmissionClient

    from seqsweep.cluster.session import TOKEN_FIX, grpc_probe_applies, unreachable

    if not logging.getLogger().isEnabledFor(logging.DEBUG):  # `seqsweep -v` shows them
        # its import sets INFO: "Uploading package gcs://..." and "Creating a file package" reached the terminal
        logging.getLogger("ray.dashboard.modules.dashboard_sdk").setLevel(logging.WARNING)

    reason = unreachable(address)
    if reason is not None:
        raise ConfigError(f"--address {address}: no Ray Jobs API answers there ({reason})")
    if "://" not in address and address != "auto":
        # a bare HOST:PORT is a GCS address to Ray, which tried it for about 45 s, printing C++ warnings
        if _speaks_http(address):
            raise ConfigError(
                f"--address {address}: an HTTP server answers there (the dashboard's Jobs API?); write "
                f"http://{address}"
            )
        # neither HTTP nor gRPC (MariaDB's port, a silent listener): the same probe as `run --address`
        reason = unreachable(address, grpc=grpc_probe_applies())
        if reason is not None:
            raise ConfigError(f"--address {address}: no Ray Jobs API answers there ({reason})")
    try:
        return JobSubmissionClient(address)
    except Exception as exc:  # connection refused, bad URL, wrong port: one line for the user
        if type(exc).__name__ == "AuthenticationError":  # the API answered: it wants the cluster's token
            raise ConfigError(f"--address {address}: {TOKEN_FIX}") from None
        raise ConfigError(
            f"--address {address}: no Ray Jobs API answers there ({type(exc).__name__})"
        ) from None


@contextmanager
def _about_job(address: str, job_id: str) -> Iterator[None]:
    """The Jobs API's "Request failed with status code 404: Job X does not exist." (a RuntimeError, which
    ended the command as an unexpected error, exit 3) as one line naming the job."""
    try:
        yield
    except RuntimeError as exc:
        if "status code 404" not in str(exc):
            raise
        raise ConfigError(
            f"job {job_id!r}: the cluster at {address} has no such job (`seqsweep submit` prints the id "
            f"of each job it submits)"
        ) from None


HTTP_CHECK_S = 3.0
"""Seconds `_speaks_http` waits for an answer."""


def _speaks_http(address: str) -> bool:
    """Whether an HTTP server answers at a bare `HOST:PORT` (any status, 404 included): a Ray GCS does not."""
    import http.client

    host, _, port = address.rpartition(":")
    try:
        connection = http.client.HTTPConnection(host, int(port), timeout=HTTP_CHECK_S)
        try:
            connection.request("GET", "/api/version")
            connection.getresponse()
        finally:
            connection.close()
    except (OSError, ValueError, http.client.HTTPException):
        return False
    return True


def submit_sweep(spec: SweepSpec, address: str, storage: str | None = None) -> str:
    """Submit `spec` to the cluster's Jobs API at `address` (http://HEAD:8265); returns the job id."""
    request = job_request(spec, storage or spec.file.storage_path)
    return str(_client(address).submit_job(**request))


def job_request(spec: SweepSpec, storage_path: str) -> dict[str, Any]:
    """What the Jobs API receives for `spec`. The dashboard shows all of it to anyone who can reach the
    cluster, so the database URL goes with its password hidden; the head supplies it (`$SEQSWEEP_DB_URL`)."""
    import seqsweep

    if "://" not in storage_path and not Path(storage_path).is_absolute():
        raise ConfigError(
            f"storage_path {storage_path!r}: a submitted sweep needs an absolute path that every node shares "
            f"(NFS) or a URI (s3://, gs://); a relative path would land in the job's temporary folder"
        )
    # The sweep travels in an environment variable, not a working_dir: Ray's runtime-env agent may
    # delete a working_dir package once the job's tasks release it, and it is the driver's cwd.
    return {
        "entrypoint": (
            f"python -m seqsweep.cli run {ENV_PREFIX}{SWEEP_ENV} --address auto --storage {shlex.quote(storage_path)}"
        ),
        "runtime_env": {
            "py_modules": [str(Path(seqsweep.__file__).parent)],
            "env_vars": {
                SWEEP_ENV: without_password(spec).to_yaml(),
                "HF_HUB_OFFLINE": "1",
                "TF_CPP_MIN_LOG_LEVEL": "2",
            },
        },
        "metadata": {"seqsweep_sweep": spec.name},
    }


def job_status(address: str, job_id: str) -> str:
    client = _client(address)
    with _about_job(address, job_id):
        return str(client.get_job_status(job_id))


def job_logs(address: str, job_id: str, follow: bool = False, poll_s: float = 1.0) -> Iterator[str]:
    """The job's driver output; with `follow`, new output until the job ends."""
    client = _client(address)
    if not follow:
        with _about_job(address, job_id):
            logs = client.get_job_logs(job_id)
        yield logs
        return
    seen = 0
    while True:
        with _about_job(address, job_id):
            logs = client.get_job_logs(job_id)
        if len(logs) > seen:
            yield logs[seen:]
            seen = len(logs)
        if str(client.get_job_status(job_id)).rsplit(".", 1)[-1] in TERMINAL:
            tail = client.get_job_logs(job_id)
            if len(tail) > seen:
                yield tail[seen:]
            return
        time.sleep(poll_s)


def wait_for_job(address: str, job_id: str, timeout_s: float, poll_s: float = 1.0) -> str:
    """Block until the job ends (or `timeout_s` passes); returns its last status name."""
    deadline = time.monotonic() + timeout_s
    status = job_status(address, job_id).rsplit(".", 1)[-1]
    while status not in TERMINAL and time.monotonic() < deadline:
        time.sleep(poll_s)
        status = job_status(address, job_id).rsplit(".", 1)[-1]
    return status
