"""In-memory fakes of the core_domain ports and small builders, for fast unit tests."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from core_domain.delivery import DeliveryAttempt, DeliveryOutcome
from core_domain.errors import MessageNotFoundError, ReceiptCacheError
from core_domain.message import Message, MessageId, Status
from core_domain.ports import Finalization, MessageFilter, Page, StoredIdempotentMessage

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def a_message(**overrides: object) -> Message:
    """A PENDING message, due at T0, with sensible defaults."""
    base = Message.new(phone_number="+905551234567", content="Hello", now=T0)
    return dataclasses.replace(base, **overrides)


class FixedClock:
    def __init__(self, now: datetime = T0) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, span: timedelta) -> None:
        self.current += span


class InMemoryMessageRepository:
    """Keeps messages in a dict; the lock stands in for PostgreSQL's row locks."""

    def __init__(self, *messages: Message) -> None:
        self.messages: dict[MessageId, Message] = {m.id: m for m in messages}
        self.attempt_log: list[DeliveryAttempt] = []
        self.keys: dict[str, tuple[MessageId, str]] = {}
        self._lock = threading.Lock()

    def add(self, messages: Sequence[Message]) -> None:
        with self._lock:
            self.messages.update({m.id: m for m in messages})

    def add_idempotent(
        self, message: Message, *, key: str, fingerprint: str
    ) -> StoredIdempotentMessage:
        with self._lock:
            if key in self.keys:
                message_id, stored_fingerprint = self.keys[key]
                return StoredIdempotentMessage(
                    message=self.messages[message_id], fingerprint=stored_fingerprint, is_new=False
                )
            self.messages[message.id] = message
            self.keys[key] = (message.id, fingerprint)
            return StoredIdempotentMessage(message=message, fingerprint=fingerprint, is_new=True)

    def get(self, message_id: MessageId) -> Message:
        try:
            return self.messages[message_id]
        except KeyError:
            raise MessageNotFoundError(message_id) from None

    def list(self, *, filters: MessageFilter, limit: int, offset: int) -> Page:
        matches = [
            m
            for m in self.messages.values()
            if (filters.status is None or m.status is filters.status)
            and (filters.phone_number is None or m.phone_number == filters.phone_number)
        ]
        matches.sort(key=lambda m: (m.created_at, m.id), reverse=True)
        return Page(items=matches[offset : offset + limit], total=len(matches))

    def replace(self, message: Message, *, expected_status: Status) -> bool:
        with self._lock:
            if self.get(message.id).status is not expected_status:
                return False
            self.messages[message.id] = message
            return True

    def attempts(self, message_id: MessageId) -> list[DeliveryAttempt]:
        self.get(message_id)
        found = [a for a in self.attempt_log if a.message_id == message_id]
        return sorted(found, key=lambda a: a.attempt_number)

    def claim_batch(
        self, *, worker_id: str, limit: int, now: datetime, lease: timedelta
    ) -> list[Message]:
        with self._lock:
            due = sorted(
                (
                    m
                    for m in self.messages.values()
                    if m.status in (Status.PENDING, Status.SENDING) and m.next_attempt_at <= now
                ),
                key=lambda m: m.next_attempt_at,
            )[:limit]
            claimed = [m.claimed(worker_id=worker_id, at=now, lease=lease) for m in due]
            self.messages.update({m.id: m for m in claimed})
        return sorted(claimed, key=lambda m: (m.created_at, str(m.id)))

    def finalize(self, results: Sequence[Finalization]) -> set[MessageId]:
        written: set[MessageId] = set()
        with self._lock:
            for result in results:
                stored = self.messages[result.message.id]
                if stored.status is Status.SENDING and stored.locked_by == result.message.locked_by:
                    self.messages[stored.id] = dataclasses.replace(
                        result.message, lease_expires_at=None
                    )
                    self.attempt_log.append(result.attempt)
                    written.add(stored.id)
        return written

    def release(self, messages: Sequence[Message], *, now: datetime) -> int:
        released = 0
        with self._lock:
            for message in messages:
                stored = self.messages[message.id]
                if stored.status is Status.SENDING and stored.locked_by == message.locked_by:
                    self.messages[stored.id] = stored.released(at=now)
                    released += 1
        return released

    def count_by_status(self) -> dict[Status, int]:
        counts = {s: 0 for s in Status}
        for message in self.messages.values():
            counts[message.status] += 1
        return counts

    def count_finished_since(self, since: datetime) -> tuple[int, int]:
        sent = sum(
            1
            for m in self.messages.values()
            if m.status is Status.SENT and m.sent_at is not None and m.sent_at >= since
        )
        failed = sum(
            1 for m in self.messages.values() if m.status is Status.FAILED and m.updated_at >= since
        )
        return sent, failed


class ScriptedWebhookSender:
    """Answers each send with the next outcome of a per-phone or shared script."""

    def __init__(self, *outcomes: DeliveryOutcome) -> None:
        self.script = list(outcomes)
        self.sent: list[Message] = []
        self._lock = threading.Lock()

    def send(self, message: Message) -> DeliveryOutcome:
        with self._lock:
            self.sent.append(message)
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]


class RecordingReceiptCache:
    def __init__(self, *, is_down: bool = False) -> None:
        self.receipts: dict[MessageId, datetime] = {}
        self.is_down = is_down

    def put_many(self, receipts: Mapping[MessageId, datetime]) -> None:
        if self.is_down:
            raise ReceiptCacheError("cache is down")
        self.receipts.update(receipts)
