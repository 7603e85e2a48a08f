"""One suite, two scheduler controls: the in-memory fake and the Django one on PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import F

from adapters.django_scheduler import DjangoSchedulerControl
from core_domain.ports import WorkerBeat
from messaging import models
from tests.fakes import InMemorySchedulerControl

pytestmark = pytest.mark.django_db
NEAR = timedelta(seconds=5)  # PostgreSQL's clock against this host's, same machine


@pytest.fixture(params=["in-memory", "postgresql"])
def make_control(request):
    def make(*, is_running: bool = True):
        if request.param == "in-memory":
            return InMemorySchedulerControl(is_running=is_running)
        return DjangoSchedulerControl(
            state=models.SchedulerState, workers=models.Worker, initially_running=is_running
        )

    return make


@pytest.fixture
def control(make_control):
    return make_control()


def now_of(control) -> datetime:
    """The control's clock: the fake's FixedClock, or (same host) PostgreSQL's."""
    if isinstance(control, InMemorySchedulerControl):
        return control.clock.now()
    return datetime.now(UTC)


def silence(control, worker_id: str, *, by: timedelta) -> None:
    """Move a worker's last heartbeat `by` into the past, as if it had stopped beating."""
    if isinstance(control, InMemorySchedulerControl):
        row = control.rows[worker_id]
        control.rows[worker_id] = dataclasses.replace(
            row, last_heartbeat=row.last_heartbeat - by, started_at=row.started_at - by
        )
        return
    models.Worker.objects.filter(id=worker_id).update(
        last_heartbeat=F("last_heartbeat") - by, started_at=F("started_at") - by
    )


@pytest.mark.parametrize("initially", [True, False])
def test_the_switch_starts_as_configured(make_control, initially: bool) -> None:
    assert make_control(is_running=initially).is_running() is initially


def test_the_switch_flips_once_and_reports_a_repeat(control) -> None:
    assert control.set_running(False) is True
    assert control.is_running() is False
    assert control.set_running(False) is False
    assert control.is_running() is False
    assert control.set_running(True) is True
    assert control.is_running() is True


def test_a_first_heartbeat_lists_the_worker_stamped_now(control) -> None:
    control.heartbeat(WorkerBeat(id="w1", host="host-a", pid=42, is_processing=True))

    (worker,) = control.workers()
    assert (worker.id, worker.host, worker.pid, worker.is_processing) == ("w1", "host-a", 42, True)
    assert abs(worker.last_heartbeat - now_of(control)) < NEAR
    assert worker.started_at == worker.last_heartbeat
    assert (worker.processed, worker.last_processed_at) == (0, None)


def test_a_later_heartbeat_keeps_the_start_and_stamps_progress_only_when_it_moved(control) -> None:
    control.heartbeat(WorkerBeat(id="w1", host="h", pid=1))
    silence(control, "w1", by=timedelta(minutes=1))
    (first,) = control.workers()

    control.heartbeat(WorkerBeat(id="w1", host="h", pid=1, processed=3, succeeded=2, failed=1))
    (moved,) = control.workers()
    control.heartbeat(WorkerBeat(id="w1", host="h", pid=1, processed=3, succeeded=2, failed=1))
    (still,) = control.workers()

    assert moved.started_at == first.started_at
    assert moved.last_heartbeat > first.last_heartbeat
    assert (moved.processed, moved.succeeded, moved.failed) == (3, 2, 1)
    assert moved.last_processed_at is not None
    assert abs(moved.last_processed_at - now_of(control)) < NEAR
    assert still.last_processed_at == moved.last_processed_at  # nothing new was processed


def test_workers_are_listed_oldest_first(control) -> None:
    for worker_id in ("young", "old", "middle"):
        control.heartbeat(WorkerBeat(id=worker_id, host="h", pid=1))
    silence(control, "old", by=timedelta(minutes=2))
    silence(control, "middle", by=timedelta(minutes=1))

    assert [w.id for w in control.workers()] == ["old", "middle", "young"]


def test_only_workers_silent_for_longer_are_forgotten(control) -> None:
    for worker_id in ("silent", "recent", "live"):
        control.heartbeat(WorkerBeat(id=worker_id, host="h", pid=1))
    silence(control, "silent", by=timedelta(hours=25))
    silence(control, "recent", by=timedelta(hours=23))

    assert control.forget_workers(silent_for=timedelta(days=1)) == 1
    assert sorted(w.id for w in control.workers()) == ["live", "recent"]
    assert control.forget_workers(silent_for=timedelta(days=1)) == 0
