"""The Message entity's status transitions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core_domain.errors import InvalidTransitionError
from core_domain.message import Status, can_transition
from tests.fakes import T0, a_message

LATER = T0 + timedelta(seconds=10)


def test_a_new_message_is_pending_and_due_at_creation() -> None:
    message = a_message()
    assert message.status is Status.PENDING
    assert message.next_attempt_at == message.created_at == T0
    assert (message.retry_count, message.external_id, message.sent_at) == (0, None, None)


def test_claiming_leases_the_message_and_makes_it_due_again_when_the_lease_ends() -> None:
    claimed = a_message().claimed(worker_id="w1", at=T0, lease=timedelta(seconds=65))
    assert claimed.status is Status.SENDING
    assert claimed.locked_by == "w1"
    assert claimed.lease_expires_at == claimed.next_attempt_at == T0 + timedelta(seconds=65)


def test_sent_records_time_and_external_id() -> None:
    claimed = a_message().claimed(worker_id="w1", at=T0, lease=timedelta(seconds=65))
    sent = claimed.sent(at=LATER, external_id="ext-1")
    assert (sent.status, sent.sent_at, sent.external_id) == (Status.SENT, LATER, "ext-1")
    assert sent.attempt_count == 1


def test_a_scheduled_retry_counts_and_stores_the_error() -> None:
    claimed = a_message().claimed(worker_id="w1", at=T0, lease=timedelta(seconds=65))
    retried = claimed.retry_scheduled(at=LATER, next_attempt_at=LATER, error="HTTP 500")
    assert retried.status is Status.PENDING
    assert (retried.retry_count, retried.last_error) == (1, "HTTP 500")


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
        sent.claimed(worker_id="w1", at=T0, lease=timedelta(seconds=1))


def test_a_pending_message_cannot_be_marked_sent_without_being_claimed() -> None:
    with pytest.raises(InvalidTransitionError, match="PENDING; it cannot become SENT"):
        a_message().sent(at=LATER, external_id=None)
