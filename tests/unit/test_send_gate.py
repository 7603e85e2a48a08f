"""The fleet's send rules: rate, the receiver's Retry-After, the circuit breaker (SPEC §10)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from core_domain.delivery import CallResult
from core_domain.send_gate import (
    MAX_COOLDOWN,
    CircuitPolicy,
    CircuitState,
    Gate,
    RateLimit,
    Verdict,
    acquire,
    close,
    record,
    refund,
    throttled_for,
)
from tests.fakes import T0

POLICY = CircuitPolicy(failures=3, cooldown=timedelta(seconds=30))
PROBE = timedelta(seconds=65)
MS = timedelta(milliseconds=1)


def fresh(**changes) -> Gate:
    return dataclasses.replace(Gate(tokens=1.0, refilled_at=T0), **changes)


def answer(status: int | None, **fields) -> CallResult:
    return CallResult(duration=MS, status_code=status, **fields)


@pytest.mark.parametrize(("text", "per_second"), [("50/s", 50), ("3000/m", 50), ("0.5/s", 0.5)])
def test_rates_read_per_second_or_per_minute(text, per_second) -> None:
    assert RateLimit.parse(text).per_second == per_second


@pytest.mark.parametrize("text", ["fast", "50", "-1/s", "0/s", "10/h"])
def test_malformed_rates_are_refused(text) -> None:
    with pytest.raises(ValueError):
        RateLimit.parse(text)


def test_zero_is_no_rate_limit_and_the_burst_is_a_tenth_of_a_second() -> None:
    assert RateLimit.parse("0") is None
    assert (RateLimit(per_second=20).burst, RateLimit(per_second=2).burst) == (2.0, 1.0)


def test_a_greedy_fleet_never_gets_more_than_the_rate_plus_the_burst_over_5_seconds() -> None:
    rate, gate, granted = RateLimit(per_second=20), fresh(), 0
    for step in range(5000):  # asking for 64 every millisecond for 5 seconds
        gate, permit = acquire(gate, want=64, now=T0 + step * MS, rate=rate, probe_timeout=PROBE)
        granted += permit.granted
        assert permit.granted or permit.wait is not None
    assert 98 <= granted <= 5 * 20 + rate.burst  # 10 % over is the bound: this is 2 %


def test_unused_permits_go_back_to_the_bucket() -> None:
    rate = RateLimit(per_second=20)
    gate, permit = acquire(fresh(tokens=2.0), want=5, now=T0, rate=rate, probe_timeout=PROBE)
    assert permit.granted == 2 and gate.tokens == 0
    assert refund(gate, unused=1, rate=rate).tokens == 1


def test_a_429_with_retry_after_pauses_everyone_and_is_not_a_failure() -> None:
    slow_down = answer(429, retry_after=timedelta(seconds=3))
    assert (throttled_for(slow_down), Verdict.of(slow_down)) == (timedelta(seconds=3), "answered")
    assert throttled_for(answer(500, retry_after=timedelta(seconds=3))) is None
    gate = record(fresh(), verdicts=[Verdict.of(slow_down)], pause=throttled_for(slow_down),
                  now=T0, policy=POLICY)  # fmt: skip
    gate, permit = acquire(gate, want=8, now=T0 + timedelta(seconds=2), rate=None,
                           probe_timeout=PROBE)  # fmt: skip
    assert (permit.granted, permit.wait) == (0, timedelta(seconds=1))
    assert acquire(gate, want=8, now=T0 + timedelta(seconds=3), rate=None,
                   probe_timeout=PROBE)[1].granted == 8  # fmt: skip


def test_failures_in_a_row_open_the_circuit_and_an_answer_resets_the_count() -> None:
    gate = record(fresh(), verdicts=[Verdict.FAILED, Verdict.FAILED, Verdict.ANSWERED,
                                     Verdict.FAILED, Verdict.FAILED], pause=None, now=T0,
                  policy=POLICY)  # fmt: skip
    assert (gate.state, gate.failures) == (CircuitState.CLOSED, 2)
    gate = record(gate, verdicts=[Verdict.FAILED], pause=None, now=T0, policy=POLICY,
                  last_error="connection refused")  # fmt: skip
    assert gate.state is CircuitState.OPEN and "connection refused" in gate.reason
    assert (gate.since, gate.next_probe_at) == (T0, T0 + POLICY.cooldown)


def test_one_410_opens_the_circuit_at_once() -> None:
    gate = record(fresh(), verdicts=[Verdict.of(answer(410))], pause=None, now=T0, policy=POLICY)
    assert gate.state is CircuitState.OPEN and "410" in gate.reason


def test_an_open_circuit_sends_one_probe_per_cooldown_doubling_while_probes_fail() -> None:
    gate = record(fresh(), verdicts=[Verdict.GONE], pause=None, now=T0, policy=POLICY)
    waits, now = [], T0
    for _ in range(6):
        early = acquire(gate, want=8, now=now + MS, rate=None, probe_timeout=PROBE)[1]
        assert early.granted == 0
        now = gate.next_probe_at
        gate, probe = acquire(gate, want=8, now=now, rate=None, probe_timeout=PROBE)
        assert (probe.granted, probe.is_probe, gate.state) == (1, True, CircuitState.HALF_OPEN)
        assert acquire(gate, want=8, now=now, rate=None, probe_timeout=PROBE)[1].granted == 0
        gate = record(gate, verdicts=[Verdict.FAILED], pause=None, now=now, policy=POLICY)
        waits.append(gate.next_probe_at - now)
    assert waits == [timedelta(seconds=s) for s in (60, 120, 240, 480)] + [MAX_COOLDOWN] * 2
    assert gate.since == T0  # open all along


def test_a_delivered_probe_closes_the_circuit_and_a_lost_one_is_given_out_again() -> None:
    gate = record(fresh(), verdicts=[Verdict.GONE], pause=None, now=T0, policy=POLICY)
    gate, _ = acquire(gate, want=1, now=gate.next_probe_at, rate=None, probe_timeout=PROBE)
    lost_at = gate.probe_deadline
    again = acquire(gate, want=1, now=lost_at, rate=None, probe_timeout=PROBE)[1]
    assert again.is_probe  # its dispatcher died: another one probes
    gate = record(gate, verdicts=[Verdict.DELIVERED], pause=None, now=lost_at, policy=POLICY)
    assert (gate.state, gate.failures, gate.is_clear) == (CircuitState.CLOSED, 0, True)


def test_with_the_circuit_off_nothing_opens_it() -> None:
    gate = record(fresh(), verdicts=[Verdict.GONE] + [Verdict.FAILED] * 50, pause=None, now=T0,
                  policy=CircuitPolicy(failures=0))  # fmt: skip
    assert gate.state is CircuitState.CLOSED


def test_closing_by_hand_forgets_the_failures() -> None:
    gate = record(fresh(), verdicts=[Verdict.GONE], pause=None, now=T0, policy=POLICY)
    assert close(gate, now=T0).is_clear
