"""Scratch databases beside the configured one, and messages seeded the way the API creates them."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

from benchmarks.support.procs import ROOT


def scratch_database_url(name: str) -> str:
    """The configured (or embedded) PostgreSQL, with a fresh database `name` on it."""
    import psycopg

    base = os.environ.get("DATABASE_URL")
    if not base:
        from dispatcher_project.embedded_postgres import embedded_database_url

        base = embedded_database_url(ROOT / ".data" / "postgres")
    parts = urlsplit(base)
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def seed(count: int) -> None:
    from core_domain.use_cases.create_messages import NewMessage
    from messaging.bootstrap import use_cases

    for start in range(0, count, 1000):
        items = [
            NewMessage(phone_number=f"+90555{n % 10_000_000:07d}", content=f"soak {n}")
            for n in range(start, min(count, start + 1000))
        ]
        use_cases().create_messages.execute(items=items)
