"""Look up one message."""

from __future__ import annotations

from core_domain.message import Message, MessageId
from core_domain.ports import MessageRepository


class GetMessage:
    """Return the message with `message_id`; raises MessageNotFoundError."""

    def __init__(self, *, repository: MessageRepository) -> None:
        self._repository = repository

    def execute(self, *, message_id: MessageId) -> Message:
        return self._repository.get(message_id)
