"""Bounded polling of the stored state, shared by the tests that wait for a retry to fall due."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from adapters.django_repository import DjangoMessageRepository
from core_domain.message import Message


def wait_until_due(
    repository: DjangoMessageRepository, message: Message, *, timeout: float = 5.0
) -> Message:
    """Poll the stored message until its next attempt is due (bounded); return it."""
    deadline = time.monotonic() + timeout
    while True:
        stored = repository.get(message.id)
        if stored.next_attempt_at <= datetime.now(UTC):
            return stored
        assert time.monotonic() < deadline, f"{message.id} not due within {timeout}s: {stored}"
        time.sleep(0.01)
