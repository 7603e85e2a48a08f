"""The dashboard: the last hour of deliveries, the queue, the send state and the workers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core_domain.delivery_stats import MinuteStats, quantile
from core_domain.message import Status
from core_domain.ports import (
    Clock,
    DeliveryStats,
    MessageRepository,
    SchedulerControl,
    SendGate,
    WorkerStatus,
)
from core_domain.send_gate import Gate, RateLimit
from core_domain.workers import is_alive

MINUTES = 60


@dataclass(frozen=True, slots=True)
class Latency:
    p50: timedelta | None
    p95: timedelta | None


@dataclass(frozen=True, slots=True)
class Dashboard:
    now: datetime
    minutes: list[MinuteStats]
    delivery_latency: list[Latency]  # per minute, created to SENT
    call_latency: list[Latency]  # per minute, one webhook call
    queue: dict[Status, int]
    oldest_due_age: timedelta | None
    gate: Gate
    rate_limit: RateLimit | None
    workers: list[tuple[WorkerStatus, bool]]


class GetDashboard:
    """Everything the dashboard shows, from kept counts and small indexed reads only, so a
    refresh every few seconds costs the same at 50 million messages as at a thousand."""

    def __init__(
        self,
        *,
        stats: DeliveryStats,
        repository: MessageRepository,
        gate: SendGate,
        control: SchedulerControl,
        clock: Clock,
        interval: timedelta,
        rate_limit: RateLimit | None,
    ) -> None:
        self._stats = stats
        self._repository = repository
        self._gate = gate
        self._control = control
        self._clock = clock
        self._interval = interval
        self._rate_limit = rate_limit

    def execute(self) -> Dashboard:
        now = self._clock.now()
        minutes = self._stats.last_minutes(MINUTES)
        workers = self._control.workers()
        return Dashboard(
            now=now,
            minutes=minutes,
            delivery_latency=[_latency(m.delivery) for m in minutes],
            call_latency=[_latency(m.call) for m in minutes],
            queue=self._repository.count_by_status(),
            oldest_due_age=self._stats.oldest_due_age(),
            gate=self._gate.state(),
            rate_limit=self._rate_limit,
            workers=[(w, is_alive(w, now=now, interval=self._interval)) for w in workers],
        )


def _latency(buckets) -> Latency:
    return Latency(p50=quantile(buckets, 0.5), p95=quantile(buckets, 0.95))
