"""The Message entity, its status and the transitions between statuses."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from core_domain.errors import InvalidTransitionError

MessageId = uuid.UUID
EXPIRED_ERROR = "expired before delivery"  # lastError of a message never sent by its expiresAt
CANCELLED_ERROR = "Cancelled by an operator"


class Status(StrEnum):
    PENDING = "PENDING"
    SENDING = "SENDING"
    SENT = "SENT"
    FAILED = "FAILED"


_NEXT: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.SENDING, Status.FAILED}),  # PENDING → FAILED: operator cancel
    # SENDING → SENDING: another worker re-claims a message whose lease ran out.
    Status.SENDING: frozenset({Status.SENDING, Status.SENT, Status.PENDING, Status.FAILED}),
    Status.FAILED: frozenset({Status.PENDING}),  # FAILED → PENDING: requeue
    Status.SENT: frozenset(),
}


def can_transition(current: Status, target: Status) -> bool:
    """Whether the status table allows `current` → `target`."""
    return target in _NEXT[current]


@dataclass(frozen=True, slots=True)
class Message:
    """A short message and its delivery state. Methods return changed copies.

    `claim_token` identifies the claim that holds a SENDING message: every write of that
    claim's result is fenced by it. `send_at` and `expires_at` are the client's schedule.
    """

    id: MessageId
    phone_number: str
    content: str
    status: Status
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime
    retry_count: int = 0
    attempt_count: int = 0
    external_id: str | None = None
    last_error: str | None = None
    locked_by: str | None = None
    lease_expires_at: datetime | None = None
    sent_at: datetime | None = None
    claim_token: int | None = None
    send_at: datetime | None = None
    expires_at: datetime | None = None

    @classmethod
    def new(
        cls,
        *,
        phone_number: str,
        content: str,
        now: datetime,
        send_at: datetime | None = None,
        expires_at: datetime | None = None,
    ) -> Message:
        """PENDING, due at `send_at` when that is later than `now`, else at once."""
        return cls(
            id=uuid.uuid4(),
            phone_number=phone_number,
            content=content,
            status=Status.PENDING,
            created_at=now,
            updated_at=now,
            next_attempt_at=max(now, send_at) if send_at else now,
            send_at=send_at,
            expires_at=expires_at,
        )

    @property
    def is_final(self) -> bool:
        """SENT and FAILED messages are never attempted again (unless requeued)."""
        return self.status in (Status.SENT, Status.FAILED)

    @property
    def next_attempt(self) -> datetime | None:
        """When the next attempt is due; None once the message is final."""
        return None if self.is_final else self.next_attempt_at

    def _to(self, target: Status, *, at: datetime, **changes: object) -> Message:
        if not can_transition(self.status, target):
            raise InvalidTransitionError(
                f"Message {self.id} is {self.status}; it cannot become {target}"
            )
        return dataclasses.replace(self, status=target, updated_at=at, **changes)

    def claimed(self, *, worker_id: str, token: int, at: datetime, lease: timedelta) -> Message:
        """Leased to `worker_id` under claim `token`; once the lease runs out it is due again."""
        expires = at + lease
        return self._to(
            Status.SENDING,
            at=at,
            locked_by=worker_id,
            claim_token=token,
            lease_expires_at=expires,
            next_attempt_at=expires,
        )

    def released(self, *, at: datetime) -> Message:
        """Handed back unsent by a stopping worker: due now, nothing counted."""
        return self._to(Status.PENDING, at=at, next_attempt_at=at, lease_expires_at=None)
