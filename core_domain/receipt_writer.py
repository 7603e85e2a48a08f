"""Writes delivery receipts on a thread of its own, so a slow or absent cache never holds up
the dispatcher: a cache outage is counted and logged, never fatal (SPEC §7)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping
from datetime import datetime

from core_domain.message import MessageId
from core_domain.ports import ReceiptCache

logger = logging.getLogger(__name__)


class ReceiptWriter:
    """Queues receipts for the cache; `flush` waits for what was queued and returns how many
    receipts could not be cached since the last flush. Safe to call from any thread."""

    def __init__(self, *, cache: ReceiptCache) -> None:
        self._cache = cache
        self._queue: queue.Queue[dict[MessageId, datetime] | None] = queue.Queue()
        self._errors = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def put(self, receipts: Mapping[MessageId, datetime]) -> None:
        if not receipts:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="receipts", daemon=True)
                self._thread.start()
        self._queue.put(dict(receipts))

    def flush(self) -> int:
        """Wait until every queued receipt was written or failed; the failures since last time."""
        self._queue.join()
        with self._lock:
            errors, self._errors = self._errors, 0
        return errors

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _loop(self) -> None:
        while (receipts := self._queue.get()) is not None:
            try:
                self._write(receipts)
            finally:
                self._queue.task_done()
        self._queue.task_done()

    def _write(self, receipts: dict[MessageId, datetime]) -> None:
        # Whatever else is queued goes in the same round trip.
        extra = 0
        while True:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is None:
                self._queue.put(None)  # keep the stop request for the loop
                self._queue.task_done()
                break
            receipts.update(more)
            extra += 1
        try:
            self._cache.put_many(receipts)
        except Exception as exc:  # noqa: BLE001 - ReceiptCacheError, or a cache bug: never fatal
            with self._lock:
                self._errors += len(receipts)
            logger.warning("%d receipts not cached: %s", len(receipts), exc)
        finally:
            for _ in range(extra):
                self._queue.task_done()
