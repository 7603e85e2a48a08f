"""Create many messages at once, all or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core_domain.errors import BatchValidationError, DomainValidationError
from core_domain.message import Message
from core_domain.ports import Clock, MessageRepository
from core_domain.values import DEFAULT_CONTENT_MAX_LENGTH, parse_message_fields

DEFAULT_MAX_BATCH = 1000


@dataclass(frozen=True, slots=True)
class NewMessage:
    phone_number: str
    content: str


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
                phone, text = parse_message_fields(
                    phone_number=item.phone_number,
                    content=item.content,
                    content_max_length=self._content_max_length,
                )
            except DomainValidationError as exc:
                errors[index] = exc.errors
                continue
            messages.append(Message.new(phone_number=phone.value, content=text.value, now=now))
        if errors:
            raise BatchValidationError(errors)
        self._repository.add(messages)
        return messages
