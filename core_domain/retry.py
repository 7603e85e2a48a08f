"""The retry policy: which outcomes are retried, when, and when to give up."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from core_domain.delivery import AttemptOutcome, CallResult

RETRYABLE_STATUS_CODES = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: AttemptOutcome
    error: str | None = None
    retry_in: timedelta | None = None  # set when a retry is scheduled


def describe(outcome: CallResult) -> str:
    """A one-line description of a failed call for `lastError`."""
    if outcome.status_code is None:
        return outcome.error or "no response"
    excerpt = outcome.response_excerpt.strip().replace("\n", " ")[:200]
    return f"HTTP {outcome.status_code}" + (f": {excerpt}" if excerpt else "")


def is_retryable(outcome: CallResult) -> bool:
    """Connection errors, timeouts, 408, 429 and 5xx are worth another try."""
    code = outcome.status_code
    return code is None or code in RETRYABLE_STATUS_CODES or code >= 500


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, at most `max_retries` retries after the first attempt.

    The delay before retry n (n = 1, 2, ...) is min(backoff_max, backoff_base × 2^(n-1)),
    scaled by a random factor in [1 - jitter, 1], and never earlier than `Retry-After`.
    """

    max_retries: int = 3
    backoff_base: timedelta = timedelta(seconds=1)
    backoff_max: timedelta = timedelta(minutes=5)
    jitter: float = 0.2
    random_fraction: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, *, retry_number: int) -> timedelta:
        exponential = self.backoff_base * (2 ** (retry_number - 1))
        capped = min(self.backoff_max, exponential)
        return capped * (1 - self.jitter * self.random_fraction())

    def decide(self, *, outcome: CallResult, retries_so_far: int) -> Decision:
        if outcome.is_success:
            return Decision(AttemptOutcome.DELIVERED)
        error = describe(outcome)
        if not is_retryable(outcome):
            return Decision(AttemptOutcome.FAILED, error=f"{error} (not retryable)")
        if retries_so_far >= self.max_retries:
            return Decision(
                AttemptOutcome.FAILED,
                error=f"{error} (gave up after {retries_so_far + 1} attempts)",
            )
        wait = self.delay(retry_number=retries_so_far + 1)
        if outcome.retry_after is not None:
            wait = max(wait, outcome.retry_after)
        return Decision(AttemptOutcome.RETRY_SCHEDULED, error=error, retry_in=wait)
