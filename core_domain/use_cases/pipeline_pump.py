"""Drives a DeliveryPipeline: claims while slots are free and work is due, collects results."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from core_domain.errors import StorageUnavailableError
from core_domain.ports import WakeUpSignal
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
        on_progress: Callable[[BatchReport], None] = _ignore,
    ) -> None:
        self.pipeline = pipeline
        self._batch_size = batch_size
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

        With `keep_looking`, a claim that found too little is tried again while calls are
        still in flight: when a wake-up is signalled, and at every check. A lost database is
        raised as StorageUnavailableError once the calls in flight are written (or not).
        """
        pipeline, exhausted, ended, ended_at = self.pipeline, False, [], 0.0
        next_check = time.monotonic() + CHECK_EVERY
        try:
            while True:
                stopping = should_stop()
                if stopping:
                    pipeline.halt()
                budget = pipeline.free if limit is None else limit - report.claimed
                want = min(pipeline.free, self._batch_size, budget)
                if not stopping and not exhausted and want > 0:
                    # Refill the slots first, then write what ended: a slot never waits
                    # for the write of the call that freed it.
                    got = pipeline.claim(worker_id=worker_id, limit=want)
                    self._absorb(report, BatchReport(claimed=got))
                    exhausted = got < want
                    continue
                now = time.monotonic()
                if ended and (
                    len(ended) >= WRITE_GROUP
                    or now - ended_at >= WRITE_WINDOW
                    or pipeline.in_flight == 0
                    or stopping
                ):
                    self._absorb(report, pipeline.write(ended))
                    ended = []
                    continue
                if pipeline.in_flight == 0:
                    return
                wake = min(next_check, ended_at + WRITE_WINDOW) if ended else next_check
                calls = pipeline.collect(timeout=wake - now)
                if calls and not ended:
                    ended_at = time.monotonic()
                ended += calls
                checked = time.monotonic() >= next_check
                if checked:
                    next_check = time.monotonic() + CHECK_EVERY
                    every_check()
                if exhausted and keep_looking:
                    exhausted = not (checked or self.signalled(timedelta(0)))
        except StorageUnavailableError:
            self._finish_in_flight(report, ended)
            raise

    def signalled(self, timeout: timedelta) -> bool:
        """Wait up to `timeout` for a wake-up; False at once when there is no signal to wait on."""
        return self._wakeups is not None and self._wakeups.wait(timeout)

    def _absorb(self, report: BatchReport, group: BatchReport) -> None:
        if group.claimed or group.processed or group.lost or group.released:
            report.add(group)
            self._on_progress(group)

    def _finish_in_flight(self, report: BatchReport, ended: list[Call]) -> None:
        """Write what ended and what the calls in flight return (writes retry across
        reconnects; what still cannot be written is sent again once its lease runs out)."""
        self.pipeline.halt()
        while True:
            try:
                self._absorb(report, self.pipeline.write(ended))
            except StorageUnavailableError:
                logger.warning("%d results not written; their leases will run out", len(ended))
            if not self.pipeline.in_flight:
                return
            ended = self.pipeline.collect(timeout=CHECK_EVERY)
