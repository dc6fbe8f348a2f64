"""Connect to a Ray cluster, or start a private local one and stop only that: the one Ray-session helper.

Without an address a local Ray is started with `address="local"` (it never joins someone else's
cluster, and its GCS takes a free port, never Redis's 6379) and shut down at the end. With an
address (`auto`, `HOST:PORT`, `ray://HOST:10001`) the cluster is used and left running. A Ray this
process had already initialised is used as it is and left running. The sweep runner, `results
--reseed` and the dataset build all start Ray through `ray_session`.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

import ray

from seqsweep.errors import ConfigError

if TYPE_CHECKING:
    from seqsweep.search_spaces.settings import ResourceSettings

logger = logging.getLogger(__name__)


@contextmanager
def ray_session(
    address: str | None = None, num_cpus: int | None = None, *, sigint_deaf_start: bool = False
) -> Iterator[None]:
    """Use the Ray already initialised in this process, else connect or start one for the block.

    `num_cpus`: the CPUs of a local Ray (None: Ray detects them). `sigint_deaf_start`: start a local
    Ray's own processes (GCS, raylet) deaf to SIGINT, and act on a Ctrl-C that arrives meanwhile once
    they are up. Ctrl-C in a terminal signals the whole foreground process group, which holds the
    local Ray's processes too; they would die at once, before Tune could stop its trials and save the
    experiment. Ray starts them with SIGINT blocked (`ray._private.services.start_ray_process`), and
    this process only records a SIGINT while `ray.init` runs (main thread only): a recorded one stops
    the Ray just started and then reaches the command's own handler (KeyboardInterrupt, exit 130).
    SIGINT used to be ignored meanwhile, so a Ctrl-C in those seconds was lost and the sweep ran to its
    end. Raises ConfigError (one line) when the cluster at `address` cannot be reached.
    """
    in_main = threading.current_thread() is threading.main_thread()
    main = sigint_deaf_start and in_main
    recorder = _SigintRecorder()
    previous = signal.signal(signal.SIGINT, recorder) if main else None
    started = False
    # `ray.init` sets its own SIGTERM handler (`sys.exit(15)`, with a native stack dump), which would end
    # the command without its clean-ups or its line (`cli.sigterm_unwinds`): a handler set before is kept
    term = signal.getsignal(signal.SIGTERM) if in_main else None
    keep_term = in_main and term is not None and term is not signal.SIG_DFL  # Ray's beats the default
    try:
        started = _start(address, num_cpus)
    except SystemExit as exc:
        # a SIGTERM while `ray.init` ran met Ray's handler (`sys.exit(15)`): the command ended silently,
        # exit 15; it goes to the handler that was in place instead, once Ray is down again
        if not (keep_term and exc.code == signal.SIGTERM):
            raise
        if ray.is_initialized():
            ray.shutdown()
        signal.signal(signal.SIGTERM, term)
        signal.raise_signal(signal.SIGTERM)
        raise
    finally:
        if main:
            _hand_back_sigint(previous, recorder, started=started)
        if keep_term:
            signal.signal(signal.SIGTERM, term)
    try:
        yield
    finally:
        if started:
            ray.shutdown()
            if in_main:
                reinstall_signal_handlers()


class _SigintRecorder:
    """A SIGINT handler that only records that a SIGINT arrived (`arrived`)."""

    def __init__(self) -> None:
        self.arrived = False

    def __call__(self, signum: int, frame: Any) -> None:
        self.arrived = True


def _hand_back_sigint(previous: Any, recorder: _SigintRecorder, *, started: bool) -> None:
    """Give SIGINT back to `previous` (None: the default action) after a deaf start; a SIGINT `recorder`
    saw meanwhile first stops the Ray this start `started`, then goes to `previous` (KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    if not recorder.arrived or previous == signal.SIG_IGN:  # ignored before (`nohup`, a shell's `&`)
        return
    if started:
        ray.shutdown()  # the command is interrupted before it used the Ray it started
        reinstall_signal_handlers()
    signal.raise_signal(signal.SIGINT)


def reinstall_signal_handlers() -> None:
    """Set SIGINT's and SIGTERM's handlers again as Python records them (`signal.getsignal`), main thread.

    `ray.shutdown` (Ray 2.60) resets SIGTERM to the default action in the kernel while Python still
    reports the command's handler: a SIGTERM after a command had stopped the local Ray it started (a
    dataset build's, `results --reseed` writing its report, `run` finishing its sweep) ended the process
    at once, without its clean-ups or its line (`cli.sigterm_unwinds`)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if handler is not None:  # None: set outside Python, which Python cannot set again
            signal.signal(signum, handler)


def _start(address: str | None, num_cpus: int | None) -> bool:
    """Connect or start Ray unless it is initialised already; whether this call started it."""
    _quiet_cluster_errors()
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    if address is None:
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    else:
        _check_reachable(address)
        _connect(address)
    return True


TOKEN_FIX: Final = (
    "the cluster uses token authentication and refused this client's token; make the cluster's token "
    "available here (`RAY_AUTH_MODE=token` with `RAY_AUTH_TOKEN`, or the file ~/.ray/auth_token)"
)
"""What to do when a cluster refused this client's token (`run --address`, the Jobs API)."""

_TOKEN_REFUSED: Final = ("InvalidAuthToken", "Authentication token is missing or incorrect")
"""How Ray's C++ client says, on stderr, that the cluster refused its token."""


def _connect(address: str) -> None:
    """`ray.init(address)`, its C++ client's stderr held back (ConfigError, one line, if it fails). A head
    with token authentication that refused this client's token made it print `gcs_client.cc ... Failed to
    get cluster ID from GCS server: Unauthenticated: ... InvalidAuthToken` once a second for 20 s, then
    fail with "Failed to connect to Ray cluster", which does not name the token; those lines go to the log
    at DEBUG (`seqsweep -v` shows them, after the attempt), and the error names the token."""
    from seqsweep._stderr import native_stderr_captured

    failure: Exception | None = None
    with native_stderr_captured() as held:
        try:
            ray.init(address=address, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            failure = exc
    native = "".join(held).strip()
    if native:
        logger.debug("ray's client while connecting to %s: %s", address, native)
    if failure is None:
        return
    if any(marker in native or marker in str(failure) for marker in _TOKEN_REFUSED):
        raise ConfigError(f"--address {address}: {TOKEN_FIX}")
    raise ConfigError(f"--address {address}: cannot connect to a Ray cluster there ({failure})")


def _quiet_cluster_errors() -> None:
    """Send the errors Ray's driver prints for the cluster (`(raylet) A worker died or was killed ...`,
    600 characters with colour codes, when a trial's process exits or is killed) to the log at DEBUG
    (`seqsweep -v` shows them): `log_to_driver=False` stops the workers' logs, not these. The trial's
    own one line (`trial ... errored: ...`, its traceback in error.txt) says what happened.

    Ray 2.60 prints them through `ray._private.worker.print_to_stdstream` with `pid` "raylet"; that
    function is wrapped once, and any other line goes through unchanged.
    """
    import ray._private.worker as ray_worker

    printer = getattr(ray_worker, "print_to_stdstream", None)
    if printer is None or getattr(printer, "seqsweep_quiet", False):
        return

    def quiet(data: dict[str, Any], ignore_prefix: bool) -> None:
        if isinstance(data, dict) and data.get("pid") == "raylet":
            logger.debug("ray: %s", " ".join(str(line) for line in data.get("lines", [])))
            return
        printer(data, ignore_prefix)

    quiet.seqsweep_quiet = True  # type: ignore[attr-defined]
    ray_worker.print_to_stdstream = quiet


CONNECT_CHECK_S = 10.0
"""Seconds `--address HOST:PORT` may take to accept a TCP connection before the run is refused."""


def check_address(address: str | None) -> None:
    """Refuse (ConfigError, one line) a `HOST:PORT` `address` where no Ray cluster answers, before a
    command does any other work (generating the sample database, building a dataset); None (a private
    local Ray), `local`, `auto` and `ray://` addresses pass. `ray_session` checks again when it connects."""
    if address is not None and address != "local" and not ray.is_initialized():
        _check_reachable(address)


def _check_reachable(address: str) -> None:
    """ConfigError (one line) when nothing accepts a TCP connection at a `HOST:PORT` address within
    `CONNECT_CHECK_S`, or what does is no gRPC server (`unreachable`): `ray.init` would retry the GCS for
    minutes, printing Ray's own warnings, while Ctrl-C is ignored (`sigint_deaf_start`). `auto`, `local`
    and `ray://` addresses are left to Ray."""
    reason = unreachable(address, grpc=grpc_probe_applies())
    if reason is not None:
        port = address.rpartition(":")[2]
        raise ConfigError(
            f"--address {address}: cannot connect to a Ray cluster there ({reason}); is its "
            f"head running (`ray start --head --port {port}`) and reachable from here?"
        )


def grpc_probe_applies() -> bool:
    """Whether `unreachable(..., grpc=True)` can tell a Ray GCS here: a cluster with TLS (`RAY_USE_TLS`)
    answers only a TLS handshake, so the plain HTTP/2 probe is left out there."""
    return os.environ.get("RAY_USE_TLS", "0").strip().lower() not in ("1", "true")


def unreachable(address: str, *, grpc: bool = False) -> str | None:
    """Why nothing accepts a TCP connection at a `HOST:PORT` or `http(s)://HOST:PORT` address within
    `CONNECT_CHECK_S` (the OS's reason), None when something does or the address is another kind.

    With `grpc`, what listens must also answer as a gRPC server does (Ray's GCS): MariaDB's port or a
    plain TCP listener accepted the connection, and `ray.init` then retried for ever, printing Ray's
    warnings, deaf to Ctrl-C and SIGTERM."""
    plain = address.split("://", 1)[1] if address.startswith(("http://", "https://")) else address
    host, sep, port = plain.split("/", 1)[0].rpartition(":")
    if "://" in plain or not sep or not port.isdigit() or not host:
        return None
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_CHECK_S) as conn:
            return None if not grpc or _answers_http2(conn) else "what listens there is no Ray (gRPC) server"
    except OSError as exc:
        return str(exc.strerror or exc)


HTTP2_PREFACE: Final = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
"""The HTTP/2 client connection preface and an empty SETTINGS frame (RFC 9113, sections 3.4 and 6.5)."""


def _answers_http2(conn: socket.socket) -> bool:
    """Whether the server on `conn` answers the HTTP/2 preface with a SETTINGS frame, as every gRPC
    server (Ray's GCS) must (RFC 9113, 3.4: the server preface is a SETTINGS frame). A server of another
    protocol sends its own greeting (MariaDB's handshake), closes, or says nothing within the timeout."""
    try:
        conn.sendall(HTTP2_PREFACE)
        header = b""
        while len(header) < 9:
            chunk = conn.recv(9 - len(header))
            if not chunk:
                return False
            header += chunk
    except OSError:
        return False
    return header[3] == 4  # the frame type: SETTINGS


def local_ray_processes() -> list[subprocess.Popen[bytes]]:
    """The processes of the local Ray this process started (`ray.init(address="local")`: GCS, raylet,
    dashboard, log monitor, ...), not its workers; empty when Ray is not initialised here, or is a
    cluster this process only connected to.

    Read from Ray's node object (`ray._private.worker._global_node.all_processes`, Ray 2.60); any
    other shape of it gives an empty list, so callers treat "unknown" as "not local".
    """
    node = getattr(ray._private.worker, "_global_node", None)
    table = getattr(node, "all_processes", None)
    if not isinstance(table, dict):
        return []
    processes = [getattr(info, "process", None) for infos in table.values() for info in infos]
    return [process for process in processes if isinstance(process, subprocess.Popen)]


def largest_node_cpus() -> float | None:
    """The CPUs of the connected cluster's largest live node; None when Ray names none."""
    sizes = [float(n.get("Resources", {}).get("CPU", 0.0)) for n in ray.nodes() if n.get("Alive")]
    return max(sizes) if sizes else None


def cluster_gpus() -> float:
    """The GPUs of the connected Ray cluster (0.0 without any)."""
    return float(ray.cluster_resources().get("GPU", 0.0))


def check_trial_fits(resources: ResourceSettings, *, local: bool, gpu_fix: str) -> None:
    """ConfigError (one line) for a trial the connected cluster can never place: GPUs on a cluster
    without one (`gpu_fix` says what to do instead), or, on the local Ray this command started
    (`local`), more CPUs than the machine has. Tune would keep such a trial PENDING forever, its
    "no trial can be scheduled" warning silenced. A remote cluster may autoscale bigger nodes in: its
    CPUs are not checked."""
    if resources.gpu > 0 and cluster_gpus() == 0:
        raise ConfigError(
            f"resources.gpu: the sweep asks for {resources.gpu:g} GPU per trial but the cluster has no GPU, "
            f"so every trial would wait for one forever; {gpu_fix}"
        )
    largest = largest_node_cpus() if local else None
    if largest is not None and resources.cpu > largest:  # a trial, or each of its data-parallel workers
        raise ConfigError(
            f"resources.cpu: the sweep asks for {resources.cpu:g} CPUs per trial but the cluster's largest "
            f"node has {largest:g}; a trial would wait for them forever (set resources.cpu, or run on a "
            f"bigger cluster)"
        )
