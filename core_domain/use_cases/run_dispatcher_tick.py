"""One dispatcher tick: obey the shared switch, heartbeat, dispatch one batch or drain."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from core_domain.ports import Clock, SchedulerControl, WorkerStatus
from core_domain.use_cases.dispatch_batch import BatchReport, DeliveryCounts, DispatchBatch

CHECK_EVERY_SECONDS = 1.0
WORKER_RETENTION = timedelta(days=1)  # how long a silent (stopped or crashed) worker is listed


@dataclass(slots=True)
class TickReport(DeliveryCounts):
    """The batches of one tick added up."""

    is_paused: bool = False
    batches: int = 0
    seconds: float = 0.0

    def add(self, other: DeliveryCounts) -> None:
        DeliveryCounts.add(self, other)
        self.batches += 1

    @property
    def messages_per_second(self) -> float:
        return self.processed / self.seconds if self.seconds > 0 else 0.0


class RunDispatcherTick:
    """Run one tick for `worker` and return its updated status with what the tick did.

    Paused (nothing claimed) while the shared switch is off. With `drain`, batches are
    claimed until none is due, the switch turns off or `should_stop` turns true; the
    heartbeat and the switch are re-read at most once a second while draining.
    `on_batch` is called with each batch's report as soon as the batch is done.
    """

    def __init__(self, *, dispatch: DispatchBatch, control: SchedulerControl, clock: Clock) -> None:
        self._dispatch = dispatch
        self._control = control
        self._clock = clock

    def start(self, worker: WorkerStatus) -> WorkerStatus:
        """Announce `worker` and forget workers silent for longer than WORKER_RETENTION."""
        worker = self._beat(worker, is_processing=False)
        self._control.forget_workers(silent_since=self._clock.now() - WORKER_RETENTION)
        return worker

    def execute(
        self,
        *,
        worker: WorkerStatus,
        batch_size: int,
        drain: bool,
        should_stop: Callable[[], bool],
        on_batch: Callable[[BatchReport], None] = lambda batch: None,
    ) -> tuple[WorkerStatus, TickReport]:
        if not self._control.is_running():
            return self._beat(worker, is_processing=False), TickReport(is_paused=True)
        report = TickReport()
        worker = self._beat(worker, is_processing=True)
        started = last_check = time.monotonic()
        while not should_stop():
            batch = self._dispatch.execute(
                worker_id=worker.id, batch_size=batch_size, should_stop=should_stop
            )
            report.add(batch)
            on_batch(batch)
            worker = _counted(worker, batch, at=self._clock.now())
            if not drain or batch.claimed == 0:
                break
            if time.monotonic() - last_check >= CHECK_EVERY_SECONDS:
                last_check = time.monotonic()
                worker = self._beat(worker, is_processing=True)
                if not self._control.is_running():
                    break
        report.seconds = time.monotonic() - started
        return self._beat(worker, is_processing=False), report

    def _beat(self, worker: WorkerStatus, *, is_processing: bool) -> WorkerStatus:
        worker = dataclasses.replace(
            worker, last_heartbeat=self._clock.now(), is_processing=is_processing
        )
        self._control.heartbeat(worker)
        return worker


def _counted(worker: WorkerStatus, batch: BatchReport, *, at) -> WorkerStatus:
    if not batch.processed:
        return worker
    return dataclasses.replace(
        worker,
        processed=worker.processed + batch.processed,
        succeeded=worker.succeeded + batch.sent,
        failed=worker.failed + batch.failed,
        last_processed_at=at,
    )
