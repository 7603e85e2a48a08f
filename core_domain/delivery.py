"""What one webhook call produced, what the worker writes after it, and the attempts kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from core_domain.message import MessageId, Status


@dataclass(frozen=True, slots=True)
class CallResult:
    """The facts of one webhook call, as the receiver left them; the retry policy turns them
    into an AttemptOutcome (the decision: delivered, retry scheduled or failed).

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
    """What was decided about one attempt, as stored and shown; never the raw call."""

    DELIVERED = "delivered"
    RETRY_SCHEDULED = "retry_scheduled"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One recorded webhook call for a message, as stored."""

    message_id: MessageId
    attempt_number: int
    started_at: datetime
    duration_ms: int
    status_code: int | None
    outcome: AttemptOutcome
    error: str | None
    response_excerpt: str


@dataclass(frozen=True, slots=True)
class Finalization:
    """What a worker writes after one attempt, fenced by the token of the claim it holds.

    It carries delays, not times: the repository writes them on the database's clock, so
    a worker whose own clock is wrong writes the same rows as any other. The retry is due
    `retry_in` after the write; the call started `started_ago` before it.
    """

    message_id: MessageId
    claim_token: int
    status: Status
    retry_count: int
    attempt_count: int
    external_id: str | None
    last_error: str | None
    retry_in: timedelta | None
    outcome: AttemptOutcome
    started_ago: timedelta
    duration_ms: int
    status_code: int | None
    error: str | None
    response_excerpt: str
