"""Operator action on one message: requeue it when FAILED, cancel it when PENDING."""

from __future__ import annotations

from core_domain.errors import InvalidTransitionError
from core_domain.message import Message, MessageId
from core_domain.operator_changes import OperatorAction, Selection
from core_domain.ports import MessageRepository


class ChangeMessage:
    """Apply `action` to one message. Raises MessageNotFoundError, or InvalidTransitionError
    when the action does not apply to its status (also when another process changed it)."""

    def __init__(self, *, repository: MessageRepository, action: OperatorAction) -> None:
        self._repository = repository
        self._action = action

    def execute(self, *, message_id: MessageId) -> Message:
        self._repository.get(message_id)  # MessageNotFoundError
        batch = self._repository.change_batch(
            action=self._action, selection=Selection(ids=(message_id,)), dry_run=False,
            after=None, limit=1,
        )  # fmt: skip
        if not batch.changed:
            now = self._repository.get(message_id).status
            raise InvalidTransitionError(
                f"Only {self._action.applies_to.value} messages can be {self._action.done}; "
                f"message {message_id} is {now}"
            )
        return self._repository.get(message_id)
