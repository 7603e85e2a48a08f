"""What an operator may do to messages in bulk or one at a time: requeue FAILED ones, cancel
PENDING ones (SPEC §5, §10)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core_domain.message import MessageId, Status
from core_domain.values import PageCursor

MAX_IDS = 1000


class OperatorAction(StrEnum):
    """REQUEUE: a FAILED message becomes PENDING, due now, retryCount 0, lastError cleared,
    its attempts kept. CANCEL: a PENDING message becomes FAILED, "Cancelled by an operator"."""

    REQUEUE = "requeue"
    CANCEL = "cancel"

    @property
    def applies_to(self) -> Status:
        return Status.FAILED if self is OperatorAction.REQUEUE else Status.PENDING

    @property
    def results_in(self) -> Status:
        return Status.PENDING if self is OperatorAction.REQUEUE else Status.FAILED

    @property
    def done(self) -> str:
        return "requeued" if self is OperatorAction.REQUEUE else "cancelled"


@dataclass(frozen=True, slots=True)
class Selection:
    """Which messages an action looks at (all given conditions hold), besides their status."""

    phone_number: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    last_error_contains: str | None = None
    ids: tuple[MessageId, ...] | None = None


@dataclass(slots=True)
class ChangeReport:
    """`matched`: messages the action applied to when looked at; `changed`: how many it
    changed (fewer when another process changed some first; none on a dry run)."""

    matched: int = 0
    changed: int = 0


@dataclass(frozen=True, slots=True)
class BatchChange:
    """One batch of an action: matched, changed, and where the next batch starts (None: done)."""

    matched: int
    changed: int
    next: PageCursor | None
