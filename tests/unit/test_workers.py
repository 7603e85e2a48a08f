from __future__ import annotations

from datetime import timedelta

from core_domain.ports import WorkerStatus
from core_domain.workers import is_alive, next_tick_at
from tests.fakes import T0

INTERVAL = timedelta(seconds=20)


def a_worker(name: str, *, beat_ago: timedelta) -> WorkerStatus:
    return WorkerStatus(
        id=name, host="h", pid=1, started_at=T0 - timedelta(hours=1), last_heartbeat=T0 - beat_ago
    )


def test_the_next_tick_is_an_interval_after_the_earliest_live_heartbeat() -> None:
    early, late = (
        a_worker("a", beat_ago=timedelta(seconds=15)),
        a_worker("b", beat_ago=timedelta(0)),
    )
    assert next_tick_at([late, early], interval=INTERVAL, is_running=True) == T0 + timedelta(
        seconds=5
    )


def test_there_is_no_next_tick_when_stopped_or_without_live_workers() -> None:
    worker = a_worker("a", beat_ago=timedelta(0))
    assert next_tick_at([worker], interval=INTERVAL, is_running=False) is None
    assert next_tick_at([], interval=INTERVAL, is_running=True) is None


def test_a_worker_is_alive_within_three_intervals_and_at_least_thirty_seconds() -> None:
    assert is_alive(a_worker("a", beat_ago=timedelta(seconds=60)), now=T0, interval=INTERVAL)
    assert not is_alive(a_worker("a", beat_ago=timedelta(seconds=61)), now=T0, interval=INTERVAL)
    short = timedelta(seconds=1)
    assert is_alive(a_worker("a", beat_ago=timedelta(seconds=30)), now=T0, interval=short)
    assert not is_alive(a_worker("a", beat_ago=timedelta(seconds=31)), now=T0, interval=short)
