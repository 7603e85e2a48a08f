"""Dispatchers ride out PostgreSQL cutting their connections: nothing lost, nothing sent twice."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from messaging import models
from tests.e2e.processes import dispatcher_env, dispatchers, wait_until
from tests.integration.receivers import Reply

pytestmark = pytest.mark.django_db(transaction=True)


def cut_every_other_connection() -> int:
    """What a PostgreSQL restart does to clients: end every session but ours."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_dispatchers_reconnect_after_their_connections_are_cut(receiver, seed, tmp_path) -> None:
    messages = seed(80)
    receiver.script(*[Reply(delay=0.03)] * 80)
    env = dispatcher_env(webhook_url=receiver.url, WEBHOOK_LEASE="3s", WEBHOOK_TIMEOUT="1s")
    args = ("--drain", "--interval", "200ms", "--batch-size", "4", "--concurrency", "4")
    with dispatchers(2, *args, env=env, logs=tmp_path) as processes:
        receiver.wait_for(8, timeout=60)
        cuts = 0
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            cuts += cut_every_other_connection()
            time.sleep(0.15)  # a cut every 150 ms for 3 s, while messages are being delivered
        wait_until(
            lambda: models.Message.objects.filter(status="SENT").count() == 80,
            timeout=90,
            what="every message SENT after the outage",
        )
        assert all(p.popen.poll() is None for p in processes), "a dispatcher died"
        exit_codes = [p.stop() for p in processes]
    assert cuts > 0
    assert exit_codes == [0, 0]
    counts = receiver.counts()
    assert set(counts) == {str(m.id) for m in messages}
    assert set(counts.values()) == {1}, "a message was sent twice"
    # The cuts hit work in progress: the loop or the finalize retry logged the outage.
    assert any("database unavailable" in p.output.lower() for p in processes)
