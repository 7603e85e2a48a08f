"""The retry policy of SPEC §6: what is retried, when, and when it gives up."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core_domain.delivery import AttemptOutcome, CallResult
from core_domain.retry import RetryPolicy

NO_JITTER = RetryPolicy(
    max_retries=3,
    backoff_base=timedelta(seconds=1),
    backoff_max=timedelta(seconds=5),
    jitter=0.2,
    random_fraction=lambda: 0.0,
)


def answered(status: int, **fields) -> CallResult:
    return CallResult(duration=timedelta(milliseconds=5), status_code=status, **fields)


def no_response(error: str) -> CallResult:
    return CallResult(duration=timedelta(seconds=30), error=error)


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_is_a_delivery(status) -> None:
    assert (
        NO_JITTER.decide(outcome=answered(status), retries_so_far=0).outcome
        is AttemptOutcome.DELIVERED
    )


@pytest.mark.parametrize(
    "outcome",
    [
        answered(500),
        answered(503),
        answered(408),
        answered(429),
        no_response("timed out after 30s (read)"),
        no_response("connection refused"),
    ],
)
def test_5xx_408_429_timeouts_and_connection_errors_are_retried(outcome) -> None:
    decision = NO_JITTER.decide(outcome=outcome, retries_so_far=0)
    assert decision.outcome is AttemptOutcome.RETRY_SCHEDULED
    assert decision.retry_in == timedelta(seconds=1)
    assert decision.error


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422, 301, 302, 307])
def test_other_4xx_and_3xx_fail_at_once(status) -> None:
    decision = NO_JITTER.decide(outcome=answered(status, response_excerpt="nope"), retries_so_far=0)
    assert decision.outcome is AttemptOutcome.FAILED
    assert decision.error == f"HTTP {status}: nope (not retryable)"


def test_backoff_doubles_and_is_capped() -> None:
    delays = [NO_JITTER.delay(retry_number=n) for n in range(1, 6)]
    assert delays == [timedelta(seconds=s) for s in (1, 2, 4, 5, 5)]


def test_jitter_only_shortens_the_delay_by_up_to_the_jitter_fraction() -> None:
    full_jitter = RetryPolicy(
        backoff_base=timedelta(seconds=10), jitter=0.2, random_fraction=lambda: 1.0
    )
    assert full_jitter.delay(retry_number=1) == timedelta(seconds=8)


def test_retry_after_pushes_the_next_attempt_later() -> None:
    outcome = answered(429, retry_after=timedelta(seconds=2))
    decision = NO_JITTER.decide(outcome=outcome, retries_so_far=0)
    assert decision.retry_in == timedelta(seconds=2)


def test_retry_after_shorter_than_the_backoff_does_not_shorten_it() -> None:
    outcome = answered(503, retry_after=timedelta(seconds=0))
    decision = NO_JITTER.decide(outcome=outcome, retries_so_far=2)
    assert decision.retry_in == timedelta(seconds=4)


def test_gives_up_after_max_retries_with_the_last_error() -> None:
    decision = NO_JITTER.decide(outcome=answered(500), retries_so_far=3)
    assert decision.outcome is AttemptOutcome.FAILED
    assert decision.error == "HTTP 500 (gave up after 4 attempts)"


def test_zero_max_retries_fails_on_the_first_retryable_error() -> None:
    policy = RetryPolicy(max_retries=0)
    assert policy.decide(outcome=answered(500), retries_so_far=0).outcome is AttemptOutcome.FAILED
