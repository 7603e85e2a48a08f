"""Rows of the messages table as domain Messages, and psycopg's cursor on Django's connection."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection
from django.db.models import Model

from core_domain.message import Message, Status

FIELDS = tuple(f.name for f in dataclasses.fields(Message))  # the columns, in Message's order
ATTEMPT_FIELDS = (
    "attempt_number",
    "started_at",
    "duration_ms",
    "status_code",
    "outcome",
    "error",
    "response_excerpt",
)


@contextmanager
def driver_cursor() -> Iterator[Any]:
    """psycopg's own cursor on Django's connection (inside Django's transaction).

    A plain `psycopg.Cursor`, whatever cursor class Django configured (a client-side binding
    one unless OPTIONS["server_side_binding"]): it binds parameters on the server, so a
    batch's arrays travel as typed parameters instead of being quoted into the SQL text,
    and psycopg prepares the statement once it has run a few times. Driver errors come out
    as Django's (OperationalError, IntegrityError, ...).
    """
    with connection.wrap_database_errors:
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            yield cursor


def column_values(message: Message) -> dict[str, Any]:
    values = {f: getattr(message, f) for f in FIELDS}
    values["status"] = message.status.value
    return values


def to_domain(row: Model) -> Message:
    return from_tuple(tuple(getattr(row, f) for f in FIELDS))


_STATUS_AT = FIELDS.index("status")


def from_tuple(values: Sequence[Any]) -> Message:
    """A row whose columns are in FIELDS order (every SELECT and RETURNING of the repository)."""
    fields = list(values)
    fields[_STATUS_AT] = Status(fields[_STATUS_AT])
    return Message(*fields)
