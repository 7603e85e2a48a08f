"""Drives a DeliveryPipeline: claims while slots are free, work is due and the SendGate
allows it; collects results and writes them in groups."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from core_domain.errors import StorageUnavailableError
from core_domain.ports import SendGate, WakeUpSignal
from core_domain.send_gate import Permit
from core_domain.use_cases.delivery_pipeline import BatchReport, Call, DeliveryPipeline

logger = logging.getLogger(__name__)

CHECK_EVERY = 1.0  # seconds between the owner's checks (heartbeat, switch) while pumping
# Results are written in groups: at most WRITE_GROUP at once, none waiting over WRITE_WINDOW s.
WRITE_GROUP = 100
WRITE_WINDOW = 0.02


def _nothing() -> None:
    return None


def _ignore(report: BatchReport) -> None:
    return None


class Pump:
    """Keeps `pipeline` busy for one stretch of work, from one thread.

    Claims at most `batch_size` at a time and never more than can start at once; results are
    written as they come back. `on_progress` sees each claim and each written group.
    """

    def __init__(
        self,
        *,
        pipeline: DeliveryPipeline,
        batch_size: int,
        wakeups: WakeUpSignal | None,
        gate: SendGate | None = None,
        on_progress: Callable[[BatchReport], None] = _ignore,
    ) -> None:
        self.pipeline = pipeline
        self.gate = gate
        self.batch_size = batch_size
        self._wakeups = wakeups
        self._on_progress = on_progress

    def run(
        self,
        worker_id: str,
        *,
        report: BatchReport,
        limit: int | None,
        should_stop: Callable[[], bool],
        every_check: Callable[[], object] = _nothing,
        keep_looking: bool = False,
    ) -> None:
        """Claim and collect until `limit` messages were claimed (None: until nothing is due)
        and nothing is in flight; once `should_stop` is true, only collect.

        A send rate that says "wait a moment" is waited for here; a pause or an open circuit
        ends the stretch once nothing is in flight. With `keep_looking`, a claim that found
        too little is tried again while calls are still in flight: when a wake-up is
        signalled, and at every check. A lost database is raised as StorageUnavailableError
        once the calls in flight are written (or not).
        """
        stretch = _Stretch(self, worker_id=worker_id, report=report, limit=limit)
        try:
            while stretch.step(stopping=should_stop()):
                if time.monotonic() >= stretch.next_check:
                    stretch.next_check = time.monotonic() + CHECK_EVERY
                    every_check()
                    stretch.looked_again()
                elif stretch.exhausted and keep_looking and self.signalled(timedelta(0)):
                    stretch.looked_again()
        except StorageUnavailableError:
            self._finish_in_flight(report, stretch.ended)
            raise

    def signalled(self, timeout: timedelta) -> bool:
        """Wait up to `timeout` for a wake-up; False at once when there is no signal to wait on."""
        return self._wakeups is not None and self._wakeups.wait(timeout)

    def permit(self, want: int) -> Permit:
        return Permit(want) if self.gate is None else self.gate.acquire(want)

    def absorb(self, report: BatchReport, group: BatchReport) -> None:
        if group.claimed or group.processed or group.lost or group.released:
            report.add(group)
            self._on_progress(group)

    def _finish_in_flight(self, report: BatchReport, ended: list[Call]) -> None:
        """Write what ended and what the calls in flight return (writes retry across
        reconnects; what still cannot be written is sent again once its lease runs out)."""
        self.pipeline.halt()
        while True:
            try:
                self.absorb(report, self.pipeline.write(ended))
            except StorageUnavailableError:
                logger.warning("%d results not written; their leases will run out", len(ended))
            if not self.pipeline.in_flight:
                return
            ended = self.pipeline.collect(timeout=CHECK_EVERY)


class _Stretch:
    """One Pump.run: what is claimed, what ended and waits to be written, what holds back."""

    def __init__(self, pump: Pump, *, worker_id: str, report: BatchReport, limit: int | None):
        self.pump, self.worker_id, self.report, self.limit = pump, worker_id, report, limit
        self.exhausted = False  # the last claim found fewer than it could take
        self.held_until = 0.0  # the gate said to wait until then (time.monotonic())
        self.is_held_long = False  # a pause or an open circuit, not the send rate
        self.ended: list[Call] = []
        self.ended_at = 0.0
        self.next_check = time.monotonic() + CHECK_EVERY

    def looked_again(self) -> None:
        self.exhausted = False

    def step(self, *, stopping: bool) -> bool:
        """One claim, write or collect; False when the stretch is over."""
        pipeline = self.pump.pipeline
        if stopping:
            pipeline.halt()
        elif self._claim():
            return True
        if self._write(stopping=stopping):
            return True
        if pipeline.in_flight == 0 and (stopping or self._is_over()):
            return False
        now = time.monotonic()
        wake = min(self.next_check, self.ended_at + WRITE_WINDOW) if self.ended else self.next_check
        if self._wants() and not self.exhausted:
            wake = min(wake, self.held_until)
        calls = pipeline.collect(timeout=wake - now)  # with nothing in flight: a wait
        if calls:
            if self.pump.gate is not None:  # at once: a Retry-After must stop the fleet now
                self.pump.gate.record([c.outcome for c in calls if c.outcome is not None])
            self.ended_at = self.ended_at if self.ended else time.monotonic()
            self.ended += calls
        return True

    def _wants(self) -> int:
        pipeline = self.pump.pipeline
        budget = pipeline.free if self.limit is None else self.limit - self.report.claimed
        return min(pipeline.free, self.pump.batch_size, budget)

    def _is_over(self) -> bool:
        """Nothing in flight: over once nothing more may be claimed in this stretch."""
        return self.exhausted or self._wants() == 0 or self.is_held_long

    def _claim(self) -> bool:
        want = self._wants()
        if self.exhausted or want <= 0 or time.monotonic() < self.held_until:
            return False
        permit = self.pump.permit(want)
        if permit.granted == 0:
            wait = permit.wait.total_seconds() if permit.wait else CHECK_EVERY
            self.held_until = time.monotonic() + min(wait, CHECK_EVERY)
            self.is_held_long = wait > CHECK_EVERY
            return False
        self.is_held_long = False
        # Refill the slots first, then write what ended: a slot never waits for the write
        # of the call that freed it.
        got = self.pump.pipeline.claim(
            worker_id=self.worker_id, limit=permit.granted, is_probe=permit.is_probe
        )
        if got < permit.granted and self.pump.gate is not None:
            self.pump.gate.refund(permit.granted - got)
        self.pump.absorb(self.report, BatchReport(claimed=got))
        self.exhausted = got < permit.granted
        return True

    def _write(self, *, stopping: bool) -> bool:
        if not self.ended:
            return False
        is_due = (
            len(self.ended) >= WRITE_GROUP
            or time.monotonic() - self.ended_at >= WRITE_WINDOW
            or self.pump.pipeline.in_flight == 0
            or stopping
        )
        if is_due:
            self.pump.absorb(self.report, self.pump.pipeline.write(self.ended))
            self.ended = []
        return is_due
