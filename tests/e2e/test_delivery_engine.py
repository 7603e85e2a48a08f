"""The delivery engine as users run it: skewed host clocks, wake-ups, retries (SPEC §9)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest
from django.db import connection

from core_domain.use_cases.create_messages import NewMessage
from messaging import models
from messaging.bootstrap import use_cases
from tests.e2e.processes import Process, dispatcher_env, skewed, wait_until
from tests.integration.receivers import Reply

pytestmark = pytest.mark.django_db(transaction=True)


def database_now():
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        return cursor.fetchone()[0]


def start(name: str, args: list[str], *, env: dict[str, str], logs: Path) -> Process:
    logs.mkdir(parents=True, exist_ok=True)
    return Process(["run_dispatcher", *args], env=env, log=logs / f"{name}.log")


def test_dispatchers_5_minutes_ahead_and_behind_deliver_each_message_once_promptly(
    receiver, seed, tmp_path
) -> None:
    messages = seed(120)
    receiver.script(*[Reply(delay=0.02)] * 120)  # calls overlap the other dispatcher's claims
    # A 9 s lease: a dispatcher that trusted a clock 5 minutes ahead would take over every
    # message the other one is sending; one 5 minutes behind would find nothing due.
    env = dispatcher_env(webhook_url=receiver.url, WEBHOOK_TIMEOUT="2s")
    args = ["--drain", "--interval", "1s", "--batch-size", "5", "--concurrency", "4"]
    ahead = start("ahead", args, env=skewed(env, "+5m"), logs=tmp_path)
    behind = start("behind", args, env=skewed(env, "-5m"), logs=tmp_path)
    try:
        wait_until(
            lambda: models.Message.objects.filter(status="SENT").count() == 120,
            timeout=60,
            what="120 messages SENT",
        )
        now = database_now()
        beats = {w.pid: w.last_heartbeat for w in models.Worker.objects.all()}
    finally:
        codes = [ahead.stop(), behind.stop()]
    assert codes == [0, 0], ahead.output + behind.output
    assert receiver.counts() == {str(m.id): 1 for m in messages}
    workers = set(models.Message.objects.values_list("locked_by", flat=True))
    assert len(workers) == 2, "one of the skewed dispatchers delivered nothing"
    assert {ahead.popen.pid, behind.popen.pid} <= set(beats)
    for pid in (ahead.popen.pid, behind.popen.pid):  # stamped on the database's clock
        assert abs((now - beats[pid]).total_seconds()) < 30


def create_one(content: str):
    return use_cases().create_messages.execute(
        items=[NewMessage(phone_number="+905551234567", content=content)]
    )[0]


def test_an_idle_drain_delivers_new_messages_and_retries_without_waiting_for_the_interval(
    receiver, tmp_path
) -> None:
    env = dispatcher_env(webhook_url=receiver.url, WEBHOOK_BACKOFF_BASE="1s")
    dispatcher = start("idle", ["--drain", "--interval", "1m"], env=env, logs=tmp_path)
    try:
        wait_until(lambda: models.Worker.objects.exists(), timeout=30, what="the first heartbeat")
        latencies = []
        for number in range(200):
            created = time.monotonic()
            create_one(f"one by one {number}")
            (request,) = receiver.wait_for(number + 1, timeout=30)[number:]
            latencies.append(request.received_at - created)
        receiver.script(Reply(status=503))
        retried = create_one("answered 503 first")
        wait_until(lambda: receiver.count(str(retried.id)) == 2, timeout=30, what="the retry")
    finally:
        assert dispatcher.stop() == 0, dispatcher.output
    quantiles = statistics.quantiles(latencies, n=100)
    print(f"create -> webhook over 200: p50 {quantiles[49] * 1000:.0f} ms, "
          f"p99 {quantiles[98] * 1000:.0f} ms")  # fmt: skip
    # With only the 1-minute timed wake these would be about 30 s and 60 s.
    assert quantiles[49] < 1.0 and quantiles[98] < 10.0
    key = str(retried.id)
    first, second = (r.received_at for r in receiver.requests if r.idempotency_key == key)
    print(f"retry due after 0.8-1 s went out {second - first:.2f} s after the failure")
    assert 0.75 <= second - first < 10.0


def test_a_stalling_receiver_never_gets_two_calls_for_one_message_at_once(
    receiver, seed, tmp_path
) -> None:
    """Every call ends within WEBHOOK_TIMEOUT, so it always ends inside its lease: with a lease
    only 0.8 s longer than the timeout, a call that ran on would overlap the next claim."""
    messages = seed(6)
    # Headers just before the deadline, then a body that drips for a minute.
    receiver.script(*[Reply(status=503, delay=0.95, action="drip", drip_interval=0.3)] * 100)
    # Every call fails, so no circuit breaker here: it would hold the retries back.
    env = dispatcher_env(webhook_url=receiver.url, WEBHOOK_TIMEOUT="1s", WEBHOOK_LEASE="1800ms",
                         WEBHOOK_MAX_RETRIES="2", WEBHOOK_CIRCUIT_FAILURES="0")  # fmt: skip
    args = ["--drain", "--interval", "1s", "--batch-size", "3", "--concurrency", "3"]
    first = start("first", args, env=env, logs=tmp_path)
    second = start("second", args, env=env, logs=tmp_path)
    try:
        wait_until(
            lambda: models.Message.objects.filter(status="FAILED").count() == 6,
            timeout=90,
            what="every message FAILED after its retries",
        )
    finally:
        codes = [first.stop(), second.stop()]
    assert codes == [0, 0], first.output + second.output
    assert receiver.overlapping == set(), "a message had two calls open at once"
    assert receiver.counts() == {str(m.id): 3 for m in messages}
    durations = list(models.DeliveryAttempt.objects.values_list("duration_ms", flat=True))
    assert len(durations) == 18 and max(durations) <= 2000, durations
    assert set(models.DeliveryAttempt.objects.values_list("status_code", flat=True)) <= {503, None}
