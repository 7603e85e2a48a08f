"""Operator actions on one message: requeue a FAILED one, cancel a PENDING one."""

from __future__ import annotations

from core_domain.errors import InvalidTransitionError
from core_domain.message import Message, MessageId, Status
from core_domain.ports import Clock, MessageRepository


class RequeueMessage:
    """Make a FAILED message PENDING and due now, with retryCount reset to 0.

    Raises MessageNotFoundError, or InvalidTransitionError when the message is not
    FAILED (also when another process changed it in the meantime).
    """

    def __init__(self, *, repository: MessageRepository, clock: Clock) -> None:
        self._repository = repository
        self._clock = clock

    def execute(self, *, message_id: MessageId) -> Message:
        current = self._repository.get(message_id)
        requeued = current.requeued(at=self._clock.now())
        return _replaced(self._repository, requeued, expected=Status.FAILED)


class CancelMessage:
    """Mark a PENDING message FAILED so no dispatcher sends it.

    Raises MessageNotFoundError, or InvalidTransitionError when it is not PENDING.
    """

    def __init__(self, *, repository: MessageRepository, clock: Clock) -> None:
        self._repository = repository
        self._clock = clock

    def execute(self, *, message_id: MessageId) -> Message:
        current = self._repository.get(message_id)
        cancelled = current.cancelled(at=self._clock.now())
        return _replaced(self._repository, cancelled, expected=Status.PENDING)


def _replaced(repository: MessageRepository, message: Message, *, expected: Status) -> Message:
    if not repository.replace(message, expected_status=expected):
        raise InvalidTransitionError(
            f"Message {message.id} changed while this request ran; it is no longer {expected}"
        )
    return message
