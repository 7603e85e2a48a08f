"""Drain: seeded PENDING messages delivered by `run_dispatcher --drain --once`.

The slow, tail, slow200 and memory sections drain the same way.

msgs/s is SENT / (last sent_at - first sent_at) from the database. Duplicates are keys the
receiver saw more than once; lost is the larger of "not SENT in the database" and "never reached
the receiver". CPU: the dispatcher's from wait4 (its whole life, children included, start-up
too), PostgreSQL's from the scratch database's backends, the receiver's from /proc. Peak RSS:
the largest VmHWM of the dispatcher's processes (benchmarks/support/cpu.py says why not ru_maxrss).
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.support import harness, procs
from benchmarks.support.cpu import BackendSampler, MachineSampler, wait_child
from benchmarks.support.receivers import Receiver


@dataclass(frozen=True, slots=True)
class DrainConfig:
    messages: int
    processes: int = 1
    concurrency: int = 8
    batch_size: int = 100


def dispatcher_argv(config: DrainConfig) -> list[str]:
    argv = procs.manage("run_dispatcher", "--drain", "--once")
    argv += ["--batch-size", str(config.batch_size), "--concurrency", str(config.concurrency)]
    return argv + (["--processes", str(config.processes)] if config.processes > 1 else [])


def drain(config: DrainConfig, *, receiver: Receiver) -> dict[str, float]:
    """Seed, drain with the dispatcher, and measure; one run."""
    harness.seed_pending(config.messages)
    receiver.mark()
    receiver_before = receiver.cpu_ms()
    backends = BackendSampler(harness.database_name()).start()
    machine = MachineSampler().start()
    # Receipts still go to Redis, but expire soon instead of piling up for 30 days.
    env = procs.child_env(WEBHOOK_URL=receiver.url, RECEIPT_TTL="15m")
    popen = procs.spawn(dispatcher_argv(config), env=env, log="dispatcher.log")
    try:
        usage = wait_child(popen, timeout=max(180.0, config.messages / 50))
    finally:
        procs.stop(popen)
        postgres_ms = backends.stop()
        machine.stop()
    receiver_ms = receiver.cpu_ms() - receiver_before
    seen, stored = receiver.collect(), harness.drain_result()
    n = max(config.messages, 1)
    busy = None
    if stored.first_sent_at is not None and stored.last_sent_at is not None:
        window = (stored.first_sent_at.timestamp(), stored.last_sent_at.timestamp())
        busy = machine.busy_share(*window)
    return {
        "messages": config.messages,
        "msgs_per_s": stored.per_second(),
        "receiver_msgs_per_s": seen.per_second(),
        "duplicates": seen.duplicates,
        "lost": max(stored.total - stored.sent, len(stored.ids - seen.keys.keys())),
        "exit_code": usage.returncode,
        "cpu_ms_per_msg_dispatcher": usage.cpu_ms / n,
        "cpu_ms_per_msg_postgres": postgres_ms / n,
        "cpu_ms_per_msg_receiver": receiver_ms / n,
        "peak_rss_mib": usage.max_rss_kib / 1024,
        "machine_cpu_busy_pct": None if busy is None else busy * 100,
    }
