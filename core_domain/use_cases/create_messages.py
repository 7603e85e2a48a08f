"""Create many messages at once, all or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from core_domain.errors import BatchValidationError, DomainValidationError
from core_domain.message import Message
from core_domain.ports import Clock, MessageRepository
from core_domain.values import DEFAULT_CONTENT_MAX_LENGTH, parse_message_fields

DEFAULT_MAX_BATCH = 1000


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message as a client asks for it, before its rules are checked."""

    phone_number: str
    content: str
    send_at: datetime | None = None
    expires_at: datetime | None = None

    def checked(self, *, now: datetime, content_max_length: int) -> Message:
        """The PENDING message; raises DomainValidationError naming every wrong field."""
        phone, text, schedule = parse_message_fields(
            phone_number=self.phone_number, content=self.content,
            content_max_length=content_max_length, send_at=self.send_at,
            expires_at=self.expires_at, now=now,
        )  # fmt: skip
        return Message.new(
            phone_number=phone.value, content=text.value, now=now,
            send_at=schedule.send_at, expires_at=schedule.expires_at,
        )  # fmt: skip


class CreateMessages:
    """Validate every item first; store all of them in one step, or none.

    Raises BatchValidationError listing each invalid item by index, or
    DomainValidationError when the batch is empty or too large.
    """

    def __init__(
        self,
        *,
        repository: MessageRepository,
        clock: Clock,
        content_max_length: int = DEFAULT_CONTENT_MAX_LENGTH,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        self._repository = repository
        self._clock = clock
        self._content_max_length = content_max_length
        self._max_batch = max_batch

    def execute(self, *, items: Sequence[NewMessage]) -> list[Message]:
        if not 1 <= len(items) <= self._max_batch:
            raise DomainValidationError(
                f"A bulk request holds 1 to {self._max_batch} messages (got {len(items)})",
                field="items",
            )
        now = self._clock.now()
        messages: list[Message] = []
        errors: dict[int, dict[str, list[str]]] = {}
        for index, item in enumerate(items):
            try:
                messages.append(item.checked(now=now, content_max_length=self._content_max_length))
            except DomainValidationError as exc:
                errors[index] = exc.errors
        if errors:
            raise BatchValidationError(errors)
        self._repository.add(messages)
        return messages
