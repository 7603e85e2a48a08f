"""SchedulerControl on PostgreSQL: one switch row and one heartbeat row per dispatcher."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from django.db import connection
from django.db.models import Model, Q
from django.db.models.functions import Now

from adapters.database_errors import unavailable_as_domain_error
from core_domain.ports import WorkerBeat, WorkerStatus

SWITCH_ID = 1
WAKE_UP_CHANNEL = "message_dispatcher_due"  # also notified by the messages table's trigger
_WORKER_FIELDS = tuple(f.name for f in dataclasses.fields(WorkerStatus))


class DjangoSchedulerControl:
    """The model classes come from the composition root; every method is one statement.

    Heartbeats are stamped with the database's now(), so a dispatcher with a wrong clock is
    neither taken for dead nor kept alive forever.
    """

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
        def read() -> bool | None:
            rows = self._state.objects.filter(id=SWITCH_ID).values_list("is_running", flat=True)
            return rows.first()

        value = unavailable_as_domain_error(read)
        if value is None:
            unavailable_as_domain_error(self._ensure_switch)
            return self.is_running()
        return value

    def set_running(self, is_running: bool) -> bool:
        """Flip the switch; turning it on wakes idle dispatchers (NOTIFY on commit)."""
        self._ensure_switch()
        changed = self._state.objects.filter(~Q(is_running=is_running), id=SWITCH_ID).update(
            is_running=is_running, changed_at=Now()
        )
        if changed and is_running:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_notify(%s, '')", [WAKE_UP_CHANNEL])
        return changed == 1

    def heartbeat(self, beat: WorkerBeat) -> None:
        table = self._workers._meta.db_table
        sql = f"""
            INSERT INTO {table} (id, host, pid, started_at, last_heartbeat, is_processing,
                processed, succeeded, failed, last_processed_at)
            VALUES (%(id)s, %(host)s, %(pid)s, now(), now(), %(is_processing)s, %(processed)s,
                %(succeeded)s, %(failed)s, CASE WHEN %(processed)s > 0 THEN now() END)
            ON CONFLICT (id) DO UPDATE SET
                last_heartbeat = now(), is_processing = EXCLUDED.is_processing,
                processed = EXCLUDED.processed, succeeded = EXCLUDED.succeeded,
                failed = EXCLUDED.failed,
                last_processed_at = CASE WHEN EXCLUDED.processed > {table}.processed THEN now()
                    ELSE {table}.last_processed_at END
        """

        def write() -> None:
            with connection.cursor() as cursor:
                cursor.execute(sql, dataclasses.asdict(beat))

        unavailable_as_domain_error(write)

    def forget_workers(self, *, silent_for: timedelta) -> int:
        table = self._workers._meta.db_table

        def delete() -> int:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"DELETE FROM {table} WHERE last_heartbeat < now() - %s", [silent_for]
                )
                return cursor.rowcount

        return unavailable_as_domain_error(delete)

    def workers(self) -> list[WorkerStatus]:
        rows = self._workers.objects.order_by("started_at").values(*_WORKER_FIELDS)
        return [WorkerStatus(**row) for row in rows]
