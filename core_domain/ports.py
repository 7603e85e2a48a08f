"""The ports: what the domain needs from the outside world, as structural Protocols."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from core_domain.delivery import CallResult, DeliveryAttempt, Finalization
from core_domain.delivery_stats import MinuteStats
from core_domain.message import Message, MessageId, Status
from core_domain.operator_changes import BatchChange, OperatorAction, Selection
from core_domain.send_gate import Gate, Permit
from core_domain.values import PageCursor


@dataclass(frozen=True, slots=True)
class MessageFilter:
    status: Status | None = None
    phone_number: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """A page of messages, the number of all matches, and where the next page starts
    (None when this page is the last)."""

    items: list[Message]
    total: int
    next_cursor: PageCursor | None = None


@dataclass(frozen=True, slots=True)
class StoredIdempotentMessage:
    """The message stored under an idempotency key, with the fingerprint of its request."""

    message: Message
    fingerprint: str
    is_new: bool


@dataclass(frozen=True, slots=True)
class WorkerBeat:
    """What a dispatcher reports about itself at each heartbeat (times are the database's)."""

    id: str
    host: str
    pid: int
    is_processing: bool = False
    processed: int = 0
    succeeded: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """One dispatcher process as its heartbeat row describes it."""

    id: str
    host: str
    pid: int
    started_at: datetime
    last_heartbeat: datetime
    is_processing: bool = False
    processed: int = 0
    succeeded: int = 0
    failed: int = 0
    last_processed_at: datetime | None = None


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class MessageRepository(Protocol):
    """Where messages are stored durably. Every method is one atomic step (one transaction).

    Concurrency: any number of processes may call any method at once; the claim and
    finalize methods are what keeps two workers from delivering one message at once. The
    dispatching methods raise StorageUnavailableError while the database cannot be reached.
    """

    def add(self, messages: Sequence[Message]) -> None:
        """Store new messages, all or none."""
        ...

    def add_idempotent(
        self, message: Message, *, key: str, fingerprint: str, ttl: timedelta | None
    ) -> StoredIdempotentMessage:
        """Store `message` under `key`, or return what an earlier request stored under it
        within `ttl` (None: ever); a key older than that matches nothing and is taken over.

        Two concurrent calls with one key store exactly one message.
        """
        ...

    def get(self, message_id: MessageId) -> Message:
        """The message; raises MessageNotFoundError."""
        ...

    def list(
        self, *, filters: MessageFilter, limit: int, offset: int, before: PageCursor | None
    ) -> Page:
        """Newest first (created_at, then id, descending), `offset` rows in or after `before`,
        with the number of all matches. The number costs the same however many rows exist
        (kept counts, or an index for one phone number)."""
        ...

    def change_batch(
        self,
        *,
        action: OperatorAction,
        selection: Selection,
        dry_run: bool,
        after: PageCursor | None,
        limit: int,
    ) -> BatchChange:
        """Apply `action` to up to `limit` selected messages it applies to, newest first after
        `after`, in one short statement (rows a claim holds are skipped); times are the
        database's. With `dry_run`, count only."""
        ...

    def attempts(self, message_id: MessageId) -> list[DeliveryAttempt]:
        """The delivery attempts of a message, oldest first; raises MessageNotFoundError."""
        ...

    def claim_batch(
        self, *, worker_id: str, limit: int, lease: timedelta, is_probe: bool = False
    ) -> list[Message]:
        """Lease up to `limit` due messages to `worker_id`, oldest due first.

        Due, on the database's clock: PENDING with next_attempt_at <= now, or SENDING with an
        expired lease, and not past its expires_at. They come back SENDING, locked by
        `worker_id` until now + lease, under a new claim token. Rows locked by a concurrent
        claim are skipped, so two workers never get the same message. Nothing is claimed
        while the shared SendGate holds sending back, except a circuit's probe (`is_probe`).
        """
        ...

    def expire_overdue(self, *, limit: int) -> int:
        """Mark up to `limit` due messages past their expires_at FAILED ("expired before
        delivery", no attempt); a message whose call is in flight is left to its result."""
        ...

    def finalize(self, results: Sequence[Finalization]) -> dict[MessageId, datetime | None]:
        """Write each result and its attempt where its claim token still holds the message.

        Returns the ids written, each with its `sent_at` (None unless SENT); a result whose
        claim was superseded (lease lost, message claimed again) is dropped, attempt included.
        Safe to repeat: a second run writes nothing.
        """
        ...

    def release(self, messages: Sequence[Message]) -> int:
        """Hand back claimed-but-unsent messages as PENDING, due now, where their claim still
        holds; returns how many."""
        ...

    def next_due_in(self) -> timedelta | None:
        """How long until the earliest PENDING or leased message is due (zero if one is due
        now), on the database's clock; None when there is none."""
        ...

    def count_by_status(self) -> dict[Status, int]:
        """Messages per status, exact at every moment, at a cost that does not grow with them."""
        ...

    def count_finished_on(self, day: date | None) -> tuple[int, int]:
        """(messages that became SENT, messages that became FAILED) on `day` (UTC), or on
        every day when `day` is None (through the API or any dispatcher, pruned or not)."""
        ...


class WebhookSender(Protocol):
    def send(self, message: Message) -> CallResult:
        """Deliver one message. Never raises for a network or HTTP failure: it is in the outcome.

        Thread-safe: the pipeline's send threads share one sender.
        """
        ...

    def close(self) -> None:
        """Close pooled connections."""
        ...


class ReceiptCache(Protocol):
    def put_many(self, receipts: Mapping[MessageId, datetime]) -> None:
        """Cache `{messageId, sentAt}` for each message in one step.

        Raises ReceiptCacheError when the cache is unreachable (then none may be stored).
        """
        ...


class SchedulerControl(Protocol):
    """The cluster-wide on/off switch and the dispatchers' heartbeats, shared by all processes."""

    def is_running(self) -> bool: ...

    def set_running(self, is_running: bool) -> bool:
        """Flip the switch atomically; False (and no change) if it was already in that state."""
        ...

    def heartbeat(self, beat: WorkerBeat) -> None:
        """Insert or update the worker's row, stamped with the database's time."""
        ...

    def forget_workers(self, *, silent_for: timedelta) -> int:
        """Delete the rows of workers whose last heartbeat is older than `silent_for`."""
        ...

    def workers(self) -> list[WorkerStatus]:
        """Every known worker, oldest first."""
        ...


class SendGate(Protocol):
    """Fleet-wide permission to send (SPEC §10): the send rate, the receiver's Retry-After
    and the circuit breaker, one state shared by every process. Thread-safe. Raises
    StorageUnavailableError while the database cannot be reached."""

    def acquire(self, want: int) -> Permit:
        """How many of `want` messages may be claimed now (or the one probe)."""
        ...

    def refund(self, unused: int) -> None:
        """Permits granted but not used: fewer messages were due."""
        ...

    def record(self, outcomes: Sequence[CallResult]) -> None:
        """What these calls (in the order they ended) say about the receiver."""
        ...

    def close_circuit(self) -> bool:
        """Close the circuit by hand; False when it was closed."""
        ...

    def state(self) -> Gate: ...


class DeliveryStats(Protocol):
    """What happened lately, read from kept per-minute counts (never the attempts table)."""

    def last_minutes(self, count: int) -> list[MinuteStats]:
        """The last `count` minutes, oldest first, the current one included (empty ones too)."""
        ...

    def oldest_due_age(self) -> timedelta | None:
        """How long the oldest due PENDING message has waited; None when none is due."""
        ...


class WakeUpSignal(Protocol):
    """Tells an idle dispatcher that work may have arrived (a new, requeued or retried
    message, or the switch turned on). Missing a signal costs only the timed wake-up."""

    def wait(self, timeout: timedelta) -> bool:
        """Block up to `timeout` (zero: just look); True if a signal arrived. Never raises."""
        ...

    def close(self) -> None: ...


class RetentionStore(Protocol):
    """Removes what has outlived its retention, a bounded batch per call (one short statement,
    no long lock); never a PENDING or SENDING message. Times are the database's."""

    def delete_finished(self, *, older_than: timedelta, limit: int) -> tuple[int, int]:
        """Delete up to `limit` SENT/FAILED messages last changed before now - `older_than`,
        with their attempts and idempotency keys: (messages, attempts) removed."""
        ...

    def count_finished(self, *, older_than: timedelta) -> tuple[int, int]:
        """What delete_finished would remove in all: (messages, attempts)."""
        ...

    def delete_keys(self, *, older_than: timedelta, limit: int) -> int:
        """Delete up to `limit` idempotency keys created before now - `older_than`."""
        ...

    def count_keys(self, *, older_than: timedelta) -> int: ...

    def delete_stats(self, *, older_than: timedelta) -> int:
        """Delete the per-minute delivery counts of minutes before now - `older_than`."""
        ...

    def exclusive(self) -> AbstractContextManager[bool]:
        """Whether this process may prune now: True for one process in the fleet at a time
        (while the context lasts), False for every other."""
        ...
