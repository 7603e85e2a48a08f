"""Retention at scale: prune throughput, and claim latency while a prune runs beside a drain.

The oldest finished messages go in two halves (about 1,000,000 in all, or every filled one on a
smaller table): the first with nothing else running, the second while `run_dispatcher --drain`
delivers a backlog of PENDING messages to the receiver. Meanwhile this process samples
`claim_batch(limit=10)` + release every 50 ms on its own connection, first for a window without
the prune, then for as long as the prune runs (on a thread with its own connection). Retention
is set per prune so that the oldest k finished rows are expired; the dispatcher itself keeps
everything (MESSAGE_RETENTION=0), so only these prunes remove rows. At the end, PENDING and
SENDING rows are reconciled: none may be gone, bar those the dispatcher finished.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from benchmarks.scale import db as scale_db
from benchmarks.scale.reads import percentiles
from benchmarks.support import harness, procs
from benchmarks.support.progress import say
from benchmarks.support.receivers import receiver

SAMPLE_EVERY = 0.05
SAMPLE_LEASE = timedelta(seconds=60)
DRAIN_GUESS = 1_500  # msgs/s, to size the first backlog; the top-up uses the measured rate
LIVE = ("PENDING", "SENDING")
FINISHED = ("SENT", "FAILED")
# The k+1-th oldest change, or just after the newest one when fewer are left. Never `before`
# itself: the cutoff is now() - retention for each batch, so it creeps forward while a prune
# runs, and must stay clear of the rows the dispatcher finishes after `before`.
AGE_SQL = """
WITH finished AS NOT MATERIALIZED (
    SELECT updated_at FROM messages
    WHERE status IN ('SENT', 'FAILED') AND updated_at < %(before)s
)
SELECT now() - coalesce(
    (SELECT updated_at FROM finished ORDER BY updated_at OFFSET %(k)s LIMIT 1),
    (SELECT max(updated_at) + interval '1 millisecond' FROM finished), %(before)s)
"""
MOVED_SQL = """
SELECT count(*) FROM messages WHERE status IN ('SENT', 'FAILED') AND updated_at >= %s
"""
DUE_SQL = """
SELECT count(*) FROM messages WHERE status IN ('PENDING', 'SENDING') AND next_attempt_at <= now()
"""
BACKLOG_SQL = """
INSERT INTO messages (id, phone_number, content, status, retry_count, attempt_count,
    next_attempt_at, created_at, updated_at)
SELECT gen_random_uuid(), '+90555' || lpad((n %% 9973)::text, 7, '0'), 'Backlog ' || n,
    'PENDING', 0, 0, now(), now(), now()
FROM generate_series(1, %s) AS n
"""


def age_for_oldest(k: int, *, before: datetime) -> timedelta:
    """A retention that expires about the k oldest finished rows changed before `before`."""
    return harness.execute(AGE_SQL, {"k": k, "before": before})[0][0]


def pruner(older_than: timedelta):
    """prune_expired() as `manage.py prune` builds it, with this retention for messages and
    none for idempotency keys (so the figures are about messages and attempts)."""
    from django.conf import settings
    from django.test import override_settings

    from messaging.bootstrap import prune_expired

    conf = settings.DISPATCHER
    retention = {"message_retention": older_than, "idempotency_key_ttl": None}
    with override_settings(DISPATCHER={**conf, **retention}):
        return prune_expired()


def timed_prune(k: int, *, before: datetime, label: str) -> dict:
    age = age_for_oldest(k, before=before)
    prune = pruner(age)
    started = time.monotonic()
    report = prune.execute()
    while report.is_skipped:  # a dispatcher held the lock for its own (empty) prune
        if time.monotonic() - started > 60:
            raise RuntimeError("another process kept the prune lock for a minute")
        time.sleep(0.2)
        report = prune.execute()
    seconds = time.monotonic() - started
    say(f"prune {label}: {report.messages:,} messages in {seconds:.1f} s")
    return {"label": label, "messages": report.messages, "attempts": report.attempts,
            "seconds": round(seconds, 2), "retention_s": round(age.total_seconds())}  # fmt: skip


class PruneThread(threading.Thread):
    """A timed prune on a thread (and so a database connection) of its own."""

    def __init__(self, k: int, *, before: datetime) -> None:
        super().__init__(name="scale-prune", daemon=True)
        self.k, self.before = k, before
        self.result: dict | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        from django.db import connection

        try:
            self.result = timed_prune(self.k, before=self.before, label="beside the drain")
        except BaseException as exc:  # reported by the main thread
            self.error = exc
        finally:
            connection.close()


def sample_claims(*, until: Callable[[], bool]) -> list[float]:
    """claim_batch(10) + release every SAMPLE_EVERY s until `until()`; claim times in ms."""
    from messaging.bootstrap import message_repository

    repo, found = message_repository(), []
    while not until():
        began = time.perf_counter()
        claimed = repo.claim_batch(worker_id="scale-sampler", limit=10, lease=SAMPLE_LEASE)
        found.append((time.perf_counter() - began) * 1000)
        repo.release(claimed)
        time.sleep(max(0.0, SAMPLE_EVERY - (time.perf_counter() - began)))
    return found


def add_backlog(count: int) -> int:
    for start in range(0, count, 100_000):
        harness.execute(BACKLOG_SQL, (min(100_000, count - start),))
    return max(count, 0)


def _now() -> datetime:
    return harness.execute("SELECT now()")[0][0]


def _moved(since: datetime) -> int:
    return harness.execute(MOVED_SQL, (since,))[0][0]


def _due() -> int:
    return harness.execute(DUE_SQL)[0][0]


@contextmanager
def dispatcher(url: str, *, since: datetime) -> Iterator[None]:
    """`run_dispatcher --drain` against `url`, keeping everything (only our prunes remove)."""
    env = procs.child_env(WEBHOOK_URL=url, MESSAGE_RETENTION="0", IDEMPOTENCY_KEY_TTL="0",
                          RECEIPT_TTL="15m")  # fmt: skip
    argv = procs.manage("run_dispatcher", "--drain", "--interval", "1s", "--batch-size", "100")
    with procs.running(argv, env=env, log="scale-dispatcher.log") as popen:
        deadline = time.monotonic() + 90
        while _moved(since) == 0:
            if popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the dispatcher delivered nothing; see scale-dispatcher.log")
            time.sleep(0.2)
        yield


def measure(*, cap: int, window: float, receiver_choice: str) -> dict:
    """Both prunes, the claim samples around the second, and the reconciliation."""
    before = scale_db.counts_by_status()
    started = _now()  # the database's clock: rows the dispatcher finishes are newer
    total = min(cap, sum(before.get(s, 0) for s in FINISHED))
    alone = timed_prune(total // 2, before=started, label="alone")
    inserted = add_backlog(int(DRAIN_GUESS * window * 1.5) + 1_000 - _due())
    rate = alone["messages"] / alone["seconds"] if alone["seconds"] else 10_000.0
    with receiver(receiver_choice) as hook, dispatcher(hook.url, since=started):
        found = _without_then_with(total - total // 2, since=started, window=window, rate=rate)
    found["receiver"] = hook.kind
    found["prunes"].insert(0, alone)
    inserted += found.pop("topped_up")
    removed = sum(step["messages"] for step in found["prunes"])
    found["check"] = reconcile(before, since=started, inserted=inserted, removed=removed)
    # What autovacuum would do soon after: a later --keep run then reads a vacuumed table.
    harness.execute("VACUUM ANALYZE messages, delivery_attempts")
    return found


def _without_then_with(k: int, *, since: datetime, window: float, rate: float) -> dict:
    """Claim samples for `window` s, then while the prune of `k` runs (`rate`: its lone speed)."""
    t0, m0 = time.monotonic(), _moved(since)
    without = sample_claims(until=lambda: time.monotonic() >= t0 + window)
    t1, m1, load_without = time.monotonic(), _moved(since), os.getloadavg()[0]
    sent_without = (m1 - m0) / (t1 - t0)
    # Enough work for the dispatcher until the prune ends (it may go at half its lone speed).
    topped_up = add_backlog(int(sent_without * (2 * k / max(rate, 1.0) + 10)) - _due())
    prune = PruneThread(k, before=since)
    t2, m2 = time.monotonic(), _moved(since)
    prune.start()
    during = sample_claims(until=lambda: not prune.is_alive())
    t3, m3 = time.monotonic(), _moved(since)
    if prune.error is not None:
        raise prune.error
    return {"prunes": [prune.result], "topped_up": topped_up,
            "claims_without": {**percentiles(without), "load_average": load_without},
            "claims_with": {**percentiles(during), "load_average": os.getloadavg()[0]},
            "sent_per_s_without": sent_without, "sent_per_s_with": (m3 - m2) / (t3 - t2),
            "due_left_after_prune": _due()}  # fmt: skip


def reconcile(before: dict[str, int], *, since: datetime, inserted: int, removed: int) -> dict:
    """PENDING + SENDING before (with the backlog) = after + what the dispatcher finished."""
    after, moved = scale_db.counts_by_status(), _moved(since)
    live_before = sum(before.get(s, 0) for s in LIVE) + inserted
    live_after = sum(after.get(s, 0) for s in LIVE)
    finished_gone = (
        sum(before.get(s, 0) for s in FINISHED) + moved - sum(after.get(s, 0) for s in FINISHED)
    )
    return {"before": before, "after": after, "backlog_inserted": inserted,
            "finished_by_dispatcher": moved, "live_before": live_before, "live_after": live_after,
            "live_removed": live_before - live_after - moved, "finished_removed": finished_gone,
            "prune_reported": removed,
            "kept_counts_match": after == scale_db.kept_counts()}  # fmt: skip
