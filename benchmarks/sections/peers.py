"""Peers: the same drain by Celery (Redis broker, prefork 2) and procrastinate (2 x 8).

All jobs are enqueued first with no worker running (timed separately: enqueue msgs/s); then the
workers start and drain. Drain msgs/s is distinct keys / (last - first arrival) at the receiver,
as for the requests loops. Worker CPU comes from wait4 (whole life, pool children included);
procrastinate's PostgreSQL backends are sampled like the dispatcher's.
"""

from __future__ import annotations

import importlib.util
import os
import time
import uuid

from benchmarks.support import harness, procs
from benchmarks.support.cpu import BackendSampler, wait_child
from benchmarks.support.receivers import Receiver

CHUNK = 1000


def unavailable(peer: str) -> str | None:
    """Why `peer` cannot run here, or None."""
    if importlib.util.find_spec(peer) is None:
        return f"{peer} is not installed (make bench installs requirements-bench.txt)"
    if peer == "celery" and not os.environ.get("REDIS_URL"):
        return "celery needs REDIS_URL for its broker"
    return None


def _jobs(count: int) -> list[dict[str, str]]:
    return [
        {"message_id": str(uuid.uuid4()), "to": f"+90555{n:07d}", "content": f"bench {n}"}
        for n in range(count)
    ]


def celery_drain(receiver: Receiver, *, messages: int) -> dict[str, float]:
    # A queue per scratch database: a smoke run and `make bench` never purge each other's.
    os.environ.setdefault("BENCH_QUEUE", f"md-bench-{harness.database_name()}")
    from benchmarks.sections import peer_celery

    peer_celery.app.control.purge()
    jobs = _jobs(messages)
    started = time.perf_counter()
    for job in jobs:
        peer_celery.post_message.apply_async(kwargs=job)
    enqueue_s = time.perf_counter() - started
    worker = "celery -A benchmarks.sections.peer_celery worker --pool prefork --concurrency 2"
    argv = [procs.PYTHON, "-m", *worker.split(), "--loglevel", "WARNING"]
    result = _drain(receiver, [argv], messages=messages, log="celery.log", database=None)
    return {**result, "enqueue_msgs_per_s": messages / enqueue_s if enqueue_s else 0.0}


def procrastinate_drain(receiver: Receiver, *, messages: int) -> dict[str, float]:
    from benchmarks.sections import peer_procrastinate

    jobs = _jobs(messages)
    with peer_procrastinate.app.open():
        if harness.execute("SELECT to_regclass('procrastinate_jobs')")[0][0] is None:
            peer_procrastinate.app.schema_manager.apply_schema()
        harness.execute("TRUNCATE procrastinate_jobs CASCADE")
        started = time.perf_counter()
        for start in range(0, messages, CHUNK):
            peer_procrastinate.post_message.batch_defer(*jobs[start : start + CHUNK])
        enqueue_s = time.perf_counter() - started
    app = "procrastinate --app benchmarks.sections.peer_procrastinate.app --log-level warning"
    argv = [procs.PYTHON, "-m", *app.split(), "worker", "--concurrency", "8", "--one-shot"]
    database = harness.database_name()
    result = _drain(
        receiver, [argv, argv], messages=messages, log="procrastinate.log", database=database
    )
    return {**result, "enqueue_msgs_per_s": messages / enqueue_s if enqueue_s else 0.0}


def _drain(
    receiver: Receiver, argvs: list[list[str]], *, messages: int, log: str, database: str | None
) -> dict[str, float]:
    """Start the workers, wait until every key arrived (bounded), stop them and measure."""
    receiver.mark()
    receiver_before = receiver.cpu_ms()
    backends = BackendSampler(database).start() if database else None
    env = procs.child_env(BENCH_RECEIVER_URL=receiver.url)
    popens = [procs.spawn(argv, env=env, log=log) for argv in argvs]
    try:
        receiver.wait_for(messages, timeout=max(180.0, messages / 50))
        for popen in popens:
            procs.signal_group(popen.pid)
        usages = [wait_child(popen, timeout=60) for popen in popens]
    finally:
        for popen in popens:
            procs.stop(popen)
        postgres_ms = backends.stop() if backends else None
    receiver_ms = receiver.cpu_ms() - receiver_before
    cpu_ms = {"workers": sum(u.cpu_ms for u in usages), "receiver": receiver_ms}
    if postgres_ms is not None:
        cpu_ms["postgres"] = postgres_ms
    return receiver.collect().figures(messages, **cpu_ms)
