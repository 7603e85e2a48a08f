"""The receiver fault matrix: what each misbehaving webhook leaves in the database (SPEC §6-§7).

Every case runs a real Dispatcher: DjangoMessageRepository on PostgreSQL, HttpWebhookSender
posting to the scripted loopback `receiver` (or to a closed port, or with https to the plain
receiver), DjangoRedisReceiptCache on the test Redis, DatabaseClock, and a RetryPolicy with
max_retries=3, a 50 ms backoff base and no jitter, so retries are due within milliseconds.
Each test asserts the stored message (status, counters, `lastError`, `nextAttemptAt`) and the
recorded attempts (status code, error, outcome, excerpt, duration). Waiting for a retry to be
due is a bounded deadline loop over the stored `next_attempt_at`, never a bare sleep.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

import pytest

from adapters.clock import DatabaseClock
from adapters.django_repository import DjangoMessageRepository
from core_domain.message import Message, Status
from core_domain.use_cases.create_message import CreateMessage
from core_domain.use_cases.delivery_pipeline import BatchReport
from core_domain.use_cases.dispatcher import Dispatcher
from messaging import models
from tests.integration.conftest import BACKOFF_BASE, MAX_RETRIES
from tests.integration.receivers import Reply, closed_port
from tests.integration.waiting import wait_until_due

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = timedelta(milliseconds=300)  # the sender's connect and read timeout in these tests
EXCERPT_BYTES = 1024
ATTEMPT_FIELDS = (
    "attempt_number", "started_at", "duration_ms", "status_code", "outcome", "error",
    "response_excerpt",
)  # fmt: skip

BuildDispatch = Callable[..., Dispatcher]


@pytest.fixture
def build_dispatch(real_dispatch) -> BuildDispatch:
    """Two connections and this file's short timeout, unless a test asks otherwise."""

    def build(*, url: str | None = None, timeout: timedelta = TIMEOUT) -> Dispatcher:
        return real_dispatch(url=url, timeout=timeout, concurrency=2)

    return build


@pytest.fixture
def message(django_repository: DjangoMessageRepository) -> Message:
    """One PENDING message, due now, stored through the CreateMessage use case."""
    create = CreateMessage(repository=django_repository, clock=DatabaseClock())
    return create.execute(phone_number="+905551234567", content="Fault matrix").message


def run(dispatch: Dispatcher) -> BatchReport:
    return dispatch.process(worker_id="fault-worker", limit=10)


def counts(report: BatchReport) -> tuple[int, int, int, int]:
    """(claimed, sent, retried, failed)"""
    return report.claimed, report.sent, report.retried, report.failed


def run_until_settled(
    dispatch: Dispatcher, repository: DjangoMessageRepository, message: Message
) -> list[BatchReport]:
    """Run batches, each once the retry is due, until the message is SENT or FAILED."""
    reports = [run(dispatch)]
    while repository.get(message.id).status is Status.PENDING:
        assert len(reports) <= MAX_RETRIES, "still PENDING after 1 + max_retries attempts"
        wait_until_due(repository, message)
        reports.append(run(dispatch))
    return reports


def stored_attempts(message: Message) -> list[dict[str, Any]]:
    """The rows of the delivery_attempts table for `message`, oldest first."""
    rows = models.DeliveryAttempt.objects.filter(message_id=message.id)
    return list(rows.order_by("attempt_number").values(*ATTEMPT_FIELDS))


def assert_bounded(attempt: dict[str, Any]) -> None:
    """The call took at most a few timeouts (connect + read + body), measured by the sender."""
    limit_ms = 3 * TIMEOUT.total_seconds() * 1000
    assert 0 <= attempt["duration_ms"] < limit_ms, attempt


# -- one attempt, no answer or a retryable answer: a retry is scheduled ---------------------------


@dataclass(frozen=True)
class TransientFault:
    replies: tuple[Reply, ...]
    status_code: int | None
    error: str  # a regular expression the recorded error must match in full
    requests: int  # requests the receiver saw for the one recorded attempt
    https: bool = False


TRANSIENT_FAULTS = {
    # On a new connection the receiver may have acted on the request: no resend in the call.
    "reset-before-the-answer": TransientFault(
        replies=(Reply(action="reset"),),
        status_code=None,
        error=r"connection reset",
        requests=1,
    ),
    "read-timeout": TransientFault(
        replies=(Reply(status=202, delay=3.0),),
        status_code=None,
        error=r"timed out after 0\.3s \(read\)",
        requests=1,
    ),
    "tls-handshake-answered-in-plain-text": TransientFault(
        replies=(),
        status_code=None,
        error=r"TLS error: .+",
        requests=0,  # the receiver answers the ClientHello with a plain 400 and records nothing
        https=True,
    ),
    "408-request-timeout": TransientFault(
        replies=(Reply(status=408, body="too slow"),),
        status_code=408,
        error=r"HTTP 408: too slow",
        requests=1,
    ),
}


@pytest.mark.parametrize("fault", TRANSIENT_FAULTS.values(), ids=TRANSIENT_FAULTS.keys())
def test_a_transient_fault_records_the_attempt_and_schedules_a_retry(
    fault: TransientFault, build_dispatch, message, receiver, django_repository
) -> None:
    receiver.script(*fault.replies)
    url = f"https://127.0.0.1:{receiver.port}/" if fault.https else None

    report = run(build_dispatch(url=url))

    assert counts(report) == (1, 0, 1, 0)
    stored = django_repository.get(message.id)
    assert (stored.status, stored.retry_count, stored.attempt_count) == (Status.PENDING, 1, 1)
    assert re.fullmatch(fault.error, stored.last_error or ""), stored.last_error
    assert stored.next_attempt_at - stored.updated_at == BACKOFF_BASE  # retry 1, jitter 0
    assert stored.lease_expires_at is None
    [attempt] = stored_attempts(message)
    assert (attempt["status_code"], attempt["outcome"]) == (fault.status_code, "retry_scheduled")
    assert attempt["error"] == stored.last_error
    if fault.status_code is None:
        assert attempt["response_excerpt"] == ""  # no answer came
    assert_bounded(attempt)
    assert len(receiver.requests) == receiver.count(str(message.id)) == fault.requests


def test_a_reset_on_a_pooled_connection_is_resent_at_once_and_delivered(
    build_dispatch, message, receiver, django_repository
) -> None:
    dispatch = build_dispatch()
    assert counts(run(dispatch)) == (1, 1, 0, 0)  # `message` leaves a connection in the pool
    create = CreateMessage(repository=django_repository, clock=DatabaseClock())
    later = create.execute(phone_number="+905551234568", content="Fault matrix").message
    receiver.script(Reply(action="reset"))

    report = run(dispatch)

    assert counts(report) == (1, 1, 0, 0)
    stored = django_repository.get(later.id)
    assert (stored.status, stored.retry_count, stored.attempt_count) == (Status.SENT, 0, 1)
    [attempt] = stored_attempts(later)  # one recorded attempt, two requests on the wire
    assert (attempt["status_code"], attempt["outcome"], attempt["error"]) == (
        202,
        "delivered",
        None,
    )
    requests = [r for r in receiver.requests if r.idempotency_key == str(later.id)]
    assert len(requests) == 2
    assert requests[0].connection == receiver.requests[0].connection != requests[1].connection


# -- refused on every attempt: FAILED after 1 + max_retries ---------------------------------------


def test_a_refused_connection_is_retried_then_failed_after_1_plus_max_retries_attempts(
    build_dispatch, message, django_repository
) -> None:
    dispatch = build_dispatch(url=f"http://127.0.0.1:{closed_port()}/webhook")

    reports = run_until_settled(dispatch, django_repository, message)
    later = run(dispatch)

    assert [counts(r) for r in reports] == [(1, 0, 1, 0)] * MAX_RETRIES + [(1, 0, 0, 1)]
    assert later.claimed == 0
    stored = django_repository.get(message.id)
    assert (stored.status, stored.retry_count, stored.attempt_count) == (Status.FAILED, 3, 4)
    assert stored.last_error == "connection refused (gave up after 4 attempts)"
    assert stored.sent_at is None and stored.lease_expires_at is None
    attempts = stored_attempts(message)
    assert [a["attempt_number"] for a in attempts] == [1, 2, 3, 4]
    assert [a["status_code"] for a in attempts] == [None] * 4
    assert [a["outcome"] for a in attempts] == ["retry_scheduled"] * 3 + ["failed"]
    assert [a["error"] for a in attempts] == ["connection refused"] * 3 + [stored.last_error]
    for attempt in attempts:
        assert_bounded(attempt)


# -- a 2xx whatever its body does: SENT -------------------------------------------------------


def test_a_202_with_a_body_over_1_mib_is_sent_and_stores_a_1_kib_excerpt(
    build_dispatch, message, receiver, django_repository
) -> None:
    body = ('{"padding":"' + "€" * (400 * 1024)).encode()  # 1.2 MiB, 3 bytes a character
    assert len(body) > 1024 * 1024
    receiver.script(Reply(status=202, body=body))

    report = run(build_dispatch(timeout=timedelta(seconds=5)))

    assert counts(report) == (1, 1, 0, 0)
    stored = django_repository.get(message.id)
    assert (stored.status, stored.last_error, stored.external_id) == (Status.SENT, None, None)
    [attempt] = stored_attempts(message)
    assert (attempt["status_code"], attempt["outcome"], attempt["error"]) == (
        202,
        "delivered",
        None,
    )
    kept = attempt["response_excerpt"].encode()
    assert EXCERPT_BYTES - 3 < len(kept) <= EXCERPT_BYTES  # no character cut in half
    assert body.startswith(kept)


def test_a_202_whose_body_drips_past_the_timeout_is_sent_and_cut_at_the_timeout(
    build_dispatch, message, receiver, django_repository
) -> None:
    body = b'{"padding":"' + b"x" * 100 + b'","messageId":"drip"}'  # ~2.6 s at 20 ms a byte
    receiver.script(Reply(status=202, body=body, action="drip", drip_interval=0.02))

    report = run(build_dispatch())

    assert counts(report) == (1, 1, 0, 0)
    stored = django_repository.get(message.id)
    assert (stored.status, stored.external_id) == (Status.SENT, None)  # messageId never came
    [attempt] = stored_attempts(message)
    assert (attempt["status_code"], attempt["outcome"], attempt["error"]) == (
        202,
        "delivered",
        None,
    )
    kept = attempt["response_excerpt"].encode()
    assert len(kept) < len(body) and body.startswith(kept)
    assert_bounded(attempt)  # the body read stopped at the timeout, not at the end of the drip


def test_a_500_502_503_burst_then_202_is_sent_with_retry_count_3(
    build_dispatch, message, receiver, django_repository
) -> None:
    receiver.script(
        Reply(status=500, body="boom"),
        Reply(status=502, body="bad gateway"),
        Reply(status=503, body="unavailable"),
        Reply(status=202, body={"messageId": "after-the-burst"}),
    )

    reports = run_until_settled(build_dispatch(), django_repository, message)

    assert [counts(r) for r in reports] == [(1, 0, 1, 0)] * 3 + [(1, 1, 0, 0)]
    stored = django_repository.get(message.id)
    assert (stored.status, stored.retry_count, stored.attempt_count) == (Status.SENT, 3, 4)
    assert (stored.external_id, stored.last_error) == ("after-the-burst", None)
    attempts = stored_attempts(message)
    assert [a["status_code"] for a in attempts] == [500, 502, 503, 202]
    assert [a["outcome"] for a in attempts] == ["retry_scheduled"] * 3 + ["delivered"]
    assert [a["error"] for a in attempts] == [
        "HTTP 500: boom",
        "HTTP 502: bad gateway",
        "HTTP 503: unavailable",
        None,
    ]
    assert receiver.count(str(message.id)) == 4


# -- 429 with Retry-After ---------------------------------------------------------------------


def retry_after_seconds() -> tuple[str, Callable[[Message], datetime]]:
    """`Retry-After: 1` and the earliest next attempt it allows for the stored message."""
    return "1", lambda stored: stored.updated_at + timedelta(seconds=1)


def retry_after_http_date() -> tuple[str, Callable[[Message], datetime]]:
    """`Retry-After: <HTTP-date 2-3 s ahead>` (whole seconds) and that date."""
    value = formatdate(time.time() + 3, usegmt=True)
    return value, lambda stored: parsedate_to_datetime(value)


@pytest.mark.parametrize(
    "retry_after",
    [retry_after_seconds, retry_after_http_date],
    ids=["delay-seconds", "http-date"],
)
def test_a_429_storm_is_retried_no_sooner_than_retry_after_says(
    retry_after, build_dispatch, message, receiver, django_repository
) -> None:
    dispatch, reports = build_dispatch(), []
    for _ in range(2):  # two 429s in a row, then the receiver accepts
        value, earliest = retry_after()
        receiver.script(Reply(status=429, body="slow down", headers={"Retry-After": value}))
        reports.append(run(dispatch))
        stored = django_repository.get(message.id)
        assert stored.status is Status.PENDING
        assert stored.next_attempt_at >= earliest(stored), value
        assert stored.next_attempt_at - stored.updated_at > BACKOFF_BASE * 2  # not the backoff
        assert run(dispatch).claimed == 0, "claimed again before Retry-After ran out"
        wait_until_due(django_repository, message)
    reports.append(run(dispatch))

    assert [counts(r) for r in reports] == [(1, 0, 1, 0), (1, 0, 1, 0), (1, 1, 0, 0)]
    stored = django_repository.get(message.id)
    assert (stored.status, stored.retry_count, stored.attempt_count) == (Status.SENT, 2, 3)
    attempts = stored_attempts(message)
    assert [a["status_code"] for a in attempts] == [429, 429, 202]
    assert [a["error"] for a in attempts] == ["HTTP 429: slow down"] * 2 + [None]
    assert receiver.count(str(message.id)) == 3


# -- answers that end it at once: FAILED, never retried --------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_fails_the_message_at_once_and_is_not_followed(
    status: int, build_dispatch, message, receiver, django_repository
) -> None:
    receiver.script(Reply(status=status, body="", headers={"Location": receiver.url + "/moved"}))
    dispatch = build_dispatch()

    report = run(dispatch)
    later = run(dispatch)

    assert counts(report) == (1, 0, 0, 1)
    assert later.claimed == 0
    stored = django_repository.get(message.id)
    assert (stored.status, stored.retry_count, stored.attempt_count) == (Status.FAILED, 0, 1)
    assert stored.last_error == f"HTTP {status} (not retryable)"
    [attempt] = stored_attempts(message)
    assert (attempt["status_code"], attempt["outcome"]) == (status, "failed")
    assert attempt["error"] == stored.last_error
    assert [r.path for r in receiver.requests] == ["/webhook"]  # exactly one, not the Location


@pytest.mark.parametrize("status", [404, 422])
def test_a_client_error_fails_the_message_at_once_without_a_retry(
    status: int, build_dispatch, message, receiver, django_repository
) -> None:
    receiver.script(Reply(status=status, body={"error": "rejected"}))
    dispatch = build_dispatch()

    report = run(dispatch)
    later = run(dispatch)

    assert counts(report) == (1, 0, 0, 1)
    assert later.claimed == 0
    stored = django_repository.get(message.id)
    assert (stored.status, stored.retry_count, stored.attempt_count) == (Status.FAILED, 0, 1)
    assert stored.last_error == f'HTTP {status}: {{"error": "rejected"}} (not retryable)'
    [attempt] = stored_attempts(message)
    assert (attempt["status_code"], attempt["outcome"]) == (status, "failed")
    assert attempt["response_excerpt"] == '{"error": "rejected"}'
    assert receiver.count(str(message.id)) == 1
