"""Several run_dispatcher processes on one PostgreSQL: each message reaches the receiver once."""

from __future__ import annotations

import pytest

from messaging import models
from tests.e2e.processes import dispatcher_env, dispatchers, wait_until
from tests.integration.receivers import Reply

pytestmark = pytest.mark.django_db(transaction=True)


def sent_count() -> int:
    return models.Message.objects.filter(status="SENT").count()


def test_three_dispatchers_deliver_300_messages_each_exactly_once(receiver, seed, tmp_path) -> None:
    messages = seed(300)
    receiver.script(*[Reply(delay=0.01)] * 300)  # a little latency lets the workers interleave
    env = dispatcher_env(webhook_url=receiver.url)
    args = ("--drain", "--interval", "200ms", "--batch-size", "5", "--concurrency", "4")
    with dispatchers(3, *args, env=env, logs=tmp_path) as processes:
        wait_until(lambda: sent_count() == 300, timeout=120, what="300 messages SENT")
        exit_codes = [p.stop() for p in processes]
    assert exit_codes == [0, 0, 0], [p.output for p in processes]
    counts = receiver.counts()
    assert set(counts) == {str(m.id) for m in messages}
    assert set(counts.values()) == {1}, "a message reached the receiver more than once"
    workers = set(models.Message.objects.values_list("locked_by", flat=True))
    assert len(workers) > 1, "only one dispatcher did any work"
    assert models.DeliveryAttempt.objects.count() == 300


def test_dispatchers_started_against_an_existing_backlog_share_it(receiver, seed, tmp_path) -> None:
    seed(120)  # the backlog exists before any dispatcher starts
    env = dispatcher_env(webhook_url=receiver.url)
    with dispatchers(
        2, "--drain", "--interval", "200ms", "--batch-size", "10", env=env, logs=tmp_path
    ):
        wait_until(lambda: sent_count() == 120, timeout=120, what="the backlog to drain")
    assert set(receiver.counts().values()) == {1}
    assert sum(models.Worker.objects.values_list("processed", flat=True)) == 120


def test_processes_2_forks_two_dispatchers_that_share_the_work_and_stop_together(
    receiver, seed, tmp_path
) -> None:
    messages = seed(100)
    receiver.script(*[Reply(delay=0.02)] * 100)  # slow enough for both children to claim
    args = ("--processes", "2", "--drain", "--interval", "200ms", "--batch-size", "5")
    env = dispatcher_env(webhook_url=receiver.url)
    with dispatchers(1, *args, "--concurrency", "2", env=env, logs=tmp_path) as [parent]:
        wait_until(lambda: sent_count() == 100, timeout=120, what="100 messages SENT")
        exit_code = parent.stop()  # SIGTERM to the parent reaches both children

    assert exit_code == 0, parent.output
    assert parent.output.count(": stopped") == 2
    assert receiver.counts() == {str(m.id): 1 for m in messages}
    workers = set(models.Message.objects.values_list("locked_by", flat=True))
    assert len(workers) == 2, "both forked dispatchers delivered"
