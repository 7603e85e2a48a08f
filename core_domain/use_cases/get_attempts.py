"""Look up a message's delivery attempts."""

from __future__ import annotations

from core_domain.delivery import DeliveryAttempt
from core_domain.message import MessageId
from core_domain.ports import MessageRepository


class GetAttempts:
    """Return a message's delivery attempts, oldest first; raises MessageNotFoundError."""

    def __init__(self, *, repository: MessageRepository) -> None:
        self._repository = repository

    def execute(self, *, message_id: MessageId) -> list[DeliveryAttempt]:
        return self._repository.attempts(message_id)
