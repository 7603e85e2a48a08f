"""The kept counts equal COUNT(*) at every moment: dispatchers, a SIGKILL, operators, a prune."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction

from core_domain.use_cases.create_messages import NewMessage
from messaging import models
from messaging.bootstrap import message_repository, prune_expired, use_cases
from tests.e2e.processes import dispatcher_env, dispatchers, wait_until
from tests.integration.receivers import Reply

pytestmark = pytest.mark.django_db(transaction=True)


def both_counts() -> tuple[dict[str, int], dict[str, int]]:
    """(kept counts, COUNT(*)) read from one snapshot, while the dispatchers keep writing."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("SELECT status, sum(count) FROM message_status_counts GROUP BY status")
        kept = {status: int(n) for status, n in cursor.fetchall() if n}
        cursor.execute("SELECT status, count(*) FROM messages GROUP BY status")
        return kept, dict(cursor.fetchall())


def assert_counts_agree() -> dict[str, int]:
    kept, counted = both_counts()
    assert kept == counted
    return counted


def test_kept_counts_equal_count_star_through_a_busy_life(
    receiver, seed, settings, tmp_path
) -> None:
    seed(300)
    # A flaky receiver: every third call fails, so messages retry, and some run out of tries.
    receiver.script(*[Reply(status=503 if n % 3 == 0 else 202, delay=0.01) for n in range(3000)])
    env = dispatcher_env(webhook_url=receiver.url, WEBHOOK_MAX_RETRIES="1",
                         WEBHOOK_BACKOFF_BASE="50ms", WEBHOOK_TIMEOUT="2s")  # fmt: skip
    args = ("--drain", "--interval", "1s", "--batch-size", "5", "--concurrency", "4")
    with dispatchers(3, *args, env=env, logs=tmp_path) as running:
        receiver.wait_for(100, timeout=60)
        running[0].kill()  # with work in flight: its 9 s leases run out, the others take over
        for _ in range(20):
            assert_counts_agree()
        use_cases().create_messages.execute(
            items=[NewMessage(phone_number="+905551234567", content=f"bulk {n}") for n in range(50)]
        )
        wait_until(
            lambda: set(assert_counts_agree()) <= {"SENT", "FAILED"},
            timeout=120,
            what="every message SENT or FAILED",
        )
    failed = list(models.Message.objects.filter(status="FAILED").values_list("id", flat=True))
    assert failed, "the flaky receiver failed nothing: the test proves less than it should"
    use_cases().requeue_message.execute(message_id=failed[0])
    cancelled = use_cases().create_messages.execute(
        items=[NewMessage(phone_number="+905551234567", content="to cancel")]
    )[0]
    use_cases().cancel_message.execute(message_id=cancelled.id)
    assert_counts_agree()
    retention = {"message_retention": timedelta(microseconds=1), "idempotency_key_ttl": None}
    settings.DISPATCHER = {**settings.DISPATCHER, **retention}
    removed = prune_expired().execute().messages
    counted = assert_counts_agree()
    assert removed >= 300 and counted == {"PENDING": 1}  # the requeued one is all that is left
    assert message_repository().count_by_status()["PENDING"] == 1
