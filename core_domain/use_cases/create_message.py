"""Create one message, optionally made idempotent by a client-chosen key."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from core_domain.errors import DomainValidationError, IdempotencyConflictError
from core_domain.message import Message
from core_domain.ports import Clock, MessageRepository
from core_domain.use_cases.create_messages import NewMessage
from core_domain.values import DEFAULT_CONTENT_MAX_LENGTH

MAX_IDEMPOTENCY_KEY_LENGTH = 255
DEFAULT_KEY_TTL = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class CreatedMessage:
    message: Message
    is_new: bool


class CreateMessage:
    """Validate and store a new PENDING message, due now.

    With an idempotency key, a repeat of the same request within `key_ttl` returns the first
    message (`is_new` False) and the same key with another body raises
    IdempotencyConflictError; after `key_ttl` (None: never) the key is free again.
    Raises DomainValidationError for an invalid phone number, content or key.
    """

    def __init__(
        self,
        *,
        repository: MessageRepository,
        clock: Clock,
        content_max_length: int = DEFAULT_CONTENT_MAX_LENGTH,
        key_ttl: timedelta | None = DEFAULT_KEY_TTL,
    ) -> None:
        self._repository = repository
        self._clock = clock
        self._content_max_length = content_max_length
        self._key_ttl = key_ttl

    def execute(
        self,
        *,
        phone_number: str,
        content: str,
        send_at: datetime | None = None,
        expires_at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> CreatedMessage:
        asked = NewMessage(phone_number, content, send_at=send_at, expires_at=expires_at)
        message = asked.checked(now=self._clock.now(), content_max_length=self._content_max_length)
        if idempotency_key is None:
            self._repository.add([message])
            return CreatedMessage(message=message, is_new=True)
        key = _checked_key(idempotency_key)
        fingerprint = _fingerprint(message)
        stored = self._repository.add_idempotent(
            message, key=key, fingerprint=fingerprint, ttl=self._key_ttl
        )
        if stored.fingerprint != fingerprint:
            raise IdempotencyConflictError(
                "This Idempotency-Key was already used with a different request body"
            )
        return CreatedMessage(message=stored.message, is_new=stored.is_new)


def _fingerprint(message: Message) -> str:
    """What makes two requests "the same body": the stored fields a client chose."""
    asked = [message.phone_number, message.content]
    if message.send_at or message.expires_at:  # as before for messages without a schedule
        asked += [str(message.send_at), str(message.expires_at)]
    return hashlib.sha256("\n".join(asked).encode()).hexdigest()


def _checked_key(raw: str) -> str:
    key = raw.strip()
    if (
        not key
        or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH
        or not (key.isascii() and key.isprintable())
    ):
        raise DomainValidationError(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters",
            field="Idempotency-Key",
        )
    return key
