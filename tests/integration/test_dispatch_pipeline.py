"""The delivery pipeline with its real parts: PostgreSQL, a loopback webhook, Redis (SPEC §6-§7).

Each test assembles a Dispatcher from DjangoMessageRepository, HttpWebhookSender (posting
to the scripted `receiver`), DjangoRedisReceiptCache and a RetryPolicy with a tiny backoff and
no jitter, so retries become due within milliseconds. Waiting for a retry to be due
is a bounded deadline loop over the stored `next_attempt_at`, never a bare sleep.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.cache import caches

from adapters.clock import DatabaseClock
from adapters.django_repository import DjangoMessageRepository
from adapters.receipt_cache import receipt_key
from core_domain.delivery import AttemptOutcome, Finalization
from core_domain.message import Message, Status
from core_domain.use_cases.create_message import CreateMessage
from core_domain.use_cases.delivery_pipeline import BatchReport
from core_domain.use_cases.dispatcher import Dispatcher
from messaging import models
from tests.integration.conftest import BACKOFF_BASE, MAX_RETRIES
from tests.integration.receivers import Reply
from tests.integration.waiting import wait_until_due

pytestmark = pytest.mark.django_db(transaction=True)

ATTEMPT_FIELDS = (
    "attempt_number", "started_at", "duration_ms", "status_code", "outcome", "error",
    "response_excerpt",
)  # fmt: skip

BuildDispatch = Callable[..., Dispatcher]
NewMessage = Callable[..., Message]


@pytest.fixture
def build_dispatch(real_dispatch) -> BuildDispatch:
    return real_dispatch


@pytest.fixture
def new_message(django_repository: DjangoMessageRepository) -> NewMessage:
    """Stores a PENDING message, due now, through the CreateMessage use case."""
    create = CreateMessage(repository=django_repository, clock=DatabaseClock())

    def build(content: str = "Hello from the pipeline") -> Message:
        return create.execute(phone_number="+90 555 123 4567", content=content).message

    return build


def run(dispatch: Dispatcher, *, worker_id: str = "worker-a", batch_size: int = 10):
    return dispatch.process(worker_id=worker_id, limit=batch_size)


def wait_for(condition: Callable[[], Any], *, timeout: float = 5.0, what: str) -> Any:
    """Poll `condition` until it returns something truthy (bounded); return that."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout}s"
        time.sleep(0.01)


def stored_attempts(message: Message) -> list[dict[str, Any]]:
    """The rows of the delivery_attempts table for `message`, oldest first."""
    rows = models.DeliveryAttempt.objects.filter(message_id=message.id)
    return list(rows.order_by("attempt_number").values(*ATTEMPT_FIELDS))


def counts(report: BatchReport) -> tuple[int, int, int, int]:
    return report.claimed, report.sent, report.retried, report.failed


# -- retries -----------------------------------------------------------------------------------


def test_500_500_202_is_sent_after_two_retries_with_every_attempt_recorded(
    build_dispatch, new_message, receiver, django_repository
) -> None:
    receiver.script(
        Reply(status=500, body={"error": "boom 1"}),
        Reply(status=500, body={"error": "boom 2"}),
        Reply(status=202, body={"message": "Accepted", "messageId": "rcv-42"}),
    )
    dispatch, message = build_dispatch(), new_message()

    reports, waits = [run(dispatch)], []
    for _ in range(2):
        due = wait_until_due(django_repository, message)
        waits.append(due.next_attempt_at - due.updated_at)
        reports.append(run(dispatch))

    assert [counts(r) for r in reports] == [(1, 0, 1, 0), (1, 0, 1, 0), (1, 1, 0, 0)]
    assert waits == [BACKOFF_BASE, 2 * BACKOFF_BASE]  # base × 2^(retry-1), jitter 0
    stored = django_repository.get(message.id)
    assert (stored.status, stored.retry_count, stored.attempt_count) == (Status.SENT, 2, 3)
    assert (stored.external_id, stored.last_error) == ("rcv-42", None)
    assert stored.sent_at is not None and stored.lease_expires_at is None
    attempts = stored_attempts(message)
    assert [a["attempt_number"] for a in attempts] == [1, 2, 3]
    assert [a["outcome"] for a in attempts] == ["retry_scheduled", "retry_scheduled", "delivered"]
    assert [a["status_code"] for a in attempts] == [500, 500, 202]
    assert [a["error"] for a in attempts] == [
        'HTTP 500: {"error": "boom 1"}',
        'HTTP 500: {"error": "boom 2"}',
        None,
    ]
    assert [a["response_excerpt"] for a in attempts] == [
        '{"error": "boom 1"}',
        '{"error": "boom 2"}',
        '{"message": "Accepted", "messageId": "rcv-42"}',
    ]
    assert all(a["duration_ms"] >= 0 for a in attempts)
    started = [a["started_at"] for a in attempts]
    assert started == sorted(started) and len(set(started)) == 3
    assert receiver.count(str(message.id)) == 3


def test_a_webhook_that_always_answers_500_fails_the_message_after_1_plus_max_retries(
    build_dispatch, new_message, receiver, django_repository
) -> None:
    receiver.script(*[Reply(status=500, body="down")] * (MAX_RETRIES + 2))
    dispatch, message = build_dispatch(), new_message()

    reports = [run(dispatch)]
    while django_repository.get(message.id).status is Status.PENDING:
        assert len(reports) <= MAX_RETRIES, "still PENDING after 1 + max_retries attempts"
        wait_until_due(django_repository, message)
        reports.append(run(dispatch))
    later = run(dispatch)

    assert [counts(r) for r in reports] == [(1, 0, 1, 0)] * MAX_RETRIES + [(1, 0, 0, 1)]
    assert later.claimed == 0
    assert receiver.count(str(message.id)) == 1 + MAX_RETRIES == 4
    stored = django_repository.get(message.id)
    assert (stored.status, stored.retry_count, stored.attempt_count) == (Status.FAILED, 3, 4)
    assert stored.last_error == "HTTP 500: down (gave up after 4 attempts)"
    assert stored.sent_at is None and stored.external_id is None
    attempts = stored_attempts(message)
    assert [a["attempt_number"] for a in attempts] == [1, 2, 3, 4]
    assert [a["outcome"] for a in attempts] == ["retry_scheduled"] * 3 + ["failed"]
    assert reports[-1].errors == [f"{message.id}: {stored.last_error}"]


def test_a_400_fails_the_message_at_once_and_no_later_batch_retries_it(
    build_dispatch, new_message, receiver, django_repository
) -> None:
    receiver.script(Reply(status=400, body={"error": "invalid number"}))
    dispatch, message = build_dispatch(), new_message()

    first = run(dispatch)
    later = run(dispatch)

    assert counts(first) == (1, 0, 0, 1)
    assert later.claimed == 0
    assert receiver.count(str(message.id)) == 1
    stored = django_repository.get(message.id)
    assert (stored.status, stored.retry_count, stored.attempt_count) == (Status.FAILED, 0, 1)
    assert stored.last_error == 'HTTP 400: {"error": "invalid number"} (not retryable)'
    [attempt] = stored_attempts(message)
    assert (attempt["status_code"], attempt["outcome"]) == (400, "failed")
    assert first.errors == [f"{message.id}: {stored.last_error}"]


def test_a_429_with_retry_after_keeps_the_message_pending_until_then_without_sleeping(
    build_dispatch, new_message, receiver, django_repository
) -> None:
    receiver.script(Reply(status=429, headers={"Retry-After": "2"}, body="slow down"))
    dispatch, message = build_dispatch(), new_message()

    first = run(dispatch)
    immediately_after = run(dispatch)

    assert counts(first) == (1, 0, 1, 0)
    assert immediately_after.claimed == 0  # the batch returned; the wait lives in the database
    stored = django_repository.get(message.id)
    [attempt] = stored_attempts(message)
    assert (stored.status, stored.retry_count) == (Status.PENDING, 1)
    assert stored.last_error == "HTTP 429: slow down"
    assert stored.next_attempt_at >= attempt["started_at"] + timedelta(seconds=2)
    assert (attempt["status_code"], attempt["outcome"]) == (429, "retry_scheduled")
    assert receiver.count(str(message.id)) == 1


def test_a_receiver_slower_than_the_timeout_records_a_timed_out_attempt_and_retries(
    build_dispatch, new_message, receiver, django_repository
) -> None:
    receiver.script(Reply(status=202, delay=1.0))
    dispatch, message = build_dispatch(timeout=timedelta(milliseconds=300)), new_message()

    report = run(dispatch)

    assert counts(report) == (1, 0, 1, 0)
    [attempt] = stored_attempts(message)
    assert attempt["status_code"] is None
    assert attempt["outcome"] == "retry_scheduled"
    assert "timed out" in attempt["error"]
    assert attempt["duration_ms"] >= 0
    stored = django_repository.get(message.id)
    assert (stored.status, stored.retry_count) == (Status.PENDING, 1)
    assert "timed out" in stored.last_error


def test_every_attempt_carries_the_message_id_as_idempotency_key(
    build_dispatch, new_message, receiver, django_repository
) -> None:
    receiver.script(Reply(status=503), Reply(status=503))  # both first attempts, then 202s
    dispatch = build_dispatch()
    first, second = new_message("first"), new_message("second")

    assert counts(run(dispatch)) == (2, 0, 2, 0)
    for message in (first, second):
        wait_until_due(django_repository, message)
    assert counts(run(dispatch)) == (2, 2, 0, 0)

    requests = receiver.requests
    assert len(requests) == 4
    assert receiver.counts() == Counter({str(first.id): 2, str(second.id): 2})
    for request in requests:
        expected = first if request.idempotency_key == str(first.id) else second
        assert request.json == {"to": "+905551234567", "content": expected.content}


# -- receipts ----------------------------------------------------------------------------------


def test_a_sent_message_leaves_its_receipt_in_redis(
    build_dispatch, new_message, django_repository
) -> None:
    message = new_message()

    report = run(build_dispatch())

    assert (report.sent, report.receipt_errors) == (1, 0)
    stored = django_repository.get(message.id)
    key = f"receipt:{message.id}"
    receipt = caches["default"].get(key)
    assert set(receipt) == {"messageId", "sentAt"}
    assert receipt["messageId"] == str(message.id)
    assert receipt["sentAt"].endswith("Z")
    assert datetime.fromisoformat(receipt["sentAt"]) == stored.sent_at
    assert receipt_key(message.id) == key  # where the adapter writes it
    assert 3500 <= caches["default"].ttl(key) <= 3600


def test_a_redis_outage_never_fails_a_delivery_and_is_counted(
    build_dispatch, new_message, receiver, django_repository, unreachable_cache
) -> None:
    message = new_message()

    report = run(build_dispatch(cache_alias=unreachable_cache))

    assert counts(report) == (1, 1, 0, 0)
    assert report.receipt_errors == 1
    assert report.errors == []
    stored = django_repository.get(message.id)
    assert stored.status is Status.SENT and stored.external_id is not None
    assert receiver.count(str(message.id)) == 1
    assert caches["default"].get(f"receipt:{message.id}") is None


# -- leases and concurrency --------------------------------------------------------------------


def test_a_worker_whose_lease_expired_cannot_overwrite_the_new_owners_result(
    build_dispatch, new_message, receiver, django_repository
) -> None:
    message = new_message()
    [held_by_a] = django_repository.claim_batch(
        worker_id="worker-a", limit=10, lease=timedelta(milliseconds=300)
    )
    assert held_by_a.lease_expires_at is not None
    still_leased = django_repository.claim_batch(
        worker_id="worker-b", limit=10, lease=timedelta(seconds=30)
    )
    assert still_leased == []
    receiver.script(Reply(status=202, body={"messageId": "delivered-by-b"}))
    dispatch_b = build_dispatch()

    def b_claims_something() -> BatchReport | None:
        report = run(dispatch_b, worker_id="worker-b")
        return report if report.claimed else None

    report_b = wait_for(b_claims_something, what="worker B re-claiming the expired lease")
    late_a = Finalization(
        message_id=message.id,
        claim_token=held_by_a.claim_token,
        status=Status.SENT,
        retry_count=0,
        attempt_count=1,
        external_id="late-from-a",
        last_error=None,
        retry_in=None,
        outcome=AttemptOutcome.DELIVERED,
        started_ago=timedelta(milliseconds=400),
        duration_ms=5,
        status_code=202,
        error=None,
        response_excerpt="late",
    )
    written = django_repository.finalize([late_a])

    assert counts(report_b) == (1, 1, 0, 0)
    assert written == {}
    stored = django_repository.get(message.id)
    assert (stored.status, stored.locked_by, stored.external_id) == (
        Status.SENT,
        "worker-b",
        "delivered-by-b",
    )
    [attempt] = stored_attempts(message)
    assert attempt["response_excerpt"] == '{"messageId": "delivered-by-b"}'
    assert receiver.count(str(message.id)) == 1


def test_a_batch_of_20_with_concurrency_8_delivers_each_message_exactly_once(
    build_dispatch, new_message, receiver, django_repository
) -> None:
    messages = [new_message(f"message {i}") for i in range(20)]
    receiver.script(*[Reply(status=202, delay=0.05)] * 20)

    report = run(build_dispatch(concurrency=8), batch_size=20)

    assert counts(report) == (20, 20, 0, 0)
    assert (report.lost, report.released, report.errors) == (0, 0, [])
    assert receiver.counts() == Counter({str(m.id): 1 for m in messages})
    assert django_repository.count_by_status()[Status.SENT] == 20
    # Sequential sends would reuse one keep-alive connection; parallel ones need several.
    assert len({request.connection for request in receiver.requests}) > 1
