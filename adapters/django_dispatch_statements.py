"""The dispatching statements of the Django repository: claim, finalize, release, expire."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection
from django.db.models import Model

from adapters.database_errors import unavailable_as_domain_error
from adapters.django_message_rows import FIELDS, driver_cursor, from_tuple
from core_domain.delivery import Finalization
from core_domain.message import EXPIRED_ERROR, Message, MessageId
from core_domain.outage import pause

logger = logging.getLogger(__name__)
T = TypeVar("T")


class DispatchStatements:
    """The statements that move messages through a delivery, for DjangoMessageRepository."""

    # Every time here is PostgreSQL's now(): a worker's own clock never decides who holds a
    # message or when it is due. Writes of a claim's result are fenced by its claim token.
    # Each step is one statement in autocommit (atomic by itself): no BEGIN/COMMIT round trips.

    def __init__(
        self,
        *,
        messages: type[Model],
        attempts: type[Model],
        gate_table: str,
        reconnect_delays: Sequence[float],
        prepare: bool,
    ) -> None:
        self._messages = messages
        self._attempts = attempts
        self._gate_table = gate_table
        self._reconnect_delays = tuple(reconnect_delays)
        self._prepare = prepare

    def _surviving_reconnects(self, step: Callable[[], T], *, what: str) -> T:
        """Run an idempotent write, again after each lost connection, until the delays run out."""
        for delay in self._reconnect_delays:
            try:
                return step()
            except (OperationalError, InterfaceError) as exc:
                if connection.in_atomic_block:
                    raise
                logger.warning("%s: database unavailable (%s); retry in %ss", what, exc, delay)
                connection.close()
                pause(delay)
        return unavailable_as_domain_error(step)

    def claim_batch(
        self, *, worker_id: str, limit: int, lease: timedelta, is_probe: bool = False
    ) -> list[Message]:
        table = self._messages._meta.db_table
        # The status literals match the partial index `messages_claimable`, so the planner
        # reads only claimable rows, in next_attempt_at order, however many are SENT. The
        # gate is read once (an InitPlan): while the circuit is open or the receiver asked
        # everyone to wait, nothing is claimed, whatever a dispatcher last knew. The token
        # CTE is volatile, so it runs once: one token for this claim's rows.
        sql = f"""
            WITH due AS (
                SELECT id FROM {table}
                WHERE status IN ('PENDING', 'SENDING') AND next_attempt_at <= now()
                    AND (expires_at IS NULL OR expires_at > now())
                    AND (%(probe)s OR NOT EXISTS (
                        SELECT 1 FROM {self._gate_table}
                        WHERE circuit_state <> 'closed' OR paused_until > now()))
                ORDER BY next_attempt_at
                LIMIT %(limit)s
                FOR UPDATE SKIP LOCKED
            ), token AS (SELECT nextval('messages_claim_token_seq') AS value)
            UPDATE {table} AS m
            SET status = 'SENDING', locked_by = %(worker)s, claim_token = token.value,
                lease_expires_at = now() + %(lease)s, next_attempt_at = now() + %(lease)s,
                updated_at = now()
            FROM due, token WHERE m.id = due.id
            RETURNING {", ".join("m." + f for f in FIELDS)}
        """
        params = {"limit": limit, "worker": worker_id, "lease": lease, "probe": is_probe}

        def claim() -> list[Message]:
            with driver_cursor() as cursor:
                cursor.execute(sql, params, binary=True, prepare=self._prepare)
                return [from_tuple(row) for row in cursor.fetchall()]

        claimed = unavailable_as_domain_error(claim)
        return sorted(claimed, key=lambda m: (m.created_at, str(m.id)))

    def finalize(self, results: Sequence[Finalization]) -> dict[MessageId, datetime | None]:
        if not results:
            return {}
        table = self._messages._meta.db_table
        attempts_table = self._attempts._meta.db_table
        # The batch travels as one JSON parameter: json.dumps and PostgreSQL's JSON parser are
        # C code, while binding many typed arrays costs psycopg a Python call per element.
        sql = f"""
            WITH input AS (
                SELECT * FROM json_to_recordset(%(rows)s::json) AS i(
                    id uuid, claim_token bigint, status text, external_id text,
                    retry_count int, attempt_count int, last_error text, retry_in_ms float8,
                    started_ago_ms float8, duration_ms int, status_code int, outcome text,
                    error text, response_excerpt text)
            ), written AS (
                UPDATE {table} AS m
                SET status = i.status, external_id = i.external_id, retry_count = i.retry_count,
                    attempt_count = i.attempt_count, last_error = i.last_error,
                    next_attempt_at = CASE WHEN i.status = 'PENDING'
                        THEN now() + i.retry_in_ms * interval '1 millisecond'
                        ELSE m.next_attempt_at END,
                    sent_at = CASE WHEN i.status = 'SENT' THEN now() ELSE m.sent_at END,
                    updated_at = now(), lease_expires_at = NULL
                FROM input AS i
                WHERE m.id = i.id AND m.claim_token = i.claim_token AND m.status = 'SENDING'
                RETURNING m.id, m.sent_at, m.attempt_count
            ), recorded AS (
                INSERT INTO {attempts_table} (message_id, attempt_number, started_at,
                    duration_ms, status_code, outcome, error, response_excerpt)
                SELECT i.id, w.attempt_count, now() - i.started_ago_ms * interval '1 millisecond',
                    i.duration_ms, i.status_code, i.outcome, i.error, i.response_excerpt
                FROM input AS i JOIN written AS w ON w.id = i.id
            )
            SELECT id, sent_at FROM written
        """
        params = {"rows": _finalize_rows(results)}

        def write() -> dict[MessageId, datetime | None]:
            with driver_cursor() as cursor:
                cursor.execute(sql, params, binary=True, prepare=self._prepare)
                return {row[0]: row[1] for row in cursor.fetchall()}

        # Safe to repeat: a second run finds the rows no longer SENDING and writes nothing.
        return self._surviving_reconnects(write, what="finalize")

    def release(self, messages: Sequence[Message]) -> int:
        if not messages:
            return 0
        table = self._messages._meta.db_table
        sql = f"""
            UPDATE {table} AS m
            SET status = 'PENDING', next_attempt_at = now(), lease_expires_at = NULL,
                updated_at = now()
            FROM unnest(%(ids)s::uuid[], %(tokens)s::bigint[]) AS r(id, claim_token)
            WHERE m.id = r.id AND m.claim_token = r.claim_token AND m.status = 'SENDING'
        """
        params = {"ids": [m.id for m in messages], "tokens": [m.claim_token for m in messages]}

        def write() -> int:
            with driver_cursor() as cursor:
                cursor.execute(sql, params, prepare=self._prepare)
                return cursor.rowcount

        return self._surviving_reconnects(write, what="release")

    def expire_overdue(self, *, limit: int) -> int:
        table = self._messages._meta.db_table
        # Through the partial index `messages_expiring`; a leased row is left to its call.
        sql = f"""
            UPDATE {table} SET status = 'FAILED', last_error = %(reason)s, updated_at = now(),
                lease_expires_at = NULL
            WHERE id IN (
                SELECT id FROM {table}
                WHERE status IN ('PENDING', 'SENDING') AND expires_at <= now()
                    AND next_attempt_at <= now()
                ORDER BY expires_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
        """
        params = {"reason": EXPIRED_ERROR, "limit": limit}

        def write() -> int:
            with driver_cursor() as cursor:
                cursor.execute(sql, params, prepare=self._prepare)
                return cursor.rowcount

        return unavailable_as_domain_error(write)

    def next_due_in(self) -> timedelta | None:
        table = self._messages._meta.db_table
        sql = f"""
            SELECT min(next_attempt_at) - now() FROM {table}
            WHERE status IN ('PENDING', 'SENDING')
        """

        def read() -> timedelta | None:
            with driver_cursor() as cursor:
                cursor.execute(sql)
                wait = cursor.fetchone()[0]
            return None if wait is None else max(wait, timedelta(0))

        return unavailable_as_domain_error(read)


def _finalize_rows(results: Sequence[Finalization]) -> str:
    rows = [
        {
            "id": str(r.message_id),
            "claim_token": r.claim_token,
            "status": r.status.value,
            "external_id": r.external_id,
            "retry_count": r.retry_count,
            "attempt_count": r.attempt_count,
            "last_error": r.last_error,
            "retry_in_ms": r.retry_in and r.retry_in.total_seconds() * 1000,
            "started_ago_ms": r.started_ago.total_seconds() * 1000,
            "duration_ms": r.duration_ms,
            "status_code": r.status_code,
            "outcome": r.outcome.value,
            "error": r.error,
            "response_excerpt": r.response_excerpt,
        }
        for r in results
    ]
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
