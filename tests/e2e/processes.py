"""Start `manage.py` subprocesses against the test database, and wait for conditions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from django.db import connection

from tests.integration.receivers import closed_port

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
# Debian's faketime package, under the machine's multiarch directory.
LIBFAKETIME = next(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"), None)


def require_debian_package(found: T | None, *, what: str, package: str) -> T:
    """`found`, or fail (in CI, which installs `package`) or skip (elsewhere) the test."""
    if found is None:
        message = f"{what} is missing: apt-get install {package} (.ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def require_libfaketime() -> Path:
    return require_debian_package(LIBFAKETIME, what="libfaketime", package="faketime")


def skewed(env: dict[str, str], offset: str) -> dict[str, str]:
    """`env` for a process whose wall clock is off by `offset` (libfaketime, e.g. "+5m").

    Only the wall clock moves, as on a host whose clock is wrong; its monotonic clock, which
    timed waits use, stays right.
    """
    return {**env, "LD_PRELOAD": str(require_libfaketime()), "FAKETIME": offset,
            "FAKETIME_DONT_FAKE_MONOTONIC": "1"}  # fmt: skip


def test_database_url() -> str:
    """The URL of the database pytest-django created, for processes started by the test."""
    conf = connection.settings_dict
    socket_dir = conf.get("OPTIONS", {}).get("host")
    if not conf["HOST"] and socket_dir:
        return f"postgresql://{conf['USER']}:@/{conf['NAME']}?host={socket_dir}"
    password = f":{conf['PASSWORD']}" if conf["PASSWORD"] else ""
    return (
        f"postgres://{conf['USER']}{password}@{conf['HOST']}:{conf['PORT'] or 5432}/{conf['NAME']}"
    )


def dispatcher_env(*, webhook_url: str, **overrides: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "WEBHOOK_URL": webhook_url,
        "WEBHOOK_BACKOFF_BASE": "100ms",
        "LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(overrides)
    return env


class Process:
    """A `manage.py` subprocess whose output goes to a log file (no pipe to fill up)."""

    def __init__(self, args: list[str], *, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._output = log.open("w")
        self.popen = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )

    @property
    def output(self) -> str:
        return self.log.read_text()

    def stop(self, *, timeout: float = 30) -> int:
        if self.popen.poll() is None:
            self.popen.terminate()
        try:
            return self.popen.wait(timeout=timeout)
        finally:
            self._output.close()

    def kill(self) -> None:
        self.popen.kill()
        self.popen.wait(timeout=10)
        self._output.close()


@contextmanager
def dispatchers(count: int, *args: str, env: dict[str, str], logs: Path) -> Iterator[list[Process]]:
    """`count` run_dispatcher processes, stopped (SIGTERM) when the block ends."""
    logs.mkdir(parents=True, exist_ok=True)
    started = [
        Process(["run_dispatcher", *args], env=env, log=logs / f"dispatcher-{n}.log")
        for n in range(count)
    ]
    try:
        yield started
    finally:
        for process in started:
            if process.popen.poll() is None:
                process.stop()
            elif not process._output.closed:
                process._output.close()


def wait_until(condition: Callable[[], Any], *, timeout: float, what: str) -> Any:
    """Poll `condition` until it is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# -- the API server ----------------------------------------------------------------------------

GUNICORN = Path(sys.executable).with_name("gunicorn")


def children(pid: int) -> set[int]:
    """The child processes of `pid`, from /proc (Linux), empty once it is gone."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found.update(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue  # the thread or the process ended meanwhile
    return found


@contextmanager
def gunicorn(
    *, log: Path, database_url: str | None = None, **env_overrides: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A gunicorn master with 2 gthread workers on a free loopback port; (process, base URL).
    It uses the test database, or `database_url` (the same database through a pooler).

    Stopped with SIGTERM when the block ends; if it will not stop, the master and its workers
    are SIGKILLed by pid, so no process outlives the test.
    """
    port = closed_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url or test_database_url(),
        "RATE_LIMIT_PER_MINUTE": "0",
        "LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(env_overrides)
    command = [str(GUNICORN), "dispatcher_project.wsgi", "--workers", "2", "--threads", "2",
               "--bind", f"127.0.0.1:{port}", "--access-logfile", "/dev/null"]  # fmt: skip
    with log.open("w") as output:
        master = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            yield master, f"http://127.0.0.1:{port}"
        finally:
            workers = children(master.pid)
            master.send_signal(signal.SIGTERM)
            try:
                master.wait(timeout=30)
            except subprocess.TimeoutExpired:
                for pid in (*workers, *children(master.pid)):
                    _kill_quietly(pid)
                master.kill()
                master.wait(timeout=10)


def _kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def is_healthy(base_url: str) -> bool:
    try:
        return requests.get(f"{base_url}/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False
