"""Real uvicorn servers for the tests that need a socket: fuzzing over HTTP, database
outages, graceful shutdown. Each server is its own process group, bound to
127.0.0.1 on a free port of ``TEST_PORT_RANGE`` (default 18300-18399), and is
always stopped by the test that started it."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent

# The server timeouts the tests run with; the same values `bucket-syncs serve` uses.
TIMEOUT_GRACEFUL_SHUTDOWN = 20
TIMEOUT_KEEP_ALIVE = 5
# How long uvicorn's manager waits for a new worker to answer (default 5 s): generous,
# since a worker's start-up on a busy 2-core CI machine can take longer.
TIMEOUT_WORKER_HEALTHCHECK = 30


def scratch_dir(label: str) -> Path:
    """A private folder under /tmp. Not pytest's tmp_path: pytest prunes old numbered
    base folders, which would delete a running server's files under a parallel run."""
    return Path(tempfile.mkdtemp(prefix=f"faults-{label}-"))


def port_range() -> range:
    low, _, high = os.environ.get("TEST_PORT_RANGE", "18300-18399").partition("-")
    return range(int(low), int(high) + 1)


def free_port() -> int:
    """A port of the range nothing listens on (random order: parallel runs rarely clash)."""
    ports = list(port_range())
    random.shuffle(ports)
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports[0]}-{ports[-1]}")


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def startups(self) -> int:
        """Worker processes that completed start-up so far (from the shared log)."""
        return self.log().count("Application startup complete")

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signum)

    def stop(self, timeout: float = TIMEOUT_GRACEFUL_SHUTDOWN + 10) -> int:
        """SIGTERM, then SIGKILL of the whole group if it does not exit in time."""
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        # Workers the manager left behind, if any (they share the group).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.returncode


def start_server(
    env: Mapping[str, str],
    log_path: Path,
    *,
    workers: int = 1,
    ready_timeout: float = 60.0,
) -> Server:
    """``uvicorn app.main:create_app`` with ``env`` added to the environment; returns
    once it answers HTTP."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "app.main:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--timeout-graceful-shutdown",
        str(TIMEOUT_GRACEFUL_SHUTDOWN),
        "--timeout-keep-alive",
        str(TIMEOUT_KEEP_ALIVE),
        "--timeout-worker-healthcheck",
        str(TIMEOUT_WORKER_HEALTHCHECK),
        "--no-server-header",
        "--no-access-log",
        "--log-level",
        "info",  # start-up lines tell when every worker is ready
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, port, log_path)
    deadline = time.monotonic() + ready_timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
        try:
            answered = httpx.get(f"{server.base_url}/openapi.json", timeout=2).status_code
            if answered == 200 and server.startups() >= workers:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"server not ready in {ready_timeout} s:\n{server.log()}")
        time.sleep(0.1)


@contextlib.contextmanager
def running_server(env: Mapping[str, str], log_path: Path, *, workers: int = 1) -> Iterator[Server]:
    server = start_server(env, log_path, workers=workers)
    try:
        yield server
    finally:
        server.stop()


def worker_pids(manager_pid: int) -> list[int]:
    """The live worker processes of a uvicorn multiprocess manager."""
    import psutil

    try:
        children = psutil.Process(manager_pid).children()
    except psutil.NoSuchProcess:
        return []
    # The multiprocessing resource tracker / semaphore helpers are children too;
    # uvicorn's workers are the ones running the spawn entry point.
    workers = []
    for child in children:
        with contextlib.suppress(psutil.Error):
            if "multiprocessing.spawn" in " ".join(child.cmdline()) and "resource_tracker" not in (
                " ".join(child.cmdline())
            ):
                workers.append(child.pid)
    return sorted(workers)


@contextlib.contextmanager
def spawned_until_ready(
    command: list[str], env: Mapping[str, str], log_path: Path, probe_url: str, timeout: float
) -> Iterator[subprocess.Popen[bytes]]:
    """``command`` in its own process group, logging to ``log_path``; yields the process
    once ``probe_url`` answers 200. Whatever is still running afterwards is stopped
    (SIGTERM, then SIGKILL for the whole group)."""
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert process.poll() is None, log_path.read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(probe_url, timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
