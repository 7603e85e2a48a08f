"""The Message entity's status transitions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core_domain.delivery import AttemptOutcome, DeliveryOutcome
from core_domain.errors import InvalidTransitionError
from core_domain.judge import judge
from core_domain.message import Status, can_transition
from core_domain.retry import RetryPolicy
from tests.fakes import T0, a_message

LATER = T0 + timedelta(seconds=10)


def test_a_new_message_is_pending_and_due_at_creation() -> None:
    message = a_message()
    assert message.status is Status.PENDING
    assert message.next_attempt_at == message.created_at == T0
    assert (message.retry_count, message.external_id, message.sent_at) == (0, None, None)


def test_claiming_leases_the_message_and_makes_it_due_again_when_the_lease_ends() -> None:
    claimed = a_message().claimed(worker_id="w1", token=7, at=T0, lease=timedelta(seconds=65))
    assert claimed.status is Status.SENDING
    assert claimed.locked_by == "w1"
    assert claimed.lease_expires_at == claimed.next_attempt_at == T0 + timedelta(seconds=65)


POLICY = RetryPolicy(max_retries=3, random_fraction=lambda: 0.0)
AGO = timedelta(milliseconds=30)


def test_a_delivery_is_written_sent_with_its_external_id_and_counted() -> None:
    claimed = a_message().claimed(worker_id="w1", token=7, at=T0, lease=timedelta(seconds=65))
    outcome = DeliveryOutcome(duration=timedelta(milliseconds=12), status_code=202, external_id="x")
    result = judge(claimed, outcome=outcome, policy=POLICY, started_ago=AGO)
    assert (result.status, result.external_id, result.claim_token) == (Status.SENT, "x", 7)
    assert (result.attempt_count, result.retry_count, result.duration_ms) == (1, 0, 12)
    assert (result.outcome, result.retry_in, result.last_error) == (
        AttemptOutcome.DELIVERED,
        None,
        None,
    )


def test_a_scheduled_retry_counts_and_carries_a_delay_not_a_time() -> None:
    claimed = a_message().claimed(worker_id="w1", token=7, at=T0, lease=timedelta(seconds=65))
    outcome = DeliveryOutcome(duration=timedelta(milliseconds=5), status_code=500)
    result = judge(claimed, outcome=outcome, policy=POLICY, started_ago=AGO)
    assert result.status is Status.PENDING
    assert (result.retry_count, result.last_error) == (1, "HTTP 500")
    assert result.retry_in == timedelta(seconds=1)


def test_requeue_resets_the_retry_count_of_a_failed_message() -> None:
    failed = a_message(status=Status.FAILED, retry_count=3, last_error="HTTP 500")
    requeued = failed.requeued(at=LATER)
    assert requeued.status is Status.PENDING
    assert (requeued.retry_count, requeued.last_error, requeued.next_attempt_at) == (0, None, LATER)


@pytest.mark.parametrize("status", [Status.PENDING, Status.SENDING, Status.SENT])
def test_only_failed_messages_can_be_requeued(status: Status) -> None:
    with pytest.raises(InvalidTransitionError, match="Only FAILED"):
        a_message(status=status).requeued(at=LATER)


def test_cancelling_a_pending_message_fails_it_with_a_reason() -> None:
    cancelled = a_message().cancelled(at=LATER)
    assert cancelled.status is Status.FAILED
    assert cancelled.last_error == "Cancelled by an operator"


def test_a_sent_message_can_never_change_again() -> None:
    sent = a_message(status=Status.SENT)
    for target in Status:
        assert not can_transition(Status.SENT, target)
    with pytest.raises(InvalidTransitionError):
        sent.claimed(worker_id="w1", token=7, at=T0, lease=timedelta(seconds=1))


def test_a_pending_message_cannot_be_judged_without_being_claimed() -> None:
    outcome = DeliveryOutcome(duration=timedelta(milliseconds=5), status_code=202)
    with pytest.raises(InvalidTransitionError, match="not held by a claim"):
        judge(a_message(), outcome=outcome, policy=POLICY, started_ago=AGO)
