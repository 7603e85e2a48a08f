"""WakeUpSignal through PostgreSQL LISTEN/NOTIFY, on a session connection of its own.

The messages table's trigger notifies `message_dispatcher_due` when a row becomes PENDING (a
new, requeued, retried or released message) and the switch notifies it when dispatching is
turned on; NOTIFY is sent on commit, so it also works through a transaction-mode pooler on
the API side. LISTEN needs a session: dispatchers connect to PostgreSQL directly (or through
a session-mode pool).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

import psycopg
from psycopg import sql

from adapters.django_scheduler import WAKE_UP_CHANNEL
from core_domain.outage import pause

logger = logging.getLogger(__name__)


class PostgresWakeUps:
    """Waits for a notification; while the database is unreachable it just waits the time out.

    `connect` opens a new autocommit psycopg connection (from the composition root). Used by
    one thread at a time: the dispatcher's.
    """

    def __init__(
        self, *, connect: Callable[[], psycopg.Connection], channel: str = WAKE_UP_CHANNEL
    ) -> None:
        self._connect = connect
        self._channel = channel
        self._connection: psycopg.Connection | None = None

    def wait(self, timeout: timedelta) -> bool:
        """Also True right after (re)connecting: whatever happened while nobody listened is
        unknown, so the caller should look for work once more before waiting."""
        seconds = max(0.0, timeout.total_seconds())
        started = time.monotonic()
        try:
            if self._connection is None or self._connection.closed:
                self._listen()
                return True
            listening = self._connection
            signalled = any(True for _ in listening.notifies(timeout=seconds, stop_after=1))
            if signalled:  # one wake-up stands for all that are already here
                for _ in listening.notifies(timeout=0):
                    pass
            return signalled
        except psycopg.Error as exc:
            logger.debug("wake-ups unavailable (%s); waiting the time out", exc)
            self.close()
            pause(seconds - (time.monotonic() - started))
            return False

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None

    def _listen(self) -> None:
        self._connection = self._connect()
        self._connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
