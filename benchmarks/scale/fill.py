"""Fills the scale database by SQL: N messages in generate_series chunks, with attempts and keys.

Row n (1..N) gets its status from n % 100: 94 % SENT, 3 % FAILED (one attempt each), 1 % PENDING
and due, 1 % PENDING scheduled up to a week ahead (sendAt), 1 % SENDING under a lease that lasts
30 days (so a kept database stays as filled between runs). Phone numbers cycle through 9,973 (a
prime, so phone and status are independent), created_at spreads evenly over the 60 days before
the fill started, ending an hour before it, and 1 % of the SENT messages have an idempotency key.
Each chunk is one INSERT statement in its own transaction, so the kept counts' triggers run as
for any writer. Secondary indexes are dropped for the fill and built again afterwards (a sort
is much cheaper than millions of random inserts); the constraints' indexes stay.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from benchmarks.scale import db as scale_db
from benchmarks.support import harness
from benchmarks.support.progress import say

SPAN = timedelta(days=60)
GAP = timedelta(hours=1)  # the newest filled row is this old: safe from a short retention
TABLES = ("messages", "delivery_attempts", "idempotency_keys")
CHUNK_SQL = """
WITH src AS MATERIALIZED (
    SELECT n, n %% 100 AS s, gen_random_uuid() AS id,
        %(start)s::timestamptz + (n - 1) * %(step)s::interval AS created
    FROM generate_series(%(low)s::bigint, %(high)s::bigint) AS n
), msgs AS (
    INSERT INTO messages (id, phone_number, content, status, external_id, retry_count,
        attempt_count, last_error, next_attempt_at, locked_by, lease_expires_at, created_at,
        updated_at, sent_at, claim_token, send_at, expires_at)
    SELECT id, '+90555' || lpad((n %% 9973)::text, 7, '0'),
        'Order ' || n || ' has shipped and arrives within two days. Reply STOP to opt out.',
        CASE WHEN s < 94 THEN 'SENT' WHEN s < 97 THEN 'FAILED'
             WHEN s < 99 THEN 'PENDING' ELSE 'SENDING' END,
        CASE WHEN s < 94 THEN 'ext-' || n END,
        0, CASE WHEN s < 97 THEN 1 ELSE 0 END,
        CASE WHEN s BETWEEN 94 AND 96 THEN 'HTTP 400 from the webhook: invalid number' END,
        CASE WHEN s = 98 THEN now() + (n %% 604800) * interval '1 second'
             WHEN s = 99 THEN now() + interval '30 days' ELSE created END,
        CASE WHEN s = 99 THEN 'scale-fill' END,
        CASE WHEN s = 99 THEN now() + interval '30 days' END,
        created,
        CASE WHEN s < 97 THEN created + interval '2 seconds' WHEN s = 99 THEN now()
             ELSE created END,
        CASE WHEN s < 94 THEN created + interval '2 seconds' END,
        -- negative: a real claim's token (a sequence value) never matches a filled lease
        CASE WHEN s = 99 THEN -n END,
        CASE WHEN s = 98 THEN now() + (n %% 604800) * interval '1 second' END,
        NULL
    FROM src
), attempts AS (
    INSERT INTO delivery_attempts (message_id, attempt_number, started_at, duration_ms,
        status_code, outcome, error, response_excerpt)
    SELECT id, 1, created + interval '1 second', 20 + n %% 200,
        CASE WHEN s < 94 THEN 202 ELSE 400 END,
        CASE WHEN s < 94 THEN 'delivered' ELSE 'failed' END,
        CASE WHEN s < 94 THEN NULL ELSE 'HTTP 400' END,
        CASE WHEN s < 94 THEN '{"messageId":"ext-' || n || '"}'
             ELSE '{"error":"invalid number"}' END
    FROM src WHERE s < 97
), keys AS (
    INSERT INTO idempotency_keys (key, fingerprint, message_id, created_at)
    SELECT 'order-' || n, md5(n::text), id, created FROM src WHERE s = 5
)
SELECT count(*) FROM src
"""
SECONDARY_INDEXES_SQL = """
SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index AS i
JOIN pg_class AS c ON c.oid = i.indexrelid JOIN pg_class AS t ON t.oid = i.indrelid
WHERE t.relname = ANY(%s)
    AND NOT EXISTS (SELECT 1 FROM pg_constraint AS k WHERE k.conindid = i.indexrelid)
ORDER BY c.relname
"""


def fill(rows: int, *, chunk: int) -> dict:
    """Fill the (empty, migrated) current database; returns the summary kept in its marker."""
    scale_db.write_marker(None)  # an interrupted fill leaves no marker, so --keep refills
    started_at, started = datetime.now(UTC), time.monotonic()
    indexes = _drop_secondary_indexes()
    _insert_chunks(rows, chunk=chunk, started_at=started_at)
    _build_indexes(indexes)
    say("fill: VACUUM ANALYZE")
    harness.execute(f"VACUUM ANALYZE {', '.join(TABLES)}")
    summary = {
        "rows": rows,
        "filled_at": started_at.isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - started, 1),
        "size_bytes": scale_db.size_bytes(),
        "counts": scale_db.counts_by_status(),
        "kept_counts": scale_db.kept_counts(),
    }
    summary["counts_match"] = summary["counts"] == summary["kept_counts"]
    scale_db.write_marker(summary)
    return summary


def _insert_chunks(rows: int, *, chunk: int, started_at: datetime) -> None:
    start, step = started_at - SPAN, (SPAN - GAP) / max(rows, 1)
    began, low = time.monotonic(), 1
    while low <= rows:
        high = min(rows, low + chunk - 1)
        params = {"start": start, "step": step, "low": low, "high": high}
        harness.execute(CHUNK_SQL, params)
        elapsed = time.monotonic() - began
        left = elapsed / high * (rows - high)
        done = f"{high:,} / {rows:,} rows ({high / rows:.0%})"
        say(f"fill: {done}, {elapsed:.0f} s, {left:.0f} s left")
        low = high + 1


def _drop_secondary_indexes() -> list[tuple[str, str]]:
    found = [(name, sql) for name, sql in harness.execute(SECONDARY_INDEXES_SQL, (list(TABLES),))]
    for name, _ in found:
        harness.execute(f'DROP INDEX "{name}"')
    return found


def _build_indexes(indexes: list[tuple[str, str]]) -> None:
    harness.execute("SET maintenance_work_mem = '512MB'")
    try:
        for name, sql in indexes:
            began = time.monotonic()
            harness.execute(sql)
            say(f"fill: index {name} built in {time.monotonic() - began:.1f} s")
    finally:
        harness.execute("RESET maintenance_work_mem")
