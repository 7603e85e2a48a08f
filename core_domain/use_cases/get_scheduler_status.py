"""Report the scheduler's state: the switch, the workers, the totals, the send gate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core_domain.ports import Clock, MessageRepository, SchedulerControl, SendGate, WorkerStatus
from core_domain.send_gate import Gate, RateLimit
from core_domain.workers import is_alive, next_tick_at


@dataclass(frozen=True, slots=True)
class SchedulerReport:
    is_running: bool
    is_currently_processing: bool
    total_processed: int
    total_successful: int
    total_failed: int
    last_processing_time: datetime | None
    next_processing_in: timedelta | None
    interval: timedelta
    batch_size: int
    workers: list[tuple[WorkerStatus, bool]]
    gate: Gate
    rate_limit: RateLimit | None


class GetSchedulerStatus:
    """The switch, every worker with its liveness, and totals over all workers."""

    def __init__(
        self,
        *,
        control: SchedulerControl,
        repository: MessageRepository,
        gate: SendGate,
        clock: Clock,
        interval: timedelta,
        batch_size: int,
        rate_limit: RateLimit | None,
    ) -> None:
        self._control = control
        self._repository = repository
        self._gate = gate
        self._rate_limit = rate_limit
        self._clock = clock
        self._interval = interval
        self._batch_size = batch_size

    def execute(self) -> SchedulerReport:
        now = self._clock.now()
        workers = self._control.workers()
        # Messages that ever became SENT or FAILED, by any dispatcher or the API's process call.
        sent, failed = self._repository.count_finished_on(None)
        alive = [w for w in workers if is_alive(w, now=now, interval=self._interval)]
        last = max((w.last_processed_at for w in workers if w.last_processed_at), default=None)
        is_running = self._control.is_running()
        next_at = next_tick_at(alive, interval=self._interval, is_running=is_running)
        next_in = max(timedelta(0), next_at - now) if next_at else None
        return SchedulerReport(
            is_running=is_running,
            is_currently_processing=any(w.is_processing for w in alive),
            total_processed=sent + failed,
            total_successful=sent,
            total_failed=failed,
            last_processing_time=last,
            next_processing_in=next_in,
            interval=self._interval,
            batch_size=self._batch_size,
            workers=[(w, w in alive) for w in workers],
            gate=self._gate.state(),
            rate_limit=self._rate_limit,
        )
