"""MessageRepository on PostgreSQL through the Django ORM; each method is one short transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Model, Q, QuerySet, Sum
from django.db.models.functions import Now

from adapters.database_errors import unavailable_as_domain_error
from adapters.django_dispatch_statements import DispatchStatements
from adapters.django_message_rows import ATTEMPT_FIELDS, column_values, driver_cursor, to_domain
from core_domain.delivery import AttemptOutcome, DeliveryAttempt, Finalization
from core_domain.errors import MessageNotFoundError
from core_domain.message import CANCELLED_ERROR, Message, MessageId, Status
from core_domain.operator_changes import BatchChange, OperatorAction, Selection
from core_domain.ports import MessageFilter, Page, StoredIdempotentMessage
from core_domain.values import PageCursor


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
        self._dispatch = DispatchStatements(
            messages=messages,
            attempts=attempts,
            gate_table=send_gate._meta.db_table,
            reconnect_delays=reconnect_delays,
            prepare=prepare,
        )

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
                row = self._messages.objects.create(**column_values(message))
                self._keys.objects.create(key=key, fingerprint=fingerprint, message=row)
            return StoredIdempotentMessage(message=message, fingerprint=fingerprint, is_new=True)
        except IntegrityError:
            # Another request stored this key first (we waited for its commit on the key's
            # primary key), so its row is visible now.
            stored = self._keys.objects.select_related("message").get(key=key)
            return StoredIdempotentMessage(
                message=to_domain(stored.message), fingerprint=stored.fingerprint, is_new=False
            )

    def get(self, message_id: MessageId) -> Message:
        try:
            return to_domain(self._messages.objects.get(pk=message_id))
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
            to_domain(r) for r in window.order_by("-created_at", "-id")[offset : offset + limit]
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
            with driver_cursor() as cursor:
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
                **{f: getattr(r, f) for f in ATTEMPT_FIELDS if f != "outcome"},
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

    # -- dispatching (adapters/django_dispatch_statements.py) ------------------------------

    def claim_batch(
        self, *, worker_id: str, limit: int, lease: timedelta, is_probe: bool = False
    ) -> list[Message]:
        return self._dispatch.claim_batch(
            worker_id=worker_id, limit=limit, lease=lease, is_probe=is_probe
        )

    def finalize(self, results: Sequence[Finalization]) -> dict[MessageId, datetime | None]:
        return self._dispatch.finalize(results)

    def release(self, messages: Sequence[Message]) -> int:
        return self._dispatch.release(messages)

    def expire_overdue(self, *, limit: int) -> int:
        return self._dispatch.expire_overdue(limit=limit)

    def next_due_in(self) -> timedelta | None:
        return self._dispatch.next_due_in()

    def _row(self, message: Message) -> Model:
        return self._messages(**column_values(message))


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
