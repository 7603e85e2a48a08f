"""A SIGKILLed dispatcher loses nothing; a SIGTERMed one finishes in-flight sends and hands back."""

from __future__ import annotations

import time

import pytest

from messaging import models
from tests.e2e.processes import dispatcher_env, dispatchers, wait_until
from tests.integration.receivers import Reply

pytestmark = pytest.mark.django_db(transaction=True)


def statuses() -> dict[str, int]:
    return dict(models.Message.objects.values_list("status").annotate(n=models.models.Count("id")))


def test_a_killed_dispatchers_messages_are_delivered_after_its_lease_expires(
    receiver, seed, tmp_path
) -> None:
    messages = seed(12)
    receiver.script(*[Reply(delay=1.0)] * 4)  # the first sends are in flight for a second
    env = dispatcher_env(webhook_url=receiver.url, WEBHOOK_TIMEOUT="2s", WEBHOOK_LEASE="3s")
    with dispatchers(1, "--drain", "--interval", "100ms", "--batch-size", "4", "--concurrency", "4",
                     env=env, logs=tmp_path) as (victim,):  # fmt: skip
        receiver.wait_for(4, timeout=60)  # four sends are now in flight
        in_flight = set(
            str(i)
            for i in models.Message.objects.filter(status="SENDING").values_list("id", flat=True)
        )
        victim.kill()
    assert in_flight, "nothing was in flight at the kill"
    with dispatchers(1, "--drain", "--interval", "200ms", env=env, logs=tmp_path / "after"):
        wait_until(lambda: statuses() == {"SENT": 12}, timeout=60, what="every message SENT")
    counts = receiver.counts()
    assert set(counts) == {str(m.id) for m in messages}, "a message was lost"
    duplicated = {key for key, n in counts.items() if n > 1}
    assert duplicated <= in_flight, "a message not in flight at the kill was sent twice"


def test_sigterm_mid_batch_finishes_in_flight_sends_and_leaves_the_rest_pending(
    receiver, seed, tmp_path
) -> None:
    seed(10)
    receiver.script(*[Reply(delay=1.0)] * 10)
    env = dispatcher_env(webhook_url=receiver.url, WEBHOOK_TIMEOUT="5s")
    logs = tmp_path
    with dispatchers(1, "--batch-size", "10", "--concurrency", "2", "--interval", "1h",
                     env=env, logs=logs) as (dispatcher,):  # fmt: skip
        receiver.wait_for(2, timeout=60)  # two sends in flight; the other eight not claimed
        signalled = time.monotonic()
        exit_code = dispatcher.stop(timeout=5 + 5)
        waited = time.monotonic() - signalled
    assert exit_code == 0, dispatcher.output
    assert waited < 5 + 5
    assert models.Message.objects.filter(status="SENDING").count() == 0
    counts = statuses()
    assert counts.get("SENT", 0) == len(receiver.requests)  # what went out was finalized
    assert counts.get("PENDING", 0) == 10 - len(receiver.requests)  # the rest is still due
    # Never more claimed than could start at once: nothing was held unsent at the signal.
    assert "tick: claimed=2 sent=2" in dispatcher.output


def test_sigterm_while_the_dispatcher_is_still_starting_exits_0(receiver, tmp_path) -> None:
    env = dispatcher_env(webhook_url=receiver.url)
    with dispatchers(1, "--interval", "1h", env=env, logs=tmp_path) as (dispatcher,):
        time.sleep(0.3)  # the point of the test: a signal during start-up, before Django is ready
        assert dispatcher.stop(timeout=30) == 0, dispatcher.output
