"""The scratch database and Django inside the benchmark process, and the queries runs share.

The scratch database sits beside the configured one (DATABASE_URL, else the embedded
PostgreSQL), is dropped and created at start and left behind for inspection. Messages are
seeded through `use_cases().create_messages`, like `make soak` does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from benchmarks.support.scratch import scratch_database_url, seed


def setup_django(database: str) -> str:
    """Create the scratch database, point this process (and its children) at it, migrate."""
    url = scratch_database_url(database)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dispatcher_project.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return url


def database_name() -> str:
    return urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/")


def execute(sql: str, params: tuple | dict | None = None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def reset_messages() -> None:
    execute("TRUNCATE messages, dispatcher_workers CASCADE")


def seed_pending(count: int) -> None:
    """`count` PENDING messages, due now, through the product's create use case."""
    reset_messages()
    seed(count)
    execute("ANALYZE messages")  # what autovacuum would soon do; keeps the plan realistic


@dataclass(frozen=True, slots=True)
class DrainResult:
    """The database's view of a drain: how many were SENT and when the first and last were."""

    total: int
    sent: int
    first_sent_at: datetime | None
    last_sent_at: datetime | None
    ids: frozenset[str]

    def per_second(self) -> float:
        if self.first_sent_at is None or self.last_sent_at is None:
            return 0.0
        span = (self.last_sent_at - self.first_sent_at).total_seconds()
        return self.sent / span if span > 0 else 0.0


def drain_result() -> DrainResult:
    [(total, sent, first, last)] = execute(
        "SELECT count(*), count(*) FILTER (WHERE status = 'SENT'), min(sent_at), max(sent_at)"
        " FROM messages"
    )
    ids = frozenset(str(row[0]) for row in execute("SELECT id FROM messages"))
    return DrainResult(total=total, sent=sent, first_sent_at=first, last_sent_at=last, ids=ids)


def message_count() -> int:
    return execute("SELECT count(*) FROM messages")[0][0]
