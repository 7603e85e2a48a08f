"""The processing status clients poll: queue counts, today's results, activity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core_domain.message import Status
from core_domain.ports import Clock, MessageRepository, SchedulerControl
from core_domain.workers import is_alive, next_tick_at


@dataclass(frozen=True, slots=True)
class ProcessingStatus:
    is_processing: bool
    last_processed_at: datetime | None
    counts: dict[Status, int]
    processed_today: int
    failed_today: int
    next_processing_at: datetime | None


class GetDispatcherStatus:
    """Counts by status, messages SENT/FAILED since 00:00 UTC, and when the next tick is due."""

    def __init__(
        self,
        *,
        repository: MessageRepository,
        control: SchedulerControl,
        clock: Clock,
        interval: timedelta,
    ) -> None:
        self._repository = repository
        self._control = control
        self._clock = clock
        self._interval = interval

    def execute(self) -> ProcessingStatus:
        now = self._clock.now()
        sent_today, failed_today = self._repository.count_finished_on(now.astimezone(UTC).date())
        workers = self._control.workers()
        alive = [w for w in workers if is_alive(w, now=now, interval=self._interval)]
        next_at = next_tick_at(
            alive, interval=self._interval, is_running=self._control.is_running()
        )
        return ProcessingStatus(
            is_processing=any(w.is_processing for w in alive),
            last_processed_at=max(
                (w.last_processed_at for w in workers if w.last_processed_at), default=None
            ),
            counts=self._repository.count_by_status(),
            processed_today=sent_today,
            failed_today=failed_today,
            next_processing_at=next_at,
        )
