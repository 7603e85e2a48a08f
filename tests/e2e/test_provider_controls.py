"""Sending like a good citizen, across a fleet of dispatchers (SPEC §10): the send rate, the
receiver's Retry-After, the circuit breaker, and the client's schedule."""

from __future__ import annotations

import bisect
import time
from datetime import timedelta

import pytest
from django.db import connection

from core_domain.send_gate import CircuitState
from core_domain.use_cases.create_messages import NewMessage
from messaging import models
from messaging.bootstrap import use_cases
from tests.e2e.processes import dispatcher_env, dispatchers, wait_until
from tests.integration.receivers import Reply, ScriptedReceiver, closed_port

pytestmark = pytest.mark.django_db(transaction=True)

DRAIN = ("--drain", "--interval", "1s", "--batch-size", "10", "--concurrency", "8")


def sent_count() -> int:
    return models.Message.objects.filter(status="SENT").count()


def database_now():
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        return cursor.fetchone()[0]


def test_three_dispatchers_together_keep_to_20_messages_a_second(receiver, seed, tmp_path) -> None:
    seed(400)
    env = dispatcher_env(webhook_url=receiver.url, WEBHOOK_RATE_LIMIT="20/s")
    with dispatchers(3, *DRAIN, env=env, logs=tmp_path):
        wait_until(lambda: sent_count() == 400, timeout=90, what="400 messages SENT")
    arrivals = sorted(r.received_at for r in receiver.requests)
    busiest = max(bisect.bisect_left(arrivals, t + 5) - i for i, t in enumerate(arrivals))
    span = arrivals[-1] - arrivals[0]
    print(f"400 messages in {span:.1f} s; busiest 5 s window: {busiest} ({busiest / 5:.1f}/s)")
    assert busiest <= 5 * 22  # never more than 10 % over the limit
    assert 17.0 <= span <= 23.0  # 400 at 20/s is 20 s (± 15 %): the limit, not slower
    assert len(arrivals) == 400


def test_a_429_with_retry_after_holds_every_dispatcher_back(receiver, seed, tmp_path) -> None:
    seed(200)
    receiver.default = Reply(delay=0.02)
    receiver.script(*[Reply(delay=0.02)] * 30, Reply(status=429, headers={"Retry-After": "3"}))
    env = dispatcher_env(webhook_url=receiver.url)
    with dispatchers(3, *DRAIN, env=env, logs=tmp_path):
        wait_until(lambda: sent_count() == 200, timeout=90, what="200 messages SENT")
    throttled = receiver.requests[30]
    others = [r.received_at - throttled.received_at for r in receiver.requests]
    # Calls that were on their way when the 429 went out may still land: a tenth of a second.
    held = [gap for gap in others if 0.1 < gap < 3.0]

    print(
        f"calls within 3 s of the 429: {sum(0 < g < 3 for g in others)}, after 0.1 s: {len(held)}"
    )
    assert held == []
    again = [r for r in receiver.requests if r.idempotency_key == throttled.idempotency_key]
    assert len(again) == 2 and again[1].received_at - throttled.received_at >= 3.0


def test_a_receiver_that_is_down_opens_the_circuit_and_no_message_fails(seed, tmp_path) -> None:
    """Connection refused, then 503, then up again: the circuit stops the calls, nobody
    spends their retries, and everything is delivered soon after the receiver is back."""
    seed(200)
    port = closed_port()
    env = dispatcher_env(webhook_url=f"http://127.0.0.1:{port}/webhook",
                         WEBHOOK_MAX_RETRIES="3", WEBHOOK_CIRCUIT_COOLDOWN="1s")  # fmt: skip
    with dispatchers(2, *DRAIN, env=env, logs=tmp_path):
        wait_until(
            lambda: use_cases().scheduler_status.execute().gate.state is CircuitState.OPEN,
            timeout=30,
            what="the circuit to open on refused connections",
        )
        refused = models.DeliveryAttempt.objects.count()
        time.sleep(2)  # the point of the test: a while with the receiver still down
        with ScriptedReceiver(port=port) as receiver:
            receiver.default = Reply(status=503, body="maintenance")
            time.sleep(4)  # down, answering 503: only probes may come, 1 s then 2 s apart
            probes = len(receiver.requests)
            back = time.monotonic()
            receiver.default = Reply()
            wait_until(lambda: sent_count() == 200, timeout=60, what="200 messages SENT")
            recovered = time.monotonic() - back
    assert refused <= 10 + 2 * 8  # the failures that opened it, and the calls then in flight
    assert 1 <= probes <= 3, probes
    assert models.Message.objects.filter(status="FAILED").count() == 0
    print(f"opened after {refused} failed calls; {probes} probes while down; all SENT "
          f"{recovered:.1f} s after the receiver came back")  # fmt: skip
    assert recovered < 4 + 30  # within the cooldown reached (at most 4 s here) plus the drain


def test_a_410_opens_the_circuit_at_once(receiver, seed, tmp_path) -> None:
    seed(20)
    receiver.default = Reply(status=410, body="gone")
    env = dispatcher_env(webhook_url=receiver.url, WEBHOOK_CIRCUIT_COOLDOWN="1m")
    args = ("--drain", "--interval", "1s", "--concurrency", "1")
    with dispatchers(1, *args, env=env, logs=tmp_path):
        wait_until(lambda: receiver.requests, timeout=30, what="the first call")
        wait_until(
            lambda: use_cases().scheduler_status.execute().gate.state is CircuitState.OPEN,
            timeout=30,
            what="the circuit to open",
        )
        time.sleep(2)  # nothing more may come: the first probe is a minute away
    assert len(receiver.requests) == 1
    assert "410" in use_cases().scheduler_status.execute().gate.reason


def test_send_at_holds_a_message_back_and_expires_at_fails_it_unsent(receiver, tmp_path) -> None:
    now = database_now()
    later = (
        use_cases()
        .create_message.execute(
            phone_number="+905551234567", content="in 5 s", send_at=now + timedelta(seconds=5)
        )
        .message
    )
    use_cases().set_scheduler_state.execute(is_running=False)
    soon = use_cases().create_messages.execute(
        items=[NewMessage("+905551234567", f"expires {n}", expires_at=now + timedelta(seconds=1))
               for n in range(3)]
    )  # fmt: skip
    env = dispatcher_env(webhook_url=receiver.url)
    with dispatchers(1, "--drain", "--interval", "1s", env=env, logs=tmp_path):
        time.sleep(1.5)  # the point of the test: their expiresAt passes while nobody sends
        use_cases().set_scheduler_state.execute(is_running=True)
        wait_until(lambda: receiver.count(str(later.id)), timeout=30, what="the scheduled one")
        expired = models.Message.objects.filter(id__in=[m.id for m in soon])
        wait_until(lambda: {m.status for m in expired} == {"FAILED"}, timeout=30, what="expiry")
    (arrival,) = receiver.requests
    assert arrival.idempotency_key == str(later.id)
    sent_at = models.Message.objects.get(id=later.id).sent_at
    assert (sent_at - now) >= timedelta(seconds=5)
    assert {m.last_error for m in expired} == {"expired before delivery"}
    assert not models.DeliveryAttempt.objects.filter(message_id__in=[m.id for m in soon]).exists()
