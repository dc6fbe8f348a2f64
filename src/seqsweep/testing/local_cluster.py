"""A real multi-node Ray cluster on loopback (tests and benchmarks): a head and workers, each its own `ray start`.

Every node gets its own free ports (GCS, dashboard, agents, metrics, workers) so two nodes fit on one
machine, and runs `ray start --block` in a new process session; stopping a node kills that process
group only. Nothing here runs `ray stop`, which would kill every Ray process on the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

RAY = str(Path(sys.executable).with_name("ray"))


START_TIMEOUT_S = 300
"""How long a node may take to join; a cold CI machine imports Ray's 3 GB stack for the first time."""
PROBE_TIMEOUT_S = 60


def _accepts_connections(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def node_ip() -> str:
    """The address Ray picks for this machine (drivers must connect from the same one)."""
    from ray.util import get_node_ip_address

    return str(get_node_ip_address())


def _node_ports() -> list[str]:
    worker_low = free_port() // 100 * 100 % 40000 + 20000
    return [
        f"--node-manager-port={free_port()}",
        f"--object-manager-port={free_port()}",
        f"--dashboard-agent-listen-port={free_port()}",
        f"--dashboard-agent-grpc-port={free_port()}",
        f"--runtime-env-agent-port={free_port()}",
        f"--metrics-export-port={free_port()}",
        f"--min-worker-port={worker_low}",
        f"--max-worker-port={worker_low + 99}",
    ]


@dataclass
class LocalRayCluster:
    temp_dir: Path
    """Short on purpose: Ray's socket paths must stay under 107 characters."""
    cpus_per_node: int = 1
    gcs_port: int = field(default_factory=free_port)
    dashboard_port: int = field(default_factory=free_port)
    nodes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{node_ip()}:{self.gcs_port}"

    @property
    def jobs_address(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env.pop("RAY_ADDRESS", None)
        env["RAY_USAGE_STATS_ENABLED"] = "0"
        env["RAY_AUTH_MODE"] = "disabled"  # loopback test cluster; a real one keeps its token auth
        # Ray's SIGTERM handler drains the node first (for Serve replicas), polling up to this many seconds
        # (30 by default) for a raylet the group's SIGTERM has already ended: `stop` waited 30 s a node.
        env["RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S"] = "0"
        return env

    def _start(self, args: list[str], log_name: str) -> subprocess.Popen:
        log = open(self.temp_dir / log_name, "w", encoding="utf-8")  # noqa: SIM115 - the node writes to it until stopped
        proc = subprocess.Popen(
            [
                RAY,
                "start",
                "--block",
                f"--num-cpus={self.cpus_per_node}",
                "--num-gpus=0",
                *args,
                *_node_ports(),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self._env(),
            start_new_session=True,
        )
        self.nodes.append(proc)
        return proc

    def start_head(self) -> None:
        self._start(
            [
                "--head",
                f"--port={self.gcs_port}",
                f"--temp-dir={self.temp_dir / 'ray'}",
                "--include-dashboard=true",
                "--dashboard-host=127.0.0.1",
                f"--dashboard-port={self.dashboard_port}",
                f"--ray-client-server-port={free_port()}",
                "--disable-usage-stats",
            ],
            "head.log",
        )
        self._wait(lambda: _accepts_connections(node_ip(), self.gcs_port))
        self._wait(self.node_ids)

    def add_worker(self) -> tuple[subprocess.Popen, str]:
        """Start a worker node; returns its process and its Ray node id."""
        before = self.node_ids()
        proc = self._start([f"--address={self.address}"], f"worker{len(self.nodes)}.log")
        new = self._wait(lambda: self.node_ids() - before)
        return proc, next(iter(new))

    def node_ids(self) -> set[str]:
        """Ids of the alive nodes, asked of the cluster by a separate driver process.

        Empty while the cluster cannot answer yet: on a cold machine a driver that connects while the
        head is still starting can hang, so a slow probe counts as "not ready" and is retried.
        """
        try:
            out = subprocess.run(
                [sys.executable, "-c", _ALIVE_NODE_IDS, self.address],
                capture_output=True,
                text=True,
                env=self._env(),
                timeout=PROBE_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return set()
        lines = out.stdout.strip().splitlines()
        return set(json.loads(lines[-1])) if out.returncode == 0 and lines else set()

    def alive_nodes(self) -> int:
        return len(self.node_ids())

    def _wait(self, ready: Callable[[], T], timeout_s: float = START_TIMEOUT_S) -> T:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.nodes and self.nodes[-1].poll() is not None:
                raise RuntimeError(f"a Ray node exited while starting; see {self.temp_dir}/*.log")
            value = ready()
            if value:
                return value
            time.sleep(1)
        raise RuntimeError(f"the Ray node did not come up within {timeout_s} s; see {self.temp_dir}/*.log")

    def kill(self, proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        """Kill one node: its `ray start` and every process of its group (raylet, workers)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in reversed(self.nodes):
            if proc.poll() is None:
                self.kill(proc, signal.SIGTERM)
        for proc in self.nodes:  # anything left of a group (detached workers) goes too
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(self.temp_dir / "ray", ignore_errors=True)


@dataclass
class TwoNodes:
    """A head and one worker node of a `LocalRayCluster`."""

    cluster: LocalRayCluster
    worker: subprocess.Popen
    worker_id: str


_ALIVE_NODE_IDS = """
import json, sys, ray
ray.init(address=sys.argv[1], log_to_driver=False)
print(json.dumps([n["NodeID"] for n in ray.nodes() if n["Alive"]]))
"""
