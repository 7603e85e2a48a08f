"""How many messages there are in each status, at a cost that does not grow with them."""

from __future__ import annotations

from core_domain.message import Status
from core_domain.ports import MessageRepository


class GetQueueDepth:
    """Messages per status, exact at the moment of the call (the repository keeps the counts)."""

    def __init__(self, *, repository: MessageRepository) -> None:
        self._repository = repository

    def execute(self) -> dict[Status, int]:
        return self._repository.count_by_status()
