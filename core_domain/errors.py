"""The domain error tree; every message is written for the person who will read it."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""


class DomainValidationError(DomainError):
    """An input broke a business rule; `field` names the (first) offending input.

    `errors` maps every offending field to its messages, for requests with several fields.
    """

    def __init__(
        self, message: str, *, field: str, errors: dict[str, list[str]] | None = None
    ) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.errors = errors or {field: [message]}


class BatchValidationError(DomainError):
    """Some items of a bulk request are invalid; `errors` maps item index → field → messages."""

    def __init__(self, errors: dict[int, dict[str, list[str]]]) -> None:
        super().__init__(f"{len(errors)} message(s) in the batch are invalid; nothing was created")
        self.errors = errors


class MessageNotFoundError(DomainError):
    """No message has the requested id."""

    def __init__(self, message_id: object) -> None:
        super().__init__(f"Message {message_id} was not found")
        self.message_id = message_id


class InvalidTransitionError(DomainError):
    """The message's current status does not allow the requested change."""


class IdempotencyConflictError(DomainError):
    """An idempotency key was reused with a different request body."""


class SchedulerStateError(DomainError):
    """The scheduler is already in the requested state."""


class ReceiptCacheError(DomainError):
    """The delivery-receipt cache could not be written."""


class StorageUnavailableError(DomainError):
    """The database cannot be reached; the step did not happen and may be tried again."""
