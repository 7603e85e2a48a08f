"""Gunicorn settings for production: `gunicorn -c gunicorn.conf.py dispatcher_project.wsgi`.

Environment: HOST (127.0.0.1; the image sets 0.0.0.0), PORT (8080), WEB_CONCURRENCY (worker
processes; default 2 x usable CPUs + 1, at most 8), GUNICORN_THREADS (threads per worker, 4).
SIGHUP reloads gracefully: new workers start, the old ones finish their requests (up to
graceful_timeout) and exit. SIGTERM stops gracefully.
Gunicorn also reads ./gunicorn.conf.py by itself, but `make run` (run_stack) passes bind, workers,
threads and timeouts on its command line, and those win over this file.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

MAX_WORKERS = 8  # each worker thread may hold a PostgreSQL connection (CONN_MAX_AGE)


def _whole_number(name: str, *, default: int, low: int, high: int) -> int:
    """The environment variable `name` as an int in [low, high]; one clear line when it is not."""
    raw = os.environ.get(name, "").strip() or str(default)
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise SystemExit(
            f"Configuration error: {name}: expected a whole number {low}-{high}, got {raw!r}"
        )
    return value


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask, lowered by a cgroup v2 quota (--cpus)."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    count = count or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            count = min(count, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota visible: the affinity mask is the answer
    return count


_host = os.environ.get("HOST", "").strip() or "127.0.0.1"
_port = _whole_number("PORT", default=8080, low=1, high=65535)
bind = f"[{_host}]:{_port}" if ":" in _host else f"{_host}:{_port}"
workers = _whole_number(
    "WEB_CONCURRENCY", default=min(usable_cpus() * 2 + 1, MAX_WORKERS), low=1, high=64
)
threads = _whole_number("GUNICORN_THREADS", default=4, low=1, high=64)
worker_class = "gthread"
timeout = 30  # gthread workers heartbeat from their main loop, so long requests are not killed
graceful_timeout = 30  # docker-compose.yml gives the api 40s between SIGTERM and SIGKILL
keepalive = 5
max_requests = 1000  # recycle workers now and then, staggered by the jitter
max_requests_jitter = 100
accesslog = "-"
errorlog = "-"
proc_name = "message-dispatcher-api"
# The heartbeat file on tmpfs: a disk-backed /tmp (overlayfs in a container) can stall workers.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None


def child_exit(server, worker) -> None:
    """Tell prometheus-client that a worker is gone (its counters keep counting in the sum)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
