"""MessageRepository on PostgreSQL through the Django ORM; each method is one short transaction."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import psycopg
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Model, Q, QuerySet, Sum
from django.db.models.functions import Now

from adapters.database_errors import unavailable_as_domain_error
from core_domain.delivery import AttemptOutcome, DeliveryAttempt, Finalization
from core_domain.errors import MessageNotFoundError
from core_domain.message import CANCELLED_ERROR, EXPIRED_ERROR, Message, MessageId, Status
from core_domain.operator_changes import BatchChange, OperatorAction, Selection
from core_domain.outage import pause
from core_domain.ports import MessageFilter, Page, StoredIdempotentMessage
from core_domain.values import PageCursor

logger = logging.getLogger(__name__)
T = TypeVar("T")
_FIELDS = tuple(f.name for f in dataclasses.fields(Message))
_ATTEMPT_FIELDS = (
    "attempt_number",
    "started_at",
    "duration_ms",
    "status_code",
    "outcome",
    "error",
    "response_excerpt",
)


class DjangoMessageRepository:
    """Stores messages in PostgreSQL. The model classes come from the composition root."""

    def __init__(
        self,
        *,
        messages: type[Model],
        attempts: type[Model],
        idempotency_keys: type[Model],
        status_counts: type[Model],
        daily_counts: type[Model],
        send_gate: type[Model],
        reconnect_delays: Sequence[float] = (),
        prepare: bool = False,
    ) -> None:
        """`reconnect_delays`: waits (seconds) between retries of finalize and release after a
        lost connection; the dispatcher uses them so a finished delivery is not sent again.
        `prepare`: keep the dispatching statements prepared on the server (a dispatcher's own
        session; not through a transaction-mode pooler that cannot keep them)."""
        self._messages = messages
        self._attempts = attempts
        self._keys = idempotency_keys
        self._status_counts = status_counts
        self._daily_counts = daily_counts
        self._gate_table = send_gate._meta.db_table
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

    # -- creating and reading -------------------------------------------------------------

    def add(self, messages: Sequence[Message]) -> None:
        with transaction.atomic():
            self._messages.objects.bulk_create([self._row(m) for m in messages], batch_size=1000)

    def add_idempotent(
        self, message: Message, *, key: str, fingerprint: str, ttl: timedelta | None
    ) -> StoredIdempotentMessage:
        try:
            with transaction.atomic():
                if ttl is not None:  # an expired key matches nothing: this request takes it
                    self._keys.objects.filter(key=key, created_at__lt=Now() - ttl).delete()
                row = self._messages.objects.create(**_values(message))
                self._keys.objects.create(key=key, fingerprint=fingerprint, message=row)
            return StoredIdempotentMessage(message=message, fingerprint=fingerprint, is_new=True)
        except IntegrityError:
            # Another request stored this key first (we waited for its commit on the key's
            # primary key), so its row is visible now.
            stored = self._keys.objects.select_related("message").get(key=key)
            return StoredIdempotentMessage(
                message=_to_domain(stored.message), fingerprint=stored.fingerprint, is_new=False
            )

    def get(self, message_id: MessageId) -> Message:
        try:
            return _to_domain(self._messages.objects.get(pk=message_id))
        except self._messages.DoesNotExist:
            raise MessageNotFoundError(message_id) from None

    def list(
        self, *, filters: MessageFilter, limit: int, offset: int, before: PageCursor | None
    ) -> Page:
        rows = self._messages.objects.all()
        if filters.status is not None:
            rows = rows.filter(status=filters.status.value)
        if filters.phone_number is not None:
            rows = rows.filter(phone_number=filters.phone_number)
        window = rows
        if before is not None:  # keyset: what sorts after the cursor, through the same index
            window = rows.filter(
                Q(created_at__lt=before.created_at)
                | Q(created_at=before.created_at, id__lt=before.message_id)
            )
        page = [
            _to_domain(r) for r in window.order_by("-created_at", "-id")[offset : offset + limit]
        ]
        last = page[-1] if len(page) == limit else None
        return Page(
            items=page,
            total=self._total(filters, rows),
            next_cursor=PageCursor(created_at=last.created_at, message_id=last.id)
            if last
            else None,
        )

    def _total(self, filters: MessageFilter, rows: QuerySet) -> int:
        """Kept counts unless a phone number narrows the list (then its index counts it)."""
        if filters.phone_number is not None:
            return rows.count()
        counts = self.count_by_status()
        return counts[filters.status] if filters.status is not None else sum(counts.values())

    def change_batch(
        self,
        *,
        action: OperatorAction,
        selection: Selection,
        dry_run: bool,
        after: PageCursor | None,
        limit: int,
    ) -> BatchChange:
        table = self._messages._meta.db_table
        where, params = _selected(selection, after=after)
        params.update(applies_to=action.applies_to.value, limit=limit, dry=dry_run,
                      cancelled=CANCELLED_ERROR)  # fmt: skip
        # Newest first through `messages_by_status`; the rows are locked only for their own
        # short statement, and a row a claim holds is skipped (it is no longer PENDING).
        sql = f"""
            WITH batch AS (
                SELECT id, created_at FROM {table} WHERE status = %(applies_to)s {where}
                ORDER BY created_at DESC, id DESC LIMIT %(limit)s
            ), locked AS (
                SELECT id FROM {table}
                WHERE id IN (SELECT id FROM batch) AND status = %(applies_to)s
                FOR UPDATE SKIP LOCKED
            ), changed AS (
                UPDATE {table} AS m SET {_OPERATOR_WRITES[action]}, updated_at = now()
                FROM locked WHERE m.id = locked.id AND NOT %(dry)s
                RETURNING 1
            ), last AS (SELECT created_at, id FROM batch ORDER BY created_at, id LIMIT 1)
            SELECT (SELECT count(*) FROM batch), (SELECT count(*) FROM changed),
                (SELECT created_at FROM last), (SELECT id FROM last)
        """

        def write() -> BatchChange:
            with _driver_cursor() as cursor:
                cursor.execute(sql, params)
                matched, changed, created_at, last_id = cursor.fetchone()
            more = matched == limit
            cursor_next = PageCursor(created_at=created_at, message_id=last_id) if more else None
            return BatchChange(matched=matched, changed=changed, next=cursor_next)

        return unavailable_as_domain_error(write)

    def attempts(self, message_id: MessageId) -> list[DeliveryAttempt]:
        rows = list(self._attempts.objects.filter(message_id=message_id).order_by("attempt_number"))
        if not rows and not self._messages.objects.filter(pk=message_id).exists():
            raise MessageNotFoundError(message_id)
        return [
            DeliveryAttempt(
                message_id=message_id,
                **{f: getattr(r, f) for f in _ATTEMPT_FIELDS if f != "outcome"},
                outcome=AttemptOutcome(r.outcome),
            )
            for r in rows
        ]

    def count_by_status(self) -> dict[Status, int]:
        counts = {s: 0 for s in Status}
        rows = self._status_counts.objects.values("status").annotate(n=Sum("count")).order_by()
        for row in rows:
            counts[Status(row["status"])] = row["n"]
        return counts

    def count_finished_on(self, day: date | None) -> tuple[int, int]:
        days = self._daily_counts.objects.all()
        rows = (days if day is None else days.filter(day=day)).values("status")
        rows = rows.annotate(n=Sum("count"))
        finished = {row["status"]: row["n"] for row in rows.order_by()}
        return finished.get(Status.SENT.value, 0), finished.get(Status.FAILED.value, 0)

    # -- dispatching ----------------------------------------------------------------------
    # Every time here is PostgreSQL's now(): a worker's own clock never decides who holds a
    # message or when it is due. Writes of a claim's result are fenced by its claim token.
    # Each step is one statement in autocommit (atomic by itself): no BEGIN/COMMIT round trips.

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
            RETURNING {", ".join("m." + f for f in _FIELDS)}
        """
        params = {"limit": limit, "worker": worker_id, "lease": lease, "probe": is_probe}

        def claim() -> list[Message]:
            with _driver_cursor() as cursor:
                cursor.execute(sql, params, binary=True, prepare=self._prepare)
                return [_from_tuple(row) for row in cursor.fetchall()]

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
            with _driver_cursor() as cursor:
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
            with _driver_cursor() as cursor:
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
            with _driver_cursor() as cursor:
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
            with _driver_cursor() as cursor:
                cursor.execute(sql)
                wait = cursor.fetchone()[0]
            return None if wait is None else max(wait, timedelta(0))

        return unavailable_as_domain_error(read)

    def _row(self, message: Message) -> Model:
        return self._messages(**_values(message))


# What each operator action writes (core_domain.operator_changes.OperatorAction).
_OPERATOR_WRITES = {
    OperatorAction.REQUEUE: "status = 'PENDING', retry_count = 0, next_attempt_at = now(), "
    "last_error = NULL, lease_expires_at = NULL",
    OperatorAction.CANCEL: "status = 'FAILED', last_error = %(cancelled)s",
}


def _selected(selection: Selection, *, after: PageCursor | None) -> tuple[str, dict[str, Any]]:
    """The SQL conditions (each ANDed) and parameters of a selection and a keyset start."""
    conditions, params = [], {}
    for clause, name, value in (
        ("phone_number = %(phone)s", "phone", selection.phone_number),
        ("created_at > %(created_after)s", "created_after", selection.created_after),
        ("created_at < %(created_before)s", "created_before", selection.created_before),
        ("strpos(lower(last_error), lower(%(error)s)) > 0", "error", selection.last_error_contains),
        ("id = ANY(%(ids)s::uuid[])", "ids", list(selection.ids) if selection.ids else None),
    ):
        if value is not None:
            conditions.append(clause)
            params[name] = value
    if after is not None:
        conditions.append("(created_at, id) < (%(after_at)s, %(after_id)s)")
        params.update(after_at=after.created_at, after_id=after.message_id)
    return "".join(f" AND {c}" for c in conditions), params


@contextmanager
def _driver_cursor() -> Iterator[Any]:
    """psycopg's own cursor on Django's connection (inside Django's transaction).

    A plain `psycopg.Cursor`, whatever cursor class Django configured (a client-side binding
    one unless OPTIONS["server_side_binding"]): it binds parameters on the server, so a
    batch's arrays travel as typed parameters instead of being quoted into the SQL text,
    and psycopg prepares the statement once it has run a few times. Driver errors come out
    as Django's (OperationalError, IntegrityError, ...).
    """
    with connection.wrap_database_errors:
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            yield cursor


def _values(message: Message) -> dict[str, Any]:
    values = {f: getattr(message, f) for f in _FIELDS}
    values["status"] = message.status.value
    return values


def _to_domain(row: Model) -> Message:
    return _from_tuple(tuple(getattr(row, f) for f in _FIELDS))


_STATUS_AT = _FIELDS.index("status")


def _from_tuple(values: Sequence[Any]) -> Message:
    """A row whose columns are in _FIELDS order (every SELECT and RETURNING here)."""
    fields = list(values)
    fields[_STATUS_AT] = Status(fields[_STATUS_AT])
    return Message(*fields)


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
