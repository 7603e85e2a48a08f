"""The Message entity's status transitions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core_domain.delivery import AttemptOutcome, DeliveryOutcome
from core_domain.errors import InvalidTransitionError
from core_domain.judge import judge
from core_domain.message import Status, can_transition
from core_domain.operator_changes import OperatorAction
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


def test_operator_actions_apply_to_one_status_each() -> None:
    assert (OperatorAction.REQUEUE.applies_to, OperatorAction.REQUEUE.results_in) == (
        Status.FAILED, Status.PENDING,
    )  # fmt: skip
    assert (OperatorAction.CANCEL.applies_to, OperatorAction.CANCEL.results_in) == (
        Status.PENDING, Status.FAILED,
    )  # fmt: skip
    for action in OperatorAction:
        assert can_transition(action.applies_to, action.results_in)


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


@pytest.mark.parametrize("status", list(Status))
def test_only_a_message_still_in_play_has_a_next_attempt(status: Status) -> None:
    message = a_message(status=status, next_attempt_at=LATER)
    is_final = status in (Status.SENT, Status.FAILED)
    assert message.is_final is is_final
    assert message.next_attempt == (None if is_final else LATER)
