"""SchedulerControl on PostgreSQL: one switch row and one heartbeat row per dispatcher."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from django.db.models import Model, Q
from django.utils import timezone

from core_domain.ports import WorkerStatus

SWITCH_ID = 1
_WORKER_FIELDS = tuple(f.name for f in dataclasses.fields(WorkerStatus))


class DjangoSchedulerControl:
    """The model classes come from the composition root; every method is one statement."""

    def __init__(
        self, *, state: type[Model], workers: type[Model], initially_running: bool
    ) -> None:
        self._state = state
        self._workers = workers
        self._initially_running = initially_running

    def _ensure_switch(self) -> None:
        self._state.objects.bulk_create(
            [self._state(id=SWITCH_ID, is_running=self._initially_running)],
            ignore_conflicts=True,
        )

    def is_running(self) -> bool:
        value = (
            self._state.objects.filter(id=SWITCH_ID).values_list("is_running", flat=True).first()
        )
        if value is None:
            self._ensure_switch()
            return self.is_running()
        return value

    def set_running(self, is_running: bool) -> bool:
        self._ensure_switch()
        changed = self._state.objects.filter(~Q(is_running=is_running), id=SWITCH_ID).update(
            is_running=is_running, changed_at=timezone.now()
        )
        return changed == 1

    def heartbeat(self, worker: WorkerStatus) -> None:
        values = {f: getattr(worker, f) for f in _WORKER_FIELDS if f != "id"}
        self._workers.objects.update_or_create(id=worker.id, defaults=values)

    def forget_workers(self, *, silent_since: datetime) -> int:
        deleted, _ = self._workers.objects.filter(last_heartbeat__lt=silent_since).delete()
        return deleted

    def workers(self) -> list[WorkerStatus]:
        rows = self._workers.objects.order_by("started_at").values(*_WORKER_FIELDS)
        return [WorkerStatus(**row) for row in rows]
