"""List messages, newest first, with filters, and limit/offset or keyset (`before`) paging."""

from __future__ import annotations

from core_domain.errors import DomainValidationError
from core_domain.message import Status
from core_domain.ports import MessageFilter, MessageRepository, Page
from core_domain.values import PageCursor, PhoneNumber

MAX_LIMIT = 100
DEFAULT_LIMIT = 20


class ListMessages:
    """A page of messages and the total number matching the filters.

    `status` is case-insensitive; `phone_number` is normalised like a stored number.
    Raises DomainValidationError for a limit outside 1..100, a negative offset or an
    unknown status.
    """

    def __init__(self, *, repository: MessageRepository) -> None:
        self._repository = repository

    def execute(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
        status: str | None = None,
        phone_number: str | None = None,
        before: str | None = None,
    ) -> Page:
        if not 1 <= limit <= MAX_LIMIT:
            raise DomainValidationError(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
        if offset < 0:
            raise DomainValidationError("offset must be 0 or more", field="offset")
        cursor = PageCursor.parse(before) if before else None  # offset then counts from it
        filters = MessageFilter(
            status=_status(status),
            phone_number=PhoneNumber.parse(phone_number).value if phone_number else None,
        )
        return self._repository.list(filters=filters, limit=limit, offset=offset, before=cursor)


def _status(raw: str | None) -> Status | None:
    if raw is None or raw == "":
        return None
    try:
        return Status(raw.strip().upper())
    except ValueError:
        allowed = ", ".join(s.value for s in Status)
        raise DomainValidationError(f"status must be one of {allowed}", field="status") from None
