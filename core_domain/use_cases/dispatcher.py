"""The dispatcher: keeps the delivery pipeline fed, beats its heart, obeys the shared switch,
sleeps until work arrives, and hands back what it holds when told to stop (SPEC §7, §9)."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from core_domain.errors import StorageUnavailableError
from core_domain.outage import outage_delay
from core_domain.ports import (
    MessageRepository,
    SchedulerControl,
    SendGate,
    WakeUpSignal,
    WorkerBeat,
)
from core_domain.receipt_writer import ReceiptWriter
from core_domain.use_cases.delivery_pipeline import BatchReport, DeliveryPipeline
from core_domain.use_cases.pipeline_pump import CHECK_EVERY, Pump
from core_domain.use_cases.prune_expired import WORKER_RETENTION

logger = logging.getLogger(__name__)

# Due rows that a claim did not get are held by another worker's claim in progress: they are
# looked at again this soon, not only at the next wake-up.
RECHECK_LOCKED = 0.05
EXPIRE_BATCH = 1000  # messages past their expiresAt failed per check (one short statement)


@dataclass(frozen=True, slots=True)
class Pacing:
    """Periodic (one batch every `interval`, as the Go service) or `drain` (keep the pipeline
    full while anything is due, wake up when work arrives); `once`: one tick, then return."""

    interval: timedelta
    drain: bool = False
    once: bool = False


@dataclass(slots=True)
class TickReport(BatchReport):
    """What one tick did: a periodic batch, or a stretch of draining (at most one interval)."""

    is_paused: bool = False
    seconds: float = 0.0


def _ignore(report: BatchReport) -> None:
    return None


class Dispatcher:
    """Delivers due messages through one DeliveryPipeline.

    `process` runs one bounded batch (the API's "process now" and periodic ticks); `run` is the
    long-running loop of `run_dispatcher`. No transaction is open while a webhook is called;
    every write of a result is fenced by its claim token (see MessageRepository). When `stop`
    is set no new send starts, calls in flight finish, messages not started are released and
    `run` returns. While PostgreSQL is unreachable `run` waits (OUTAGE_DELAYS) and tries again.
    `on_progress` sees each claim and each group of results as soon as it is written
    (metrics).
    """

    def __init__(
        self,
        *,
        pipeline: DeliveryPipeline,
        repository: MessageRepository,
        control: SchedulerControl,
        receipts: ReceiptWriter,
        wakeups: WakeUpSignal | None,
        batch_size: int,
        gate: SendGate | None = None,
        on_progress: Callable[[BatchReport], None] = _ignore,
    ) -> None:
        self._pump = Pump(
            pipeline=pipeline, batch_size=batch_size, wakeups=wakeups, gate=gate,
            on_progress=on_progress,
        )  # fmt: skip
        self._repository = repository
        self._control = control
        self._receipts = receipts
        self._wakeups = wakeups
        self._batch_size = batch_size
        self._lock = threading.Lock()  # one run of the pipeline at a time

    def process(
        self, *, worker_id: str, limit: int, should_stop: Callable[[], bool] = lambda: False
    ) -> BatchReport:
        """Claim up to `limit` messages (never more than can start at once), deliver them and
        return once every result is written."""
        with self._lock:
            report = BatchReport()
            self._repository.expire_overdue(limit=EXPIRE_BATCH)
            self._pump.run(worker_id, report=report, limit=limit, should_stop=should_stop)
            report.receipt_errors += self._receipts.flush()
            return report

    def run(
        self,
        *,
        beat: WorkerBeat,
        pacing: Pacing,
        stop: threading.Event,
        on_tick: Callable[[TickReport], None] = _ignore,
    ) -> None:
        """Dispatch until `stop` is set (or after one tick with `pacing.once`)."""
        with self._lock:
            _Run(
                pump=self._pump,
                repository=self._repository,
                control=self._control,
                receipts=self._receipts,
                wakeups=self._wakeups,
                batch_size=self._batch_size,
                beat=beat,
                pacing=pacing,
                stop=stop,
                on_tick=on_tick,
            ).loop()

    def close(self) -> None:
        self._pump.pipeline.close()
        self._receipts.close()
        if self._wakeups is not None:
            self._wakeups.close()


class _Run:
    """The state of one `Dispatcher.run`: the worker's counters, the switch, the idle waits."""

    def __init__(
        self,
        *,
        pump: Pump,
        repository: MessageRepository,
        control: SchedulerControl,
        receipts: ReceiptWriter,
        wakeups: WakeUpSignal | None,
        batch_size: int,
        beat: WorkerBeat,
        pacing: Pacing,
        stop: threading.Event,
        on_tick: Callable[[TickReport], None],
    ) -> None:
        self.pump = pump
        self.repository = repository
        self.control = control
        self.receipts = receipts
        self.wakeups = wakeups
        self.batch_size = batch_size
        self.beat = beat
        self.pacing = pacing
        self.stop = stop
        self.on_tick = on_tick
        self.is_running = True
        self.interval = pacing.interval.total_seconds()

    def loop(self) -> None:
        failures, started = 0, False
        while not self.stop.is_set():
            try:
                if not started:
                    self.control.forget_workers(silent_for=WORKER_RETENTION)
                    started = True
                self.tick()
                failures = 0
            except StorageUnavailableError as exc:
                failures += 1
                wait = outage_delay(failures)
                logger.warning("Database unavailable (%s); next try in %.1fs", exc, wait)
                self.stop.wait(wait)
                continue
            if self.pacing.once:
                break
            if not self.pacing.drain or not self.is_running:
                self.wait_for_work(self.interval, wake_early=self.pacing.drain)
        self._last_beat()

    def tick(self) -> None:
        self.check()
        if not self.is_running:
            self.on_tick(TickReport(is_paused=True))
            return
        report, started = TickReport(), time.monotonic()
        try:
            if self.pacing.drain and not self.pacing.once:
                self.drain(report, started)
            else:
                limit = None if self.pacing.drain else self.batch_size
                self.deliver(report, limit=limit)
        finally:
            report.receipt_errors += self.receipts.flush()
            report.seconds = time.monotonic() - started
            self.count(report)
        self.heartbeat(is_processing=False)
        self.on_tick(report)

    def deliver(self, report: TickReport, *, limit: int | None, keep_looking: bool = False) -> None:
        self.pump.run(
            self.beat.id,
            report=report,
            limit=limit,
            should_stop=lambda: self.stop.is_set() or not self.is_running,
            every_check=self.check,
            keep_looking=keep_looking,
        )

    def drain(self, report: TickReport, started: float) -> None:
        """Keep the pipeline full; between stretches of work wait for a wake-up. Returns after
        one interval of work (so a tick line is printed) or when stopped or switched off."""
        while not self.stop.is_set() and self.is_running:
            self.deliver(report, limit=None, keep_looking=True)
            if time.monotonic() - started >= self.interval or self.stop.is_set():
                return
            if report.claimed and self.pump.pipeline.in_flight == 0:
                return  # a stretch of work ended: report it, then wait in the next tick
            self.wait_for_work(self.until_due(), wake_early=True)
            self.check()

    def until_due(self) -> float:
        """Seconds until the earliest due message may be sent, at most one interval."""
        due_in = self.repository.next_due_in()
        if due_in is None:
            return self.interval
        held = self.pump.permit(0).wait if self.pump.gate is not None else None
        wait = max(due_in, held or timedelta(0)).total_seconds()
        return min(self.interval, max(RECHECK_LOCKED, wait))

    def wait_for_work(self, seconds: float, *, wake_early: bool) -> None:
        """Wait `seconds`, or less when stopped or (if `wake_early`) when work is signalled."""
        deadline = time.monotonic() + seconds
        while not self.stop.is_set() and (left := deadline - time.monotonic()) > 0:
            step = min(left, CHECK_EVERY)
            if not wake_early or self.wakeups is None:
                self.stop.wait(step)
            elif self.wakeups.wait(timedelta(seconds=step)):
                return

    def check(self) -> None:
        """Heartbeat, read the shared switch, and fail what expired before it could be sent."""
        self.heartbeat(is_processing=self.pump.pipeline.in_flight > 0)
        self.is_running = self.control.is_running()
        self.repository.expire_overdue(limit=EXPIRE_BATCH)

    def heartbeat(self, *, is_processing: bool) -> None:
        self.beat = dataclasses.replace(self.beat, is_processing=is_processing)
        self.control.heartbeat(self.beat)

    def count(self, report: BatchReport) -> None:
        self.beat = dataclasses.replace(
            self.beat,
            processed=self.beat.processed + report.processed,
            succeeded=self.beat.succeeded + report.sent,
            failed=self.beat.failed + report.failed,
        )

    def _last_beat(self) -> None:
        try:
            self.heartbeat(is_processing=False)
        except StorageUnavailableError:
            pass
