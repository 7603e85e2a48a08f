"""How long the oldest due message has waited, through an index, whatever the backlog."""

from __future__ import annotations

from datetime import timedelta

from core_domain.ports import DeliveryStats


class GetOldestDueAge:
    """The wait of the oldest PENDING message that is due, or None when none is."""

    def __init__(self, *, stats: DeliveryStats) -> None:
        self._stats = stats

    def execute(self) -> timedelta | None:
        return self._stats.oldest_due_age()
