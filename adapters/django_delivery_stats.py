"""DeliveryStats on PostgreSQL: the per-minute tables the attempts trigger keeps."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Model

from adapters.database_errors import unavailable_as_domain_error
from core_domain.delivery_stats import MinuteStats

_OUTCOMES = {"delivered": "sent", "retry_scheduled": "retried", "failed": "failed"}


class DjangoDeliveryStats:
    """Reads at most an hour of minutes (a few hundred rows), whatever the message count."""

    def __init__(
        self, *, minutes: type[Model], latencies: type[Model], messages: type[Model]
    ) -> None:
        self._minutes = minutes._meta.db_table
        self._latencies = latencies._meta.db_table
        self._messages = messages._meta.db_table

    def last_minutes(self, count: int) -> list[MinuteStats]:
        def read() -> list[MinuteStats]:
            with connection.cursor() as cursor:
                cursor.execute("SELECT date_trunc('minute', now())")
                (current,) = cursor.fetchone()
                first = current - timedelta(minutes=count - 1)
                cursor.execute(
                    f"SELECT minute, outcome, sum(count) FROM {self._minutes} "
                    "WHERE minute >= %s GROUP BY minute, outcome",
                    [first],
                )
                counts = cursor.fetchall()
                cursor.execute(
                    f"SELECT minute, kind, bucket, sum(count) FROM {self._latencies} "
                    "WHERE minute >= %s GROUP BY minute, kind, bucket",
                    [first],
                )
                return _minutes(first, count, counts, cursor.fetchall())

        return unavailable_as_domain_error(read)

    def oldest_due_age(self) -> timedelta | None:
        # Through the partial index `messages_claimable`: the first due PENDING row.
        sql = (
            f"SELECT now() - next_attempt_at FROM {self._messages} "
            "WHERE status IN ('PENDING', 'SENDING') AND status = 'PENDING' "
            "AND next_attempt_at <= now() ORDER BY next_attempt_at LIMIT 1"
        )

        def read() -> timedelta | None:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                row = cursor.fetchone()
            return row[0] if row else None

        return unavailable_as_domain_error(read)


def _minutes(first: datetime, count: int, counts: list, latencies: list) -> list[MinuteStats]:
    found: dict[datetime, dict] = defaultdict(
        lambda: {"delivery": {}, "call": {}, "sent": 0, "retried": 0, "failed": 0}
    )
    for minute, outcome, n in counts:
        found[minute][_OUTCOMES[outcome]] = int(n)
    for minute, kind, bucket, n in latencies:
        found[minute][kind][bucket] = int(n)
    every = [first + timedelta(minutes=n) for n in range(count)]
    return [MinuteStats(minute=minute, **found[minute]) if minute in found
            else MinuteStats(minute=minute) for minute in every]  # fmt: skip
