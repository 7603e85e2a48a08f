"""PostgreSQL's clock, for everything that decides due-ness or liveness."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from django.db import connection


class DatabaseClock:
    """PostgreSQL's clock, the one every dispatcher shares (SPEC §9).

    Read every `resync` and carried forward on this host's monotonic clock in between, so
    most calls cost no round trip; the error stays within a round trip (well under 1 ms on
    a local network) whatever this host's wall clock says. Thread-safe.
    """

    def __init__(self, *, resync: timedelta = timedelta(seconds=5)) -> None:
        self._resync = resync.total_seconds()
        self._lock = threading.Lock()
        self._base: tuple[datetime, float] | None = None

    def now(self) -> datetime:
        with self._lock:
            if self._base is None or time.monotonic() - self._base[1] > self._resync:
                self._base = self._read()
            database_time, read_at = self._base
        return database_time + timedelta(seconds=time.monotonic() - read_at)

    @staticmethod
    def _read() -> tuple[datetime, float]:
        with connection.cursor() as cursor:
            sent = time.monotonic()
            cursor.execute("SELECT clock_timestamp()")
            (moment,) = cursor.fetchone()
            received = time.monotonic()
        # The server read its clock about halfway through the round trip.
        return moment.astimezone(UTC), (sent + received) / 2
