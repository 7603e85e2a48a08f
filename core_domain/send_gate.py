"""The rules of sending like a good citizen: the fleet's send rate, the receiver's own
Retry-After, and the circuit breaker (SPEC §10). Pure functions over one shared state, which
an adapter keeps in the database and changes under a lock."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from core_domain.delivery import CallResult
from core_domain.retry import is_retryable

THROTTLING_STATUSES = frozenset({429, 503})  # their Retry-After pauses the whole fleet
GONE = 410  # the receiver says this endpoint is gone: stop at once
MAX_COOLDOWN = timedelta(minutes=10)
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|m)\s*$")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `per_second` sends a second across the fleet, smoothly: a token bucket that
    holds at most `burst` tokens (a tenth of a second's budget, at least one)."""

    per_second: float

    @classmethod
    def parse(cls, text: str) -> RateLimit | None:
        """`50/s`, `3000/m`, or `0` (None: no limit); raises ValueError otherwise."""
        if str(text).strip() == "0":
            return None
        found = _RATE.match(str(text).lower())
        if not found or float(found[1]) <= 0:
            raise ValueError(f"not a rate: {text!r}")
        amount = float(found[1])
        return cls(per_second=amount if found[2] == "s" else amount / 60)

    @property
    def burst(self) -> float:
        return max(1.0, self.per_second / 10)

    def __str__(self) -> str:
        per_second = self.per_second
        return f"{per_second:g}/s" if per_second >= 1 else f"{per_second * 60:g}/m"


@dataclass(frozen=True, slots=True)
class CircuitPolicy:
    """`failures` consecutive retryable failures (0: no circuit at all) or one 410 open the
    circuit; probes come `cooldown` apart, doubling while they fail, up to MAX_COOLDOWN."""

    failures: int = 10
    cooldown: timedelta = timedelta(seconds=30)

    @property
    def is_on(self) -> bool:
        return self.failures > 0


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Verdict(StrEnum):
    """What a call says about the receiver."""

    DELIVERED = "delivered"  # it works
    FAILED = "failed"  # a retryable failure: it may be down
    GONE = "gone"  # 410: it says it is gone for good
    ANSWERED = "answered"  # it refused this message, or asked to slow down (429): it is up

    @classmethod
    def of(cls, outcome: CallResult) -> Verdict:
        if outcome.is_success:
            return cls.DELIVERED
        if outcome.status_code == GONE:
            return cls.GONE
        if outcome.status_code == 429 or not is_retryable(outcome):
            return cls.ANSWERED
        return cls.FAILED


def throttled_for(outcome: CallResult) -> timedelta | None:
    """How long the receiver asked the whole fleet to wait (a 429 or 503 with Retry-After)."""
    if outcome.status_code in THROTTLING_STATUSES and outcome.retry_after is not None:
        return outcome.retry_after
    return None


@dataclass(frozen=True, slots=True)
class Gate:
    """The fleet's shared state: the rate bucket, the receiver's pause and the circuit."""

    tokens: float
    refilled_at: datetime
    paused_until: datetime | None = None
    state: CircuitState = CircuitState.CLOSED
    reason: str | None = None
    since: datetime | None = None
    next_probe_at: datetime | None = None
    failures: int = 0  # consecutive retryable failures
    cooldown: timedelta | None = None  # the current wait between probes
    probe_deadline: datetime | None = None  # a probe not back by then is given out again

    @property
    def is_clear(self) -> bool:
        """Nothing holds sending back and nothing needs writing for a delivery."""
        return self.state is CircuitState.CLOSED and self.paused_until is None and not self.failures


@dataclass(frozen=True, slots=True)
class Permit:
    """How many messages may be claimed now; `is_probe`: the one message that tests an open
    circuit; `wait`: how long until asking again is worth it (when nothing was granted)."""

    granted: int
    is_probe: bool = False
    wait: timedelta | None = None


def acquire(
    gate: Gate,
    *,
    want: int,
    now: datetime,
    rate: RateLimit | None,
    probe_timeout: timedelta,
) -> tuple[Gate, Permit]:
    """Permission to send up to `want` messages now."""
    if gate.paused_until is not None and now < gate.paused_until:
        return gate, Permit(0, wait=gate.paused_until - now)
    if gate.state is not CircuitState.CLOSED:
        due = gate.next_probe_at if gate.state is CircuitState.OPEN else gate.probe_deadline
        if due is not None and now < due:
            return gate, Permit(0, wait=due - now)
        probing = dataclasses.replace(
            gate, state=CircuitState.HALF_OPEN, probe_deadline=now + probe_timeout
        )
        return probing, Permit(1, is_probe=True)
    if rate is None:
        return gate, Permit(want)
    tokens = min(
        rate.burst, gate.tokens + rate.per_second * (now - gate.refilled_at).total_seconds()
    )
    granted = min(want, math.floor(tokens))
    refilled = dataclasses.replace(gate, tokens=tokens - granted, refilled_at=now)
    if granted:
        return refilled, Permit(granted)
    return refilled, Permit(0, wait=timedelta(seconds=(1 - tokens) / rate.per_second))


def refund(gate: Gate, *, unused: int, rate: RateLimit | None) -> Gate:
    """Tokens granted but not used (fewer messages were due) go back into the bucket."""
    if rate is None or unused <= 0:
        return gate
    return dataclasses.replace(gate, tokens=min(rate.burst, gate.tokens + unused))


def record(
    gate: Gate,
    *,
    verdicts: Sequence[Verdict],
    pause: timedelta | None,
    now: datetime,
    policy: CircuitPolicy,
    last_error: str | None = None,
) -> Gate:
    """The state after these calls' results, in the order they ended."""
    if pause is not None:
        until = now + pause
        gate = dataclasses.replace(gate, paused_until=max(until, gate.paused_until or until))
    elif gate.paused_until is not None and gate.paused_until <= now:
        gate = dataclasses.replace(gate, paused_until=None)
    if not policy.is_on:
        return gate
    for verdict in verdicts:
        gate = _after(gate, verdict, now=now, policy=policy, last_error=last_error)
    return gate


def close(gate: Gate, *, now: datetime) -> Gate:
    """Closed: sending resumes at full pace (a delivery, or an operator)."""
    return dataclasses.replace(
        gate, state=CircuitState.CLOSED, reason=None, since=now, next_probe_at=None,
        failures=0, cooldown=None, probe_deadline=None,
    )  # fmt: skip


def _after(
    gate: Gate, verdict: Verdict, *, now: datetime, policy: CircuitPolicy, last_error: str | None
) -> Gate:
    if verdict in (Verdict.DELIVERED, Verdict.ANSWERED):
        return (
            close(gate, now=now)
            if gate.state is not CircuitState.CLOSED
            else (dataclasses.replace(gate, failures=0) if gate.failures else gate)
        )
    failures = gate.failures + 1
    if verdict is Verdict.GONE:
        return _open(gate, now=now, cooldown=policy.cooldown, failures=failures,
                     reason="the webhook answered 410 Gone")  # fmt: skip
    if gate.state is CircuitState.HALF_OPEN:
        cooldown = min(MAX_COOLDOWN, 2 * (gate.cooldown or policy.cooldown))
        return _open(gate, now=now, cooldown=cooldown, failures=failures,
                     reason=f"the probe failed: {last_error or 'no delivery'}")  # fmt: skip
    if gate.state is CircuitState.CLOSED and failures >= policy.failures:
        reason = f"{failures} failures in a row, the last: {last_error or '?'}"
        return _open(gate, now=now, cooldown=policy.cooldown, failures=failures, reason=reason)
    return dataclasses.replace(gate, failures=failures)


def _open(gate: Gate, *, now: datetime, cooldown: timedelta, failures: int, reason: str) -> Gate:
    since = gate.since if gate.state is not CircuitState.CLOSED and gate.since else now
    return dataclasses.replace(
        gate, state=CircuitState.OPEN, reason=reason, since=since, next_probe_at=now + cooldown,
        failures=failures, cooldown=cooldown, probe_deadline=None,
    )  # fmt: skip
