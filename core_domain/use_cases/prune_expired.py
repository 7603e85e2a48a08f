"""Retention: remove finished messages, idempotency keys and workers that outlived their time."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import timedelta

from core_domain.outage import pause
from core_domain.ports import RetentionStore, SchedulerControl

WORKER_RETENTION = timedelta(days=1)  # how long a silent (stopped or crashed) worker is listed
STATS_RETENTION = timedelta(days=7)  # per-minute delivery counts (the dashboard shows an hour)
BATCH = 1000  # rows per statement: each one is short, whatever the backlog


@dataclass(frozen=True, slots=True)
class Retention:
    """How long things are kept; None keeps them for ever."""

    messages: timedelta | None
    idempotency_keys: timedelta | None
    workers: timedelta = WORKER_RETENTION
    stats: timedelta = STATS_RETENTION


@dataclass(slots=True)
class PruneReport:
    messages: int = 0
    attempts: int = 0
    idempotency_keys: int = 0
    workers: int = 0
    is_skipped: bool = False  # another process was pruning

    @property
    def removed(self) -> int:
        return self.messages + self.attempts + self.idempotency_keys + self.workers

    def __str__(self) -> str:
        return ", ".join(f"{f.name.replace('_', ' ')} {getattr(self, f.name)}"
                         for f in fields(self) if f.name != "is_skipped")  # fmt: skip


class PruneExpired:
    """Remove SENT/FAILED messages (with their attempts) and idempotency keys older than their
    retention, and workers silent for a day, in batches of BATCH; one process at a time across
    the fleet (others skip). PENDING and SENDING messages are never touched. `dry_run` counts
    what would go and removes nothing. Raises StorageUnavailableError without a database.
    """

    def __init__(
        self, *, store: RetentionStore, control: SchedulerControl, retention: Retention
    ) -> None:
        self._store = store
        self._control = control
        self._retention = retention

    def execute(
        self,
        *,
        dry_run: bool = False,
        budget: timedelta | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        between_batches: timedelta = timedelta(0),
    ) -> PruneReport:
        """`budget`, `should_stop`: start no batch after this long, or once it is true (the rest
        waits for the next run). `between_batches`: a rest after each batch, so a background
        prune leaves the database to the claims most of the time."""
        with self._store.exclusive() as is_mine:
            if not is_mine:
                return PruneReport(is_skipped=True)
            if dry_run:
                return self._count()
            deadline = time.monotonic() + budget.total_seconds() if budget else math.inf

            def more_time() -> bool:
                pause(between_batches.total_seconds())
                return time.monotonic() < deadline and not should_stop()

            return self._prune(more_time=more_time)

    def _count(self) -> PruneReport:
        report = PruneReport()
        if self._retention.messages is not None:
            report.messages, report.attempts = self._store.count_finished(
                older_than=self._retention.messages
            )
        if self._retention.idempotency_keys is not None:
            report.idempotency_keys = self._store.count_keys(
                older_than=self._retention.idempotency_keys
            )
        return report

    def _prune(self, *, more_time: Callable[[], bool]) -> PruneReport:
        report = PruneReport()
        if self._retention.idempotency_keys is not None:
            while more_time():
                removed = self._store.delete_keys(
                    older_than=self._retention.idempotency_keys, limit=BATCH
                )
                report.idempotency_keys += removed
                if removed < BATCH:
                    break
        if self._retention.messages is not None:
            while more_time():
                messages, attempts = self._store.delete_finished(
                    older_than=self._retention.messages, limit=BATCH
                )
                report.messages += messages
                report.attempts += attempts
                if messages < BATCH:
                    break
        report.workers = self._control.forget_workers(silent_for=self._retention.workers)
        self._store.delete_stats(older_than=self._retention.stats)
        return report
