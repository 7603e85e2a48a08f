"""The webhook receivers: nginx from Debian's packages when installed, else the bundled one.

Both answer every POST with 202 `{"message":"Accepted","messageId":...}` over keep-alive and
append `<unix time> <Idempotency-Key>` per request, when its answer leaves, to a log, which is
how every run counts deliveries, duplicates and its first-to-last delivery span at the receiver.
Only the bundled one can answer late (`Latency`): the slow, heavy-tailed and 200 ms receivers.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.support import procs
from benchmarks.support.cpu import tree_cpu_ms

FLUSH_WAIT = 0.35  # both receivers write their key log at least every 0.1 s

NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    log_format keys '$msec $http_idempotency_key';
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    server {{
        listen 127.0.0.1:{port} backlog=2048;
        access_log {dir}/keys.log keys buffer=64k flush=100ms;
        location / {{
            default_type application/json;
            return 202 '{{"message":"Accepted","messageId":"$request_id"}}';
        }}
    }}
}}
"""


@dataclass
class Deliveries:
    """What the receiver saw during one measured run."""

    keys: Counter[str] = field(default_factory=Counter)
    first: float | None = None
    last: float | None = None

    def add(self, when: float, key: str) -> None:
        self.keys[key] += 1
        self.first = when if self.first is None else min(self.first, when)
        self.last = when if self.last is None else max(self.last, when)

    @property
    def distinct(self) -> int:
        return len(self.keys)

    @property
    def duplicates(self) -> int:
        return sum(1 for n in self.keys.values() if n > 1)

    def per_second(self) -> float:
        span = (self.last or 0.0) - (self.first or 0.0)
        return self.distinct / span if span > 0 else 0.0

    def figures(self, messages: int, **cpu_ms: float) -> dict[str, float]:
        """The figures of a run of `messages`: rate, duplicates, lost, and each `cpu_ms` total
        as `cpu_ms_per_msg_<name>`."""
        per_message = {
            f"cpu_ms_per_msg_{name}": ms / max(messages, 1) for name, ms in cpu_ms.items()
        }
        return {
            "messages": messages,
            "msgs_per_s": self.per_second(),
            "duplicates": self.duplicates,
            "lost": messages - self.distinct,
            **per_message,
        }


class Receiver:
    """A running receiver process and its key log, read from where the last read stopped."""

    def __init__(self, *, kind: str, popen: subprocess.Popen, port: int, log: Path) -> None:
        self.kind, self.popen, self.log = kind, popen, log
        self.url = f"http://127.0.0.1:{port}/webhook"
        self._offset = 0
        self._seen = Deliveries()

    def cpu_ms(self) -> float:
        return tree_cpu_ms(self.popen.pid)

    def _read(self) -> None:
        if not self.log.exists():
            return
        with self.log.open("rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.decode().splitlines():
            when, _, key = line.partition(" ")
            self._seen.add(float(when), key)

    def mark(self) -> None:
        """Forget everything received so far: the next `collect` covers only what follows."""
        time.sleep(FLUSH_WAIT)
        self._read()
        self._seen = Deliveries()

    def wait_for(self, count: int, *, timeout: float) -> None:
        """Until `count` distinct keys arrived since `mark`, or `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._seen.distinct < count:
            time.sleep(0.2)
            self._read()

    def collect(self) -> Deliveries:
        time.sleep(FLUSH_WAIT)
        self._read()
        seen, self._seen = self._seen, Deliveries()
        return seen


def nginx_binary() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def _nginx_version(binary: str) -> str:
    result = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10)
    return (result.stderr or result.stdout).strip().rpartition("/")[2] or "?"


def _start_nginx(binary: str, workdir: Path, port: int) -> Receiver:
    conf = workdir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=workdir, port=port))
    argv = [binary, "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(conf)]
    popen = procs.spawn(
        [*argv, "-g", "daemon off;"], env={"PATH": "/usr/bin:/bin"}, log="nginx.log"
    )
    kind = f"nginx {_nginx_version(binary)} (1 worker, return 202)"
    return Receiver(kind=kind, popen=popen, port=port, log=workdir / "keys.log")


@dataclass(frozen=True, slots=True)
class Latency:
    """The bundled receiver's delays (ms): every answer, and every `tail_every`-th instead."""

    delay_ms: float = 0.0
    tail_ms: float = 0.0
    tail_every: int = 0

    @property
    def is_instant(self) -> bool:
        return not self.delay_ms and not (self.tail_every and self.tail_ms)

    def argv(self) -> list[str]:
        found = ["--delay-ms", str(self.delay_ms)]
        return found + ["--tail-ms", str(self.tail_ms), "--tail-every", str(self.tail_every)]

    def describe(self) -> str:
        found = f", {self.delay_ms:g} ms per answer" if self.delay_ms else ""
        if self.tail_every:
            found += f", 1 in {self.tail_every} after {self.tail_ms:g} ms"
        return found


def _start_bundled(workdir: Path, port: int, *, latency: Latency) -> Receiver:
    log = workdir / "keys.log"
    argv = [procs.PYTHON, "-m", "benchmarks.support.receiver_server", "--port", str(port)]
    argv += ["--log", str(log), *latency.argv()]
    popen = procs.spawn(argv, env=procs.child_env(), log="receiver.log")
    kind = (
        "bundled asyncio receiver (benchmarks/support/receiver_server.py, "
        f"1 process{latency.describe()})"
    )
    return Receiver(kind=kind, popen=popen, port=port, log=log)


@contextmanager
def receiver(choice: str = "auto", *, latency: Latency | None = None) -> Iterator[Receiver]:
    """A receiver for the block: `nginx`, `python` or `auto` (nginx if installed and instant)."""
    latency = latency or Latency()
    binary = nginx_binary()
    is_auto_nginx = choice == "auto" and binary is not None and latency.is_instant
    use_nginx = choice == "nginx" or is_auto_nginx
    if use_nginx and binary is None:
        raise RuntimeError("--receiver nginx: nginx is not installed")
    port = procs.free_port()
    with tempfile.TemporaryDirectory(prefix="md-bench-receiver-") as workdir:
        found = (
            _start_nginx(binary, Path(workdir), port)
            if use_nginx and binary
            else _start_bundled(Path(workdir), port, latency=latency)
        )
        try:
            procs.wait_for_port(port, timeout=20, process=found.popen)
            yield found
        finally:
            procs.stop(found.popen)
