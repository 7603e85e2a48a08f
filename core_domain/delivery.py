"""What one webhook call produced, and the record kept of each attempt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from core_domain.message import MessageId


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """The facts of one webhook call; the retry policy decides what they mean.

    `status_code` is None when no HTTP response arrived; `error` then says why
    (timeout, refused connection, TLS failure...).
    """

    duration: timedelta
    status_code: int | None = None
    error: str | None = None
    external_id: str | None = None
    retry_after: timedelta | None = None
    response_excerpt: str = ""

    @property
    def is_success(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class AttemptOutcome(StrEnum):
    DELIVERED = "delivered"
    RETRY_SCHEDULED = "retry_scheduled"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One recorded webhook call for a message."""

    message_id: MessageId
    attempt_number: int
    started_at: datetime
    duration_ms: int
    status_code: int | None
    outcome: AttemptOutcome
    error: str | None
    response_excerpt: str
