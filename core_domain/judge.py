"""Turn one webhook call into the result a worker writes: the retry policy applied to a claim."""

from __future__ import annotations

from datetime import timedelta

from core_domain.delivery import AttemptOutcome, CallResult, Finalization
from core_domain.errors import InvalidTransitionError
from core_domain.message import Message, Status, can_transition
from core_domain.retry import RetryPolicy

EXCERPT_CHARS = 1024
_STATUS_AFTER = {
    AttemptOutcome.DELIVERED: Status.SENT,
    AttemptOutcome.RETRY_SCHEDULED: Status.PENDING,
    AttemptOutcome.FAILED: Status.FAILED,
}


def judge(
    message: Message, *, outcome: CallResult, policy: RetryPolicy, started_ago: timedelta
) -> Finalization:
    """The result of one attempt of a claimed (SENDING) message.

    Every attempt counts; a scheduled retry also counts as a retry (retryCount). A delivery
    clears `last_error`. Raises InvalidTransitionError when `message` is not held by a claim.
    """
    decision = policy.decide(outcome=outcome, retries_so_far=message.retry_count)
    status = _STATUS_AFTER[decision.outcome]
    if message.claim_token is None or not can_transition(message.status, status):
        raise InvalidTransitionError(f"Message {message.id} is not held by a claim")
    is_retry = decision.outcome is AttemptOutcome.RETRY_SCHEDULED
    delivered = decision.outcome is AttemptOutcome.DELIVERED
    return Finalization(
        message_id=message.id,
        claim_token=message.claim_token,
        status=status,
        retry_count=message.retry_count + (1 if is_retry else 0),
        attempt_count=message.attempt_count + 1,
        external_id=outcome.external_id if delivered else message.external_id,
        last_error=None if delivered else decision.error,
        retry_in=decision.retry_in,
        outcome=decision.outcome,
        started_ago=started_ago,
        duration_ms=max(0, round(outcome.duration.total_seconds() * 1000)),
        status_code=outcome.status_code,
        error=decision.error,
        response_excerpt=outcome.response_excerpt[:EXCERPT_CHARS],
    )
