"""RetentionStore on PostgreSQL: batched deletes that never touch PENDING or SENDING rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import connection
from django.db.models import Model

from adapters.database_errors import unavailable_as_domain_error

# pg_try_advisory_lock key: one pruner at a time across every dispatcher on the database.
PRUNE_LOCK = 0x6D645F70  # "md_p"


class DjangoRetentionStore:
    """Each delete is one statement over at most `limit` rows, oldest first through the
    partial index `messages_prunable`, skipping rows another transaction holds."""

    def __init__(
        self,
        *,
        messages: type[Model],
        attempts: type[Model],
        idempotency_keys: type[Model],
        minute_tables: tuple[type[Model], ...] = (),
    ) -> None:
        self._messages = messages._meta.db_table
        self._attempts = attempts._meta.db_table
        self._keys = idempotency_keys._meta.db_table
        self._minute_tables = [table._meta.db_table for table in minute_tables]

    def delete_finished(self, *, older_than: timedelta, limit: int) -> tuple[int, int]:
        # The attempts and keys go in the same statement: their foreign keys are checked at
        # its end, and no other transaction ever sees a message without its attempts.
        sql = f"""
            WITH doomed AS (
                SELECT id FROM {self._messages}
                WHERE status IN ('SENT', 'FAILED') AND updated_at < now() - %(age)s
                ORDER BY updated_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED
            ), attempts AS (
                DELETE FROM {self._attempts} WHERE message_id IN (SELECT id FROM doomed)
                RETURNING 1
            ), keys AS (
                DELETE FROM {self._keys} WHERE message_id IN (SELECT id FROM doomed)
            ), messages AS (
                DELETE FROM {self._messages} WHERE id IN (SELECT id FROM doomed) RETURNING 1
            )
            SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM attempts)
        """
        return self._row(sql, {"age": older_than, "limit": limit})

    def count_finished(self, *, older_than: timedelta) -> tuple[int, int]:
        sql = f"""
            WITH doomed AS (
                SELECT id FROM {self._messages}
                WHERE status IN ('SENT', 'FAILED') AND updated_at < now() - %(age)s
            )
            SELECT (SELECT count(*) FROM doomed),
                   (SELECT count(*) FROM {self._attempts}
                    WHERE message_id IN (SELECT id FROM doomed))
        """
        return self._row(sql, {"age": older_than})

    def delete_keys(self, *, older_than: timedelta, limit: int) -> int:
        sql = f"""
            DELETE FROM {self._keys} WHERE key IN (
                SELECT key FROM {self._keys} WHERE created_at < now() - %(age)s
                ORDER BY created_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
        """
        return self._rowcount(sql, {"age": older_than, "limit": limit})

    def count_keys(self, *, older_than: timedelta) -> int:
        sql = f"SELECT count(*) FROM {self._keys} WHERE created_at < now() - %(age)s"
        return self._row(sql, {"age": older_than})[0]

    def delete_stats(self, *, older_than: timedelta) -> int:
        return sum(
            self._rowcount(
                f"DELETE FROM {table} WHERE minute < now() - %(age)s", {"age": older_than}
            )  # fmt: skip
            for table in self._minute_tables
        )

    @contextmanager
    def exclusive(self) -> Iterator[bool]:
        """A session advisory lock, held while the context lasts (and freed by PostgreSQL if
        this process dies)."""
        is_mine = self._row("SELECT pg_try_advisory_lock(%(key)s)", {"key": PRUNE_LOCK})[0]
        try:
            yield is_mine
        finally:
            if is_mine:
                self._row("SELECT pg_advisory_unlock(%(key)s)", {"key": PRUNE_LOCK})

    @staticmethod
    def _row(sql: str, params: dict) -> tuple:
        def run() -> tuple:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchone()

        return unavailable_as_domain_error(run)

    @staticmethod
    def _rowcount(sql: str, params: dict) -> int:
        def run() -> int:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.rowcount

        return unavailable_as_domain_error(run)
