"""DispatchBatch and RunDispatcherTick against fakes and a fixed clock."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime, timedelta

import pytest

from core_domain.delivery import AttemptOutcome, DeliveryOutcome
from core_domain.message import Status
from core_domain.ports import WorkerStatus
from core_domain.retry import RetryPolicy
from core_domain.use_cases.dispatch_batch import DispatchBatch
from core_domain.use_cases.run_dispatcher_tick import WORKER_RETENTION, RunDispatcherTick
from tests.fakes import (
    T0,
    FixedClock,
    InMemoryMessageRepository,
    RecordingReceiptCache,
    ScriptedWebhookSender,
    a_message,
)

LEASE = timedelta(seconds=65)
POLICY = RetryPolicy(max_retries=3, backoff_base=timedelta(seconds=1), random_fraction=lambda: 0.0)


def accepted(external_id: str | None = "ext-1") -> DeliveryOutcome:
    return DeliveryOutcome(
        duration=timedelta(milliseconds=7),
        status_code=202,
        external_id=external_id,
        response_excerpt='{"message":"Accepted"}',
    )


def answered(status: int, **fields) -> DeliveryOutcome:
    return DeliveryOutcome(duration=timedelta(milliseconds=7), status_code=status, **fields)


class Setup:
    def __init__(self, *outcomes: DeliveryOutcome, messages=None, cache_down=False) -> None:
        self.repository = InMemoryMessageRepository(*(messages or [a_message()]))
        self.sender = ScriptedWebhookSender(*outcomes)
        self.receipts = RecordingReceiptCache(is_down=cache_down)
        self.clock = FixedClock()
        self.dispatch = DispatchBatch(
            repository=self.repository,
            sender=self.sender,
            receipts=self.receipts,
            clock=self.clock,
            policy=POLICY,
            lease=LEASE,
            concurrency=4,
        )

    def run(self, batch_size: int = 10, **kwargs):
        return self.dispatch.execute(worker_id="w1", batch_size=batch_size, **kwargs)

    def only(self):
        (message,) = self.repository.messages.values()
        return message


def test_a_2xx_marks_the_message_sent_with_the_external_id_and_caches_a_receipt() -> None:
    setup = Setup(accepted("abc"))
    report = setup.run()
    message = setup.only()
    assert (report.claimed, report.sent) == (1, 1)
    assert (message.status, message.external_id, message.sent_at) == (Status.SENT, "abc", T0)
    assert setup.receipts.receipts == {message.id: T0}
    assert [a.outcome for a in setup.repository.attempt_log] == [AttemptOutcome.DELIVERED]


def test_500_500_202_ends_sent_with_retry_count_2_and_three_attempts() -> None:
    setup = Setup(answered(500), answered(500), accepted())
    for _ in range(3):
        setup.run()
        setup.clock.advance(timedelta(minutes=1))
    message = setup.only()
    assert (message.status, message.retry_count) == (Status.SENT, 2)
    attempts = setup.repository.attempts(message.id)
    assert [a.attempt_number for a in attempts] == [1, 2, 3]
    assert [a.outcome for a in attempts] == [
        AttemptOutcome.RETRY_SCHEDULED, AttemptOutcome.RETRY_SCHEDULED, AttemptOutcome.DELIVERED,
    ]  # fmt: skip


def test_always_500_fails_after_one_plus_max_retries_attempts() -> None:
    setup = Setup(answered(500))
    for _ in range(10):
        setup.run()
        setup.clock.advance(timedelta(minutes=10))
    message = setup.only()
    assert (message.status, message.retry_count) == (Status.FAILED, 3)
    assert len(setup.sender.sent) == 4
    assert message.last_error == "HTTP 500 (gave up after 4 attempts)"


def test_400_fails_after_one_attempt() -> None:
    setup = Setup(answered(400, response_excerpt="bad phone"))
    report = setup.run()
    setup.clock.advance(timedelta(hours=1))
    setup.run()
    assert (report.failed, len(setup.sender.sent)) == (1, 1)
    assert setup.only().last_error == "HTTP 400: bad phone (not retryable)"
    assert report.errors == [f"{setup.only().id}: HTTP 400: bad phone (not retryable)"]


def test_a_retry_is_not_claimed_before_it_is_due() -> None:
    setup = Setup(answered(429, retry_after=timedelta(seconds=2)), accepted())
    setup.run()
    assert setup.only().next_attempt_at == T0 + timedelta(seconds=2)
    setup.clock.advance(timedelta(seconds=1))
    assert setup.run().claimed == 0
    setup.clock.advance(timedelta(seconds=1))
    assert setup.run().sent == 1


def test_a_receipt_cache_outage_is_counted_and_the_delivery_stands() -> None:
    setup = Setup(accepted(), cache_down=True)
    report = setup.run()
    assert (report.sent, report.receipt_errors) == (1, 1)
    assert setup.only().status is Status.SENT


def test_a_result_whose_lease_was_lost_is_dropped() -> None:
    setup = Setup(accepted())
    original_send = setup.sender.send

    def send_while_another_worker_takes_over(message):
        setup.repository.claim_batch(worker_id="w2", limit=1, now=T0 + LEASE * 2, lease=LEASE)
        return original_send(message)

    setup.sender.send = send_while_another_worker_takes_over
    report = setup.run()
    assert (report.sent, report.lost) == (0, 1)
    assert setup.only().locked_by == "w2" and setup.only().status is Status.SENDING
    assert setup.repository.attempt_log == []


def test_a_sender_that_raises_schedules_a_retry_instead_of_losing_the_message() -> None:
    setup = Setup(accepted())

    def broken(message):
        raise RuntimeError("bug")

    setup.sender.send = broken
    report = setup.run()
    assert report.retried == 1
    assert "internal error" in setup.only().last_error


def test_a_stop_request_releases_claimed_messages_that_were_not_sent() -> None:
    setup = Setup(accepted(), messages=[a_message() for _ in range(5)])
    report = setup.run(should_stop=lambda: True)
    assert (report.claimed, report.sent, report.released) == (5, 0, 5)
    assert {m.status for m in setup.repository.messages.values()} == {Status.PENDING}


def test_sends_run_concurrently() -> None:
    started = threading.Barrier(4, timeout=5)
    setup = Setup(accepted(), messages=[a_message() for _ in range(4)])
    original_send = setup.sender.send

    def send_when_all_four_are_in_flight(message):
        started.wait()  # breaks (and fails the test) unless four sends run at once
        return original_send(message)

    setup.sender.send = send_when_all_four_are_in_flight
    assert setup.run().sent == 4


class InMemorySchedulerControl:
    def __init__(self, *, is_running: bool = True) -> None:
        self.running = is_running
        self.beats: list[WorkerStatus] = []

    def is_running(self) -> bool:
        return self.running

    def set_running(self, is_running: bool) -> bool:
        changed, self.running = self.running != is_running, is_running
        return changed

    def heartbeat(self, worker: WorkerStatus) -> None:
        self.beats.append(worker)

    def forget_workers(self, *, silent_since: datetime) -> int:
        kept = [w for w in self.beats if w.last_heartbeat >= silent_since]
        forgotten = {w.id for w in self.beats} - {w.id for w in kept}
        self.beats = kept
        return len(forgotten)

    def workers(self) -> list[WorkerStatus]:
        latest = {w.id: w for w in self.beats}
        return list(latest.values())


WORKER = WorkerStatus(id="w1", host="h", pid=1, started_at=T0, last_heartbeat=T0)


@pytest.mark.parametrize(("drain", "sends"), [(False, 2), (True, 7)])
def test_a_tick_sends_one_batch_or_drains_everything_due(drain, sends) -> None:
    setup = Setup(accepted(), messages=[a_message() for _ in range(7)])
    control = InMemorySchedulerControl()
    tick = RunDispatcherTick(dispatch=setup.dispatch, control=control, clock=setup.clock)
    worker, report = tick.execute(
        worker=WORKER, batch_size=2, drain=drain, should_stop=lambda: False
    )
    assert report.sent == len(setup.sender.sent) == sends
    assert (worker.processed, worker.succeeded) == (sends, sends)
    assert control.beats[-1].is_processing is False


def test_a_tick_while_the_scheduler_is_stopped_only_heartbeats() -> None:
    setup = Setup(accepted())
    control = InMemorySchedulerControl(is_running=False)
    tick = RunDispatcherTick(dispatch=setup.dispatch, control=control, clock=setup.clock)
    _, report = tick.execute(worker=WORKER, batch_size=2, drain=True, should_stop=lambda: False)
    assert report.is_paused and setup.sender.sent == []
    assert [w.id for w in control.beats] == ["w1"]


def test_a_draining_tick_reports_each_batch_to_on_batch_as_it_finishes() -> None:
    setup = Setup(accepted(), messages=[a_message() for _ in range(5)])
    tick = RunDispatcherTick(
        dispatch=setup.dispatch, control=InMemorySchedulerControl(), clock=setup.clock
    )
    seen = []
    _, report = tick.execute(
        worker=WORKER, batch_size=2, drain=True, should_stop=lambda: False, on_batch=seen.append
    )
    assert [batch.claimed for batch in seen] == [2, 2, 1, 0]  # the last claim finds none due
    assert len(seen) == report.batches
    assert sum(len(batch.finalized) for batch in seen) == report.sent == 5


def test_starting_announces_the_worker_and_forgets_workers_silent_for_a_day() -> None:
    setup = Setup(accepted())
    control, now = InMemorySchedulerControl(), setup.clock.now()
    long_gone = now - WORKER_RETENTION - timedelta(seconds=1)
    control.heartbeat(dataclasses.replace(WORKER, id="gone", last_heartbeat=long_gone))
    control.heartbeat(dataclasses.replace(WORKER, id="resting", last_heartbeat=T0))
    tick = RunDispatcherTick(dispatch=setup.dispatch, control=control, clock=setup.clock)

    worker = tick.start(dataclasses.replace(WORKER, id="new"))

    assert sorted(w.id for w in control.workers()) == ["new", "resting"]
    assert (worker.last_heartbeat, worker.is_processing) == (now, False)
