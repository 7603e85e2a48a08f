"""One suite, two send gates: the in-memory fake and the Django one on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.django_send_gate import DjangoSendGate
from core_domain.delivery import DeliveryOutcome
from core_domain.send_gate import CircuitPolicy, CircuitState
from messaging import models
from tests.fakes import FixedClock, InMemorySendGate

pytestmark = pytest.mark.django_db
POLICY = CircuitPolicy(failures=3, cooldown=timedelta(minutes=5))
PROBE_TIMEOUT = timedelta(seconds=65)
NEAR = timedelta(seconds=5)  # PostgreSQL's clock against this host's, same machine
CALL = timedelta(milliseconds=20)
FAILED = DeliveryOutcome(duration=CALL, status_code=503)
DELIVERED = DeliveryOutcome(duration=CALL, status_code=202, external_id="x")


@pytest.fixture(params=["in-memory", "postgresql"])
def gate(request):
    if request.param == "in-memory":
        return InMemorySendGate(clock=FixedClock(), policy=POLICY, probe_timeout=PROBE_TIMEOUT)
    return DjangoSendGate(
        state=models.SendGateState, rate=None, policy=POLICY, probe_timeout=PROBE_TIMEOUT
    )


def now_of(gate) -> datetime:
    """The gate's clock: the fake's FixedClock, or (same host) PostgreSQL's."""
    if isinstance(gate, InMemorySendGate):
        return gate.clock.now()
    return datetime.now(UTC)


def test_a_closed_gate_without_a_rate_grants_everything_asked(gate) -> None:
    assert gate.acquire(7).granted == 7
    assert gate.state().state is CircuitState.CLOSED
    assert gate.close_circuit() is False  # closed already


def test_consecutive_failures_open_the_circuit_and_a_success_resets_them(gate) -> None:
    gate.record([FAILED, FAILED])
    gate.record([DELIVERED])
    assert (gate.state().state, gate.state().failures) == (CircuitState.CLOSED, 0)

    gate.record([FAILED] * 3)

    opened = gate.state()
    assert (opened.state, opened.failures) == (CircuitState.OPEN, 3)
    assert gate.acquire(5).granted == 0  # no probe before the cooldown


def test_closing_an_open_circuit_by_hand_lets_everything_out_again(gate) -> None:
    gate.record([FAILED] * 3)

    assert gate.close_circuit() is True

    assert gate.state().state is CircuitState.CLOSED
    assert gate.acquire(5).granted == 5


def test_a_retry_after_pauses_every_sender_until_it_has_passed(gate) -> None:
    gate.record([DeliveryOutcome(duration=CALL, status_code=503, retry_after=timedelta(minutes=2))])

    paused_until = gate.state().paused_until
    assert paused_until is not None
    assert abs(paused_until - (now_of(gate) + timedelta(minutes=2))) < NEAR
    permit = gate.acquire(5)
    assert permit.granted == 0 and permit.wait is not None and permit.wait > timedelta(0)
