"""Subprocess plumbing: each benchmark process runs in its own session and is always stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
LOGS = RESULTS / "bench-logs"
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, *, timeout: float, process: subprocess.Popen | None = None) -> None:
    """Until something accepts on 127.0.0.1:`port`; RuntimeError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout}s")


def spawn(argv: list[str], *, env: dict[str, str], log: str) -> subprocess.Popen:
    """Start `argv` in ROOT in a new session, output appended to benchmarks/results/bench-logs."""
    LOGS.mkdir(parents=True, exist_ok=True)
    with (LOGS / log).open("ab") as out:
        return subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(popen: subprocess.Popen, *, timeout: float = 20.0) -> None:
    """SIGTERM the process group, SIGKILL it after `timeout` s; leftovers of a dead leader too."""
    if popen.poll() is None:
        signal_group(popen.pid, signal.SIGTERM)
        try:
            popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            signal_group(popen.pid, signal.SIGKILL)
            popen.wait(timeout=10)
    signal_group(popen.pid, signal.SIGKILL)  # children that outlived their leader


def signal_group(pgid: int, signum: int = signal.SIGTERM) -> None:
    """Signal every process of the group `pgid` leads; gone already is fine."""
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


@contextmanager
def running(argv: list[str], *, env: dict[str, str], log: str) -> Iterator[subprocess.Popen]:
    """`spawn`, and `stop` whatever happens in the block."""
    popen = spawn(argv, env=env, log=log)
    try:
        yield popen
    finally:
        stop(popen)


def manage(*args: str) -> list[str]:
    return [PYTHON, "manage.py", *args]


def child_env(**overrides: str) -> dict[str, str]:
    """This process's environment (the scratch DATABASE_URL included), quiet logs, overrides."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "warning", **overrides}
