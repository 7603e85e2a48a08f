"""One translation of a lost or refused PostgreSQL connection into the domain's error."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection

from core_domain.errors import StorageUnavailableError

T = TypeVar("T")


def unavailable_as_domain_error(step: Callable[[], T]) -> T:
    """Run `step`; a connection failure becomes StorageUnavailableError, and the broken
    connection is dropped (outside a transaction) so the next step connects afresh."""
    try:
        return step()
    except (OperationalError, InterfaceError) as exc:
        if not connection.in_atomic_block:
            connection.close()
        raise StorageUnavailableError(f"PostgreSQL is unavailable ({type(exc).__name__})") from exc
