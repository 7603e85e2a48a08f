"""Drives a DeliveryPipeline: claims while slots are free and work is due, collects results."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from core_domain.errors import StorageUnavailableError
from core_domain.ports import WakeUpSignal
from core_domain.use_cases.delivery_pipeline import BatchReport, DeliveryPipeline

logger = logging.getLogger(__name__)

CHECK_EVERY = 1.0  # seconds between the owner's checks (heartbeat, switch) while pumping


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
        pipeline, exhausted = self.pipeline, False
        next_check = time.monotonic() + CHECK_EVERY
        try:
            while True:
                stopping = should_stop()
                if stopping:
                    pipeline.halt()
                budget = pipeline.free if limit is None else limit - report.claimed
                want = min(pipeline.free, self._batch_size, budget)
                if not stopping and not exhausted and want > 0:
                    got = pipeline.claim(worker_id=worker_id, limit=want)
                    self._absorb(report, BatchReport(claimed=got))
                    exhausted = got < want
                    continue
                if pipeline.in_flight == 0:
                    return
                self._absorb(report, pipeline.collect(timeout=next_check - time.monotonic()))
                checked = time.monotonic() >= next_check
                if checked:
                    next_check = time.monotonic() + CHECK_EVERY
                    every_check()
                if exhausted and keep_looking:
                    exhausted = not (checked or self.signalled(timedelta(0)))
        except StorageUnavailableError:
            self._finish_in_flight(report)
            raise

    def signalled(self, timeout: timedelta) -> bool:
        """Wait up to `timeout` for a wake-up; False at once when there is no signal to wait on."""
        return self._wakeups is not None and self._wakeups.wait(timeout)

    def _absorb(self, report: BatchReport, group: BatchReport) -> None:
        if group.claimed or group.processed or group.lost or group.released:
            report.add(group)
            self._on_progress(group)

    def _finish_in_flight(self, report: BatchReport) -> None:
        """Write what the calls in flight return (the writes retry across reconnects)."""
        self.pipeline.halt()
        while self.pipeline.in_flight:
            try:
                self._absorb(report, self.pipeline.collect(timeout=CHECK_EVERY))
            except StorageUnavailableError:
                logger.warning("Results not written; their leases will run out")
