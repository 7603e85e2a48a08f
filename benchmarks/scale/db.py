"""The scale benchmark's scratch databases: created or reused, and the one Django talks to.

Two databases sit beside the configured one: the large one (kept between runs with --keep, so a
50M fill is done once) and a small one for the baselines, refilled every run. This process's
Django connection is moved between them the way Django moves it to a test database, and the
environment's DATABASE_URL follows, so processes started afterwards use the same one.
"""

from __future__ import annotations

import json
import os
from urllib.parse import urlsplit, urlunsplit

from benchmarks.support import harness
from benchmarks.support.procs import ROOT
from benchmarks.support.scratch import scratch_database_url

MARKER_TABLE = "messages"  # the fill's summary lives in this table's comment
_server: dict[str, str] = {}  # the configured URL, before DATABASE_URL points at a scratch one


def server_url() -> str:
    if "url" not in _server:
        base = os.environ.get("DATABASE_URL")
        if not base:
            from dispatcher_project.embedded_postgres import embedded_database_url

            base = embedded_database_url(ROOT / ".data" / "postgres")
        _server["url"] = base
    return _server["url"]


def database_url(name: str, *, fresh: bool) -> str:
    """The URL of database `name` on the configured server: dropped and created if `fresh`,
    else created only when missing."""
    import psycopg

    base = server_url()
    if fresh:
        os.environ["DATABASE_URL"] = base  # scratch_database_url reads it
        return scratch_database_url(name)
    with psycopg.connect(base, autocommit=True) as admin:
        if (
            admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            is None
        ):
            admin.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


def setup(name: str, *, fresh: bool) -> None:
    """Django in this process, on database `name`, migrated."""
    os.environ["DATABASE_URL"] = database_url(name, fresh=fresh)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dispatcher_project.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def use(name: str, *, fresh: bool) -> None:
    """Move Django (and the child processes started from now on) to `name`, migrated."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    url = database_url(name, fresh=fresh)
    connection.close()
    settings.DATABASES["default"]["NAME"] = name
    connection.settings_dict["NAME"] = name
    os.environ["DATABASE_URL"] = url
    call_command("migrate", verbosity=0)


def drop(name: str) -> None:
    import psycopg

    with psycopg.connect(server_url(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def read_marker() -> dict | None:
    """What the last complete fill of this database recorded, or None (never filled, or a
    fill that did not finish)."""
    [(text,)] = harness.execute("SELECT obj_description(%s::regclass, 'pg_class')", (MARKER_TABLE,))
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def write_marker(summary: dict | None) -> None:
    text = "" if summary is None else json.dumps(summary, default=str)
    # COMMENT takes no parameters; the text is quoted by the server's quote_literal.
    [(literal,)] = harness.execute("SELECT quote_literal(%s)", (text,))
    harness.execute(f"COMMENT ON TABLE {MARKER_TABLE} IS {literal}")


def size_bytes() -> int:
    return harness.execute("SELECT pg_database_size(current_database())")[0][0]


def counts_by_status() -> dict[str, int]:
    rows = harness.execute("SELECT status, count(*) FROM messages GROUP BY status")
    return {status: count for status, count in rows}


def kept_counts() -> dict[str, int]:
    rows = harness.execute(
        "SELECT status, sum(count)::bigint FROM message_status_counts GROUP BY status"
    )
    return {status: count for status, count in rows if count}


def drop_all(*names: str) -> None:
    """Drop the scratch databases, this process's connection to them closed first."""
    from django.db import connection

    connection.close()
    for name in names:
        drop(name)
