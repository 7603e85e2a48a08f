"""Retention run by each dispatcher on a thread of its own."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from core_domain.errors import StorageUnavailableError
from core_domain.use_cases.prune_expired import PruneExpired

logger = logging.getLogger(__name__)

BACKGROUND_REST = timedelta(milliseconds=100)  # between a dispatcher's batches (at most ~5k rows/s)


class PruneInBackground:
    """Runs PruneExpired every `every` on a thread of its own (its own database connection), so
    a prune never holds up claims; logs what it removed. Stop it with `stop()`."""

    def __init__(self, *, prune: PruneExpired, every: timedelta) -> None:
        self._prune = prune
        self._every = every.total_seconds()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="prune", daemon=True)

    def start(self) -> PruneInBackground:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stopping.wait(self._every):
            try:
                report = self._prune.execute(
                    budget=timedelta(seconds=self._every / 2),
                    should_stop=self._stopping.is_set,
                    between_batches=BACKGROUND_REST,
                )
            except StorageUnavailableError as exc:
                logger.warning("prune skipped: %s", exc)
                continue
            if report.removed:
                logger.info("pruned %s", report)
