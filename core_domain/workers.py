"""Dispatcher liveness and the next scheduled tick, read from the workers' heartbeats."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from core_domain.ports import WorkerStatus

MIN_ALIVE_WINDOW = timedelta(seconds=30)


def is_alive(worker: WorkerStatus, *, now: datetime, interval: timedelta) -> bool:
    """A worker is alive when its last heartbeat is within max(3 × interval, 30 s)."""
    return now - worker.last_heartbeat <= max(3 * interval, MIN_ALIVE_WINDOW)


def next_tick_at(
    alive: Sequence[WorkerStatus], *, interval: timedelta, is_running: bool
) -> datetime | None:
    """When the next tick is due: an interval after the earliest heartbeat of a live worker
    (each one ticks once per interval); None when the scheduler is off or no worker is alive."""
    if not is_running or not alive:
        return None
    return min(w.last_heartbeat for w in alive) + interval
