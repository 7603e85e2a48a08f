"""The Dispatcher and its DeliveryPipeline against fakes of every port (SPEC §7, §9)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from core_domain.delivery import AttemptOutcome, CallResult
from core_domain.message import Status
from core_domain.ports import WorkerBeat
from core_domain.receipt_writer import ReceiptWriter
from core_domain.retry import RetryPolicy
from core_domain.use_cases.delivery_pipeline import DeliveryPipeline
from core_domain.use_cases.dispatcher import Dispatcher, Pacing
from core_domain.use_cases.prune_expired import WORKER_RETENTION
from tests.fakes import (
    T0,
    FixedClock,
    InMemoryMessageRepository,
    InMemorySchedulerControl,
    ManualWakeUps,
    RecordingReceiptCache,
    ScriptedWebhookSender,
    a_message,
)

LEASE = timedelta(seconds=65)
POLICY = RetryPolicy(max_retries=3, backoff_base=timedelta(seconds=1), random_fraction=lambda: 0.0)
BEAT = WorkerBeat(id="w1", host="h", pid=1)


def accepted(external_id: str | None = "ext-1") -> CallResult:
    return CallResult(
        duration=timedelta(milliseconds=7),
        status_code=202,
        external_id=external_id,
        response_excerpt='{"message":"Accepted"}',
    )


def answered(status: int, **fields) -> CallResult:
    return CallResult(duration=timedelta(milliseconds=7), status_code=status, **fields)


class Setup:
    def __init__(
        self, *outcomes: CallResult, messages=None, cache_down=False, concurrency=4
    ) -> None:
        self.clock = FixedClock()
        self.repository = InMemoryMessageRepository(*(messages or [a_message()]), clock=self.clock)
        self.sender = ScriptedWebhookSender(*outcomes)
        self.receipts = RecordingReceiptCache(is_down=cache_down)
        self.control = InMemorySchedulerControl(clock=self.clock)
        self.wakeups = ManualWakeUps()
        writer = ReceiptWriter(cache=self.receipts)
        self.pipeline = DeliveryPipeline(
            repository=self.repository,
            sender=self.sender,
            receipts=writer,
            policy=POLICY,
            lease=LEASE,
            concurrency=concurrency,
        )
        self.dispatcher = Dispatcher(
            pipeline=self.pipeline,
            repository=self.repository,
            control=self.control,
            receipts=writer,
            wakeups=self.wakeups,
            batch_size=2,
        )

    def run(self, limit: int = 10, **kwargs):
        return self.dispatcher.process(worker_id="w1", limit=limit, **kwargs)

    def only(self):
        (message,) = self.repository.messages.values()
        return message


# -- one attempt and its result ----------------------------------------------------------------


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


def test_a_retry_is_due_after_its_delay_on_the_repository_clock() -> None:
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


def test_a_sender_that_raises_schedules_a_retry_instead_of_losing_the_message() -> None:
    setup = Setup(accepted())

    def broken(message):
        raise RuntimeError("bug")

    setup.sender.send = broken
    report = setup.run()
    assert report.retried == 1
    assert "internal error" in setup.only().last_error


# -- fencing -----------------------------------------------------------------------------------


def test_a_result_whose_claim_was_superseded_is_dropped() -> None:
    setup = Setup(accepted())
    original_send = setup.sender.send

    def send_while_another_worker_takes_over(message):
        setup.clock.advance(LEASE * 2)
        setup.repository.claim_batch(worker_id="w2", limit=1, lease=LEASE)
        return original_send(message)

    setup.sender.send = send_while_another_worker_takes_over
    report = setup.run()
    assert (report.sent, report.lost) == (0, 1)
    assert setup.only().locked_by == "w2" and setup.only().status is Status.SENDING
    assert setup.repository.attempt_log == []


def test_a_worker_cannot_overwrite_its_own_later_claim_of_the_same_message() -> None:
    setup = Setup(accepted())
    (first,) = setup.repository.claim_batch(worker_id="w1", limit=1, lease=LEASE)
    setup.clock.advance(LEASE * 2)
    (second,) = setup.repository.claim_batch(worker_id="w1", limit=1, lease=LEASE)
    assert (first.locked_by, second.locked_by) == ("w1", "w1")
    assert first.claim_token != second.claim_token
    assert setup.repository.release([first]) == 0  # the stale claim releases nothing
    assert setup.repository.release([second]) == 1


# -- the pipeline ------------------------------------------------------------------------------


def test_a_slow_call_does_not_hold_up_the_others_results_or_claims() -> None:
    messages = [a_message() for _ in range(6)]
    setup = Setup(accepted(), messages=messages, concurrency=2)
    slow_id, release_slow = messages[0].id, threading.Event()
    original_send = setup.sender.send

    def send(message):
        if message.id == slow_id:
            assert release_slow.wait(5)
        return original_send(message)

    setup.sender.send = send
    finished = threading.Thread(target=lambda: setup.run(limit=6))
    finished.start()
    deadline = time.monotonic() + 5
    while sum(m.status is Status.SENT for m in setup.repository.messages.values()) < 5:
        assert time.monotonic() < deadline, "the other five were not sent past the slow call"
        time.sleep(0.005)
    assert setup.repository.messages[slow_id].status is Status.SENDING
    release_slow.set()
    finished.join(5)
    assert {m.status for m in setup.repository.messages.values()} == {Status.SENT}


def test_never_more_calls_in_flight_than_the_concurrency() -> None:
    setup = Setup(accepted(), messages=[a_message() for _ in range(20)], concurrency=3)
    in_flight, peak, lock = 0, 0, threading.Lock()
    original_send = setup.sender.send

    def send(message):
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.002)
        with lock:
            in_flight -= 1
        return original_send(message)

    setup.sender.send = send
    report = setup.run(limit=20)
    assert (report.claimed, report.sent, peak) == (20, 20, 3)


def test_sends_run_concurrently() -> None:
    started = threading.Barrier(4, timeout=5)
    setup = Setup(accepted(), messages=[a_message() for _ in range(4)])
    original_send = setup.sender.send

    def send_when_all_four_are_in_flight(message):
        started.wait()  # breaks (and fails the test) unless four sends run at once
        return original_send(message)

    setup.sender.send = send_when_all_four_are_in_flight
    assert setup.run().sent == 4


def test_after_a_stop_request_nothing_is_claimed_or_sent() -> None:
    setup = Setup(accepted(), messages=[a_message() for _ in range(5)])
    report = setup.run(should_stop=lambda: True)
    assert (report.claimed, report.sent) == (0, 0)
    assert {m.status for m in setup.repository.messages.values()} == {Status.PENDING}


# -- the loop: pacing, switch, heartbeats, wake-ups --------------------------------------------


def run_in_background(setup: Setup, pacing: Pacing):
    stop, ticks = threading.Event(), []
    thread = threading.Thread(
        target=setup.dispatcher.run,
        kwargs={"beat": BEAT, "pacing": pacing, "stop": stop, "on_tick": ticks.append},
    )
    thread.start()
    return stop, ticks, thread


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within 5 s"
        time.sleep(0.005)


def test_once_sends_one_batch_or_with_drain_everything_due() -> None:
    for drain, sends in ((False, 2), (True, 7)):
        setup = Setup(accepted(), messages=[a_message() for _ in range(7)])
        ticks = []
        setup.dispatcher.run(
            beat=BEAT,
            pacing=Pacing(interval=timedelta(minutes=2), drain=drain, once=True),
            stop=threading.Event(),
            on_tick=ticks.append,
        )
        assert [t.sent for t in ticks] == [sends] == [len(setup.sender.sent)]
        (row,) = setup.control.workers()
        assert (row.processed, row.succeeded, row.is_processing) == (sends, sends, False)


def test_a_tick_while_the_scheduler_is_stopped_only_heartbeats() -> None:
    setup = Setup(accepted())
    setup.control.running = False
    ticks = []
    setup.dispatcher.run(
        beat=BEAT,
        pacing=Pacing(interval=timedelta(minutes=2), drain=True, once=True),
        stop=threading.Event(),
        on_tick=ticks.append,
    )
    assert [t.is_paused for t in ticks] == [True] and setup.sender.sent == []
    assert [w.id for w in setup.control.workers()] == ["w1"]


def test_an_idle_drain_wakes_when_signalled_and_sleeps_until_the_next_due_retry() -> None:
    setup = Setup(answered(503), accepted(), messages=[])
    pacing = Pacing(interval=timedelta(minutes=10), drain=True)
    stop, ticks, thread = run_in_background(setup, pacing)
    try:
        wait_until(lambda: setup.wakeups.waits, "an idle wait")
        message = a_message()
        setup.repository.add([message])
        setup.wakeups.fire()
        wait_until(lambda: setup.sender.sent, "the first attempt")
        wait_until(
            lambda: setup.repository.get(message.id).status is Status.PENDING, "the retry write"
        )
        waits_before = len(setup.wakeups.waits)
        wait_until(lambda: len(setup.wakeups.waits) > waits_before, "the wait for the retry")
        # The retry is due in 1 s on the repository's clock: the wait is about that long.
        assert timedelta(seconds=0.9) <= setup.wakeups.waits[-1] <= timedelta(seconds=1)
        setup.clock.advance(timedelta(seconds=1))
        wait_until(lambda: setup.repository.get(message.id).status is Status.SENT, "the retry")
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert sum(t.sent for t in ticks) == 1


def test_starting_forgets_workers_silent_for_a_day() -> None:
    setup = Setup(accepted(), messages=[])
    setup.control.heartbeat(WorkerBeat(id="gone", host="h", pid=2))
    setup.clock.advance(WORKER_RETENTION + timedelta(seconds=1))
    setup.control.heartbeat(WorkerBeat(id="resting", host="h", pid=3))
    setup.dispatcher.run(
        beat=BEAT,
        pacing=Pacing(interval=timedelta(minutes=2), once=True),
        stop=threading.Event(),
    )
    assert sorted(w.id for w in setup.control.workers()) == ["resting", "w1"]
