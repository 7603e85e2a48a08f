"""In-memory fakes of the core_domain ports and small builders, for fast unit tests."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

from core_domain import send_gate
from core_domain.delivery import DeliveryAttempt, DeliveryOutcome, Finalization
from core_domain.errors import MessageNotFoundError, ReceiptCacheError
from core_domain.message import CANCELLED_ERROR, EXPIRED_ERROR, Message, MessageId, Status
from core_domain.operator_changes import BatchChange, OperatorAction, Selection
from core_domain.ports import (
    MessageFilter,
    Page,
    StoredIdempotentMessage,
    WorkerBeat,
    WorkerStatus,
)
from core_domain.send_gate import CircuitPolicy, Gate, Permit, RateLimit
from core_domain.values import PageCursor

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
    """Keeps messages in a dict; the lock stands in for PostgreSQL's row locks and `clock`
    for the database's clock."""

    def __init__(
        self,
        *messages: Message,
        clock: FixedClock | None = None,
        gate: InMemorySendGate | None = None,
    ) -> None:
        self.messages: dict[MessageId, Message] = {}
        self.gate = gate  # the claim's guard: nothing claimed while the gate holds back
        self.attempt_log: list[DeliveryAttempt] = []
        self.keys: dict[str, tuple[MessageId, str, datetime]] = {}
        self.clock = clock or FixedClock()
        self.finished: Counter[tuple[date, Status]] = Counter()
        self._tokens = 0
        self._lock = threading.Lock()
        self.add(messages)

    def add(self, messages: Sequence[Message]) -> None:
        with self._lock:
            for message in messages:
                self._store(message)

    def add_idempotent(
        self, message: Message, *, key: str, fingerprint: str, ttl: timedelta | None
    ) -> StoredIdempotentMessage:
        with self._lock:
            now = self.clock.now()
            if key in self.keys:
                message_id, stored_fingerprint, stored_at = self.keys[key]
                if ttl is None or stored_at >= now - ttl:
                    return StoredIdempotentMessage(
                        message=self.messages[message_id],
                        fingerprint=stored_fingerprint,
                        is_new=False,
                    )
            self._store(message)
            self.keys[key] = (message.id, fingerprint, now)
            return StoredIdempotentMessage(message=message, fingerprint=fingerprint, is_new=True)

    def get(self, message_id: MessageId) -> Message:
        try:
            return self.messages[message_id]
        except KeyError:
            raise MessageNotFoundError(message_id) from None

    def list(
        self, *, filters: MessageFilter, limit: int, offset: int, before: PageCursor | None
    ) -> Page:
        matches = [
            m
            for m in self.messages.values()
            if (filters.status is None or m.status is filters.status)
            and (filters.phone_number is None or m.phone_number == filters.phone_number)
        ]
        matches.sort(key=lambda m: (m.created_at, m.id), reverse=True)
        window = matches
        if before is not None:
            window = [
                m for m in matches if (m.created_at, m.id) < (before.created_at, before.message_id)
            ]
        page = window[offset : offset + limit]
        last = page[-1] if len(page) == limit else None
        cursor = PageCursor(created_at=last.created_at, message_id=last.id) if last else None
        return Page(items=page, total=len(matches), next_cursor=cursor)

    def change_batch(
        self,
        *,
        action: OperatorAction,
        selection: Selection,
        dry_run: bool,
        after: PageCursor | None,
        limit: int,
    ) -> BatchChange:
        edge = (after.created_at, after.message_id) if after else None
        with self._lock:
            batch = sorted(
                (m for m in self.messages.values()
                 if m.status is action.applies_to and _selects(selection, m)
                 and (edge is None or (m.created_at, m.id) < edge)),
                key=lambda m: (m.created_at, m.id), reverse=True,
            )[:limit]  # fmt: skip
            if not dry_run:
                for message in batch:
                    self._store(_after_action(message, action, now=self.clock.now()))
        last = batch[-1] if len(batch) == limit else None
        cursor = PageCursor(created_at=last.created_at, message_id=last.id) if last else None
        return BatchChange(matched=len(batch), changed=0 if dry_run else len(batch), next=cursor)

    def attempts(self, message_id: MessageId) -> list[DeliveryAttempt]:
        self.get(message_id)
        found = [a for a in self.attempt_log if a.message_id == message_id]
        return sorted(found, key=lambda a: a.attempt_number)

    def claim_batch(
        self, *, worker_id: str, limit: int, lease: timedelta, is_probe: bool = False
    ) -> list[Message]:
        with self._lock:
            now = self.clock.now()
            if not is_probe and self.gate is not None and self.gate.holds_back(now):
                return []
            due = sorted(
                (
                    m
                    for m in self.messages.values()
                    if m.status in (Status.PENDING, Status.SENDING)
                    and m.next_attempt_at <= now
                    and (m.expires_at is None or m.expires_at > now)
                ),
                key=lambda m: m.next_attempt_at,
            )[:limit]
            self._tokens += 1
            claimed = [
                m.claimed(worker_id=worker_id, token=self._tokens, at=now, lease=lease) for m in due
            ]
            self.messages.update({m.id: m for m in claimed})
        return sorted(claimed, key=lambda m: (m.created_at, str(m.id)))

    def finalize(self, results: Sequence[Finalization]) -> dict[MessageId, datetime | None]:
        written: dict[MessageId, datetime | None] = {}
        with self._lock:
            now = self.clock.now()
            for result in results:
                stored = self.messages[result.message_id]
                if not self._holds(stored, result.claim_token):
                    continue
                updated = _finalized(stored, result, now=now)
                self._store(updated)
                self.attempt_log.append(_attempt(result, now=now))
                written[stored.id] = updated.sent_at
        return written

    def release(self, messages: Sequence[Message]) -> int:
        released = 0
        with self._lock:
            for message in messages:
                stored = self.messages[message.id]
                if self._holds(stored, message.claim_token):
                    self.messages[stored.id] = stored.released(at=self.clock.now())
                    released += 1
        return released

    def expire_overdue(self, *, limit: int) -> int:
        with self._lock:
            now = self.clock.now()
            overdue = sorted(
                (m for m in self.messages.values()
                 if m.status in (Status.PENDING, Status.SENDING) and m.expires_at is not None
                 and m.expires_at <= now and m.next_attempt_at <= now),
                key=lambda m: m.expires_at,
            )[:limit]  # fmt: skip
            for message in overdue:
                self._store(dataclasses.replace(
                    message, status=Status.FAILED, last_error=EXPIRED_ERROR, updated_at=now,
                    lease_expires_at=None,
                ))  # fmt: skip
        return len(overdue)

    def next_due_in(self) -> timedelta | None:
        due = [
            m.next_attempt_at
            for m in self.messages.values()
            if m.status in (Status.PENDING, Status.SENDING)
        ]
        return max(timedelta(0), min(due) - self.clock.now()) if due else None

    @staticmethod
    def _holds(stored: Message, token: int | None) -> bool:
        return stored.status is Status.SENDING and stored.claim_token == token

    def count_by_status(self) -> dict[Status, int]:
        counts = {s: 0 for s in Status}
        for message in self.messages.values():
            counts[message.status] += 1
        return counts

    def count_finished_on(self, day: date | None) -> tuple[int, int]:
        def finished(status: Status) -> int:
            return sum(n for (on, s), n in self.finished.items()
                       if s is status and day in (None, on))  # fmt: skip

        return finished(Status.SENT), finished(Status.FAILED)

    def _store(self, message: Message) -> None:
        """Keep `message`, counting it when it becomes SENT or FAILED (on the clock's day)."""
        before = self.messages.get(message.id)
        if message.is_final and (before is None or before.status is not message.status):
            self.finished[(self.clock.now().astimezone(UTC).date(), message.status)] += 1
        self.messages[message.id] = message


class ScriptedWebhookSender:
    """Answers each send with the next outcome of its script (the last one repeats)."""

    def __init__(self, *outcomes: DeliveryOutcome) -> None:
        self.script = list(outcomes)
        self.sent: list[Message] = []
        self._lock = threading.Lock()

    def send(self, message: Message) -> DeliveryOutcome:
        with self._lock:
            self.sent.append(message)
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def close(self) -> None:
        pass  # nothing held open


class RecordingReceiptCache:
    def __init__(self, *, is_down: bool = False) -> None:
        self.receipts: dict[MessageId, datetime] = {}
        self.is_down = is_down

    def put_many(self, receipts: Mapping[MessageId, datetime]) -> None:
        if self.is_down:
            raise ReceiptCacheError("cache is down")
        self.receipts.update(receipts)


class InMemorySchedulerControl:
    """The shared switch and the heartbeat rows, stamped by `clock` (the database's)."""

    def __init__(self, *, is_running: bool = True, clock: FixedClock | None = None) -> None:
        self.running = is_running
        self.clock = clock or FixedClock()
        self.rows: dict[str, WorkerStatus] = {}

    def is_running(self) -> bool:
        return self.running

    def set_running(self, is_running: bool) -> bool:
        changed, self.running = self.running != is_running, is_running
        return changed

    def heartbeat(self, beat: WorkerBeat) -> None:
        now = self.clock.now()
        before = self.rows.get(beat.id)
        processed_at = before.last_processed_at if before else None
        if beat.processed > (before.processed if before else 0):
            processed_at = now
        self.rows[beat.id] = WorkerStatus(
            id=beat.id,
            host=beat.host,
            pid=beat.pid,
            started_at=before.started_at if before else now,
            last_heartbeat=now,
            is_processing=beat.is_processing,
            processed=beat.processed,
            succeeded=beat.succeeded,
            failed=beat.failed,
            last_processed_at=processed_at,
        )

    def forget_workers(self, *, silent_for: timedelta) -> int:
        cutoff = self.clock.now() - silent_for
        silent = [w.id for w in self.rows.values() if w.last_heartbeat < cutoff]
        for worker_id in silent:
            del self.rows[worker_id]
        return len(silent)

    def workers(self) -> list[WorkerStatus]:
        return sorted(self.rows.values(), key=lambda w: w.started_at)


class ManualWakeUps:
    """A WakeUpSignal that tests fire by hand; `waits` records each timeout asked for."""

    def __init__(self) -> None:
        self.waits: list[timedelta] = []
        self._event = threading.Event()

    def fire(self) -> None:
        self._event.set()

    def wait(self, timeout: timedelta) -> bool:
        self.waits.append(timeout)
        signalled = self._event.wait(timeout.total_seconds())
        self._event.clear()
        return signalled

    def close(self) -> None:
        self._event.set()


def _selects(selection: Selection, message: Message) -> bool:
    error = (message.last_error or "").lower()
    return all((
        selection.phone_number in (None, message.phone_number),
        selection.created_after is None or message.created_at > selection.created_after,
        selection.created_before is None or message.created_at < selection.created_before,
        selection.last_error_contains is None or selection.last_error_contains.lower() in error,
        selection.ids is None or message.id in selection.ids,
    ))  # fmt: skip


def _after_action(message: Message, action: OperatorAction, *, now: datetime) -> Message:
    if action is OperatorAction.REQUEUE:
        return dataclasses.replace(
            message, status=Status.PENDING, retry_count=0, next_attempt_at=now,
            last_error=None, lease_expires_at=None, updated_at=now,
        )  # fmt: skip
    return dataclasses.replace(
        message, status=Status.FAILED, last_error=CANCELLED_ERROR, updated_at=now
    )


def _finalized(stored: Message, result: Finalization, *, now: datetime) -> Message:
    retry_at = now + result.retry_in if result.retry_in is not None else stored.next_attempt_at
    return dataclasses.replace(
        stored,
        status=result.status,
        external_id=result.external_id,
        retry_count=result.retry_count,
        attempt_count=result.attempt_count,
        last_error=result.last_error,
        next_attempt_at=retry_at,
        sent_at=now if result.status is Status.SENT else stored.sent_at,
        updated_at=now,
        lease_expires_at=None,
    )


def _attempt(result: Finalization, *, now: datetime) -> DeliveryAttempt:
    return DeliveryAttempt(
        message_id=result.message_id,
        attempt_number=result.attempt_count,
        started_at=now - result.started_ago,
        duration_ms=result.duration_ms,
        status_code=result.status_code,
        outcome=result.outcome,
        error=result.error,
        response_excerpt=result.response_excerpt,
    )


class InMemoryRetentionStore:
    """Retention over an InMemoryMessageRepository, on its clock; `is_held` stands in for
    another process holding the pruning lock."""

    def __init__(self, repository: InMemoryMessageRepository, *, is_held: bool = False) -> None:
        self.repository = repository
        self.is_held = is_held

    def _finished(self, older_than: timedelta) -> list[Message]:
        cutoff = self.repository.clock.now() - older_than
        found = [m for m in self.repository.messages.values()
                 if m.is_final and m.updated_at < cutoff]  # fmt: skip
        return sorted(found, key=lambda m: m.updated_at)

    def _attempts_of(self, ids: set[MessageId]) -> list[DeliveryAttempt]:
        return [a for a in self.repository.attempt_log if a.message_id in ids]

    def delete_finished(self, *, older_than: timedelta, limit: int) -> tuple[int, int]:
        doomed = {m.id for m in self._finished(older_than)[:limit]}
        attempts = self._attempts_of(doomed)
        self.repository.attempt_log = [a for a in self.repository.attempt_log if a not in attempts]
        for message_id in doomed:
            del self.repository.messages[message_id]
        self.repository.keys = {k: v for k, v in self.repository.keys.items()
                                if v[0] not in doomed}  # fmt: skip
        return len(doomed), len(attempts)

    def count_finished(self, *, older_than: timedelta) -> tuple[int, int]:
        doomed = {m.id for m in self._finished(older_than)}
        return len(doomed), len(self._attempts_of(doomed))

    def _old_keys(self, older_than: timedelta) -> list[str]:
        cutoff = self.repository.clock.now() - older_than
        return [key for key, (_, _, at) in self.repository.keys.items() if at < cutoff]

    def delete_keys(self, *, older_than: timedelta, limit: int) -> int:
        doomed = self._old_keys(older_than)[:limit]
        for key in doomed:
            del self.repository.keys[key]
        return len(doomed)

    def count_keys(self, *, older_than: timedelta) -> int:
        return len(self._old_keys(older_than))

    def delete_stats(self, *, older_than: timedelta) -> int:
        return 0  # the fake keeps no per-minute counts

    @contextmanager
    def exclusive(self) -> Iterator[bool]:
        yield not self.is_held


class InMemorySendGate:
    """The fleet's SendGate in memory, by the rules of core_domain.send_gate, on `clock`."""

    def __init__(
        self,
        *,
        clock: FixedClock,
        rate: RateLimit | None = None,
        policy: CircuitPolicy = CircuitPolicy(),  # noqa: B008 - frozen, shared safely
        probe_timeout: timedelta = timedelta(seconds=65),
    ) -> None:
        self.clock = clock
        self.rate = rate
        self.policy = policy
        self.probe_timeout = probe_timeout
        self.gate = Gate(tokens=1.0, refilled_at=clock.now())
        self._lock = threading.Lock()

    def holds_back(self, now: datetime) -> bool:
        gate = self.gate
        paused = gate.paused_until is not None and now < gate.paused_until
        return paused or gate.state is not send_gate.CircuitState.CLOSED

    def acquire(self, want: int) -> Permit:
        with self._lock:
            self.gate, permit = send_gate.acquire(
                self.gate, want=want, now=self.clock.now(), rate=self.rate,
                probe_timeout=self.probe_timeout,
            )  # fmt: skip
            return permit

    def refund(self, unused: int) -> None:
        with self._lock:
            self.gate = send_gate.refund(self.gate, unused=unused, rate=self.rate)

    def record(self, outcomes: Sequence[DeliveryOutcome]) -> None:
        with self._lock:
            pauses = [p for p in map(send_gate.throttled_for, outcomes) if p is not None]
            self.gate = send_gate.record(
                self.gate, verdicts=[send_gate.Verdict.of(o) for o in outcomes],
                pause=max(pauses, default=None), now=self.clock.now(), policy=self.policy,
            )  # fmt: skip

    def close_circuit(self) -> bool:
        with self._lock:
            if self.gate.state is send_gate.CircuitState.CLOSED:
                return False
            self.gate = send_gate.close(self.gate, now=self.clock.now())
            return True

    def state(self) -> Gate:
        return self.gate
