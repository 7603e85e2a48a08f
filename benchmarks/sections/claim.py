"""Claim latency for a batch of 100 as the table grows, and the plan that serves it.

Rows are bulk-loaded with INSERT ... SELECT generate_series (1% PENDING and due, 99% SENT),
then VACUUM ANALYZE. Each sample times `DjangoMessageRepository.claim_batch` (one short
transaction, commit included) and releases the claimed rows again, untimed. The plan is the one the
claim really ran, with actual times, from auto_explain (loaded into the benchmark's session and
reporting as a notice); without auto_explain, EXPLAIN ANALYZE of the claim's SELECT, rolled back.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from benchmarks.support import harness

BATCH = 100
WARM_UP = 5
LEASE = timedelta(minutes=5)
LOAD_SQL = """
    INSERT INTO messages (id, phone_number, content, status, retry_count, attempt_count,
        next_attempt_at, created_at, updated_at, sent_at, external_id)
    SELECT gen_random_uuid(), '+905551234567', 'bench ' || n,
        CASE WHEN n %% 100 = 0 THEN 'PENDING' ELSE 'SENT' END, 0,
        CASE WHEN n %% 100 = 0 THEN 0 ELSE 1 END,
        now() - interval '2 days' + n * interval '1 ms',
        now() - interval '2 days' + n * interval '1 ms',
        now() - interval '2 days' + n * interval '1 ms',
        CASE WHEN n %% 100 = 0 THEN NULL ELSE now() - interval '1 day' END,
        CASE WHEN n %% 100 = 0 THEN NULL ELSE 'ext-' || n END
    FROM generate_series(1, %s) AS n
"""
FALLBACK_SQL = """
    SELECT id FROM messages WHERE status IN ('PENDING', 'SENDING') AND next_attempt_at <= now()
    ORDER BY next_attempt_at LIMIT 100 FOR UPDATE SKIP LOCKED
"""


def repository():
    from messaging.bootstrap import message_repository

    return message_repository()


def load(rows: int) -> None:
    harness.reset_messages()
    harness.execute(LOAD_SQL, (rows,))
    harness.execute("VACUUM ANALYZE messages")


def _claim(repo) -> list:
    return repo.claim_batch(worker_id="bench-claim", limit=BATCH, lease=LEASE)


def latencies_ms(repo, *, samples: int, timeout: float = 120.0) -> list[float]:
    found, deadline = [], time.monotonic() + timeout
    for number in range(WARM_UP + samples):
        if time.monotonic() > deadline:
            break
        started = time.perf_counter()
        claimed = _claim(repo)
        elapsed = time.perf_counter() - started
        repo.release(claimed)
        if number >= WARM_UP:
            found.append(elapsed * 1000)
    return found


AUTO_EXPLAIN = (
    "log_min_duration = 0",
    "log_analyze = on",
    "log_buffers = on",
    "log_level = notice",
)


def traced_claim_plan(repo) -> str | None:
    """The plan of the claim statement as it really ran, from auto_explain sent as a notice.

    Works whatever cursor the repository uses, as long as it is Django's connection."""
    from django.db import connection
    from django.db.utils import DatabaseError

    connection.ensure_connection()
    notices: list[str] = []

    def keep(diagnostic) -> None:
        notices.append(diagnostic.message_primary or "")

    raw = connection.connection
    raw.add_notice_handler(keep)
    try:
        harness.execute("LOAD 'auto_explain'")
        for setting in AUTO_EXPLAIN:
            harness.execute(f"SET auto_explain.{setting}")
        claimed = _claim(repo)
        harness.execute("SET auto_explain.log_min_duration = -1")
    except DatabaseError:
        return None  # no auto_explain here (or no right to load it)
    finally:
        raw.remove_notice_handler(keep)
    repo.release(claimed)
    return next((n for n in notices if "SKIP LOCKED" in n.upper()), None)


def explain(repo) -> tuple[str, bool]:
    """The plan text, and whether it reads the partial index `messages_claimable`."""
    from django.db import connection, transaction

    plan = traced_claim_plan(repo)
    if plan is None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + FALLBACK_SQL)
            rows = [row[0] for row in cursor.fetchall()]
            transaction.set_rollback(True)
        plan = "(auto_explain unavailable: the plan of the claim's SELECT)\n" + "\n".join(rows)
    return plan, "messages_claimable" in plan


def measure(*, small: int, large: int, samples: int, repeat: int) -> dict[str, object]:
    """p50/p95 per run at `small` and `large` rows; the plan at `large`."""
    repo, result = repository(), {"batch": BATCH}
    for name, rows in (("small", small), ("large", large)):
        load(rows)
        runs = []
        for _ in range(repeat):
            times = latencies_ms(repo, samples=samples)
            runs.append({"p50_ms": statistics.median(times), "p95_ms": _p95(times)})
        result[name] = {"rows": rows, "pending": rows // 100, "runs": runs}
    result["plan"], result["index_used"] = explain(repo)
    result["plan_rows"] = large
    harness.reset_messages()
    return result


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]
