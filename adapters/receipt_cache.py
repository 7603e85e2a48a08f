"""ReceiptCache on Django's cache framework (django-redis in production)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from django.core.cache import caches

from core_domain.errors import ReceiptCacheError
from core_domain.message import MessageId


def receipt_key(message_id: MessageId) -> str:
    """The cache key of a message's receipt (Django adds its own prefix and version)."""
    return f"receipt:{message_id}"


def _iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("sent_at must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class DjangoRedisReceiptCache:
    """Caches `{"messageId", "sentAt"}` under `receipt:<id>` for `ttl`.

    Every failure of the cache becomes ReceiptCacheError, raised rather than swallowed: the
    dispatch use case logs and counts it and carries on with the delivery. With the settings'
    one-second socket timeouts an outage costs at most about a second per call.
    Thread-safe: the cache is looked up per call, so each thread uses its own client.
    """

    def __init__(self, *, ttl: timedelta, cache_alias: str = "default") -> None:
        if ttl <= timedelta(0):
            raise ValueError("RECEIPT_TTL must be positive")
        self._ttl = ttl
        self._alias = cache_alias

    def put_many(self, receipts: Mapping[MessageId, datetime]) -> None:
        """Store every receipt in one round trip (django-redis pipelines `set_many`)."""
        if not receipts:
            return
        entries = {
            receipt_key(message_id): {"messageId": str(message_id), "sentAt": _iso_utc(sent_at)}
            for message_id, sent_at in receipts.items()
        }
        try:
            caches[self._alias].set_many(entries, timeout=self._ttl.total_seconds())
        except Exception as exc:
            first = next(iter(receipts))
            raise _cache_error(exc, message_id=first, doing="store", count=len(receipts)) from exc


def _cache_error(
    exc: Exception, *, message_id: MessageId, doing: str, count: int = 1
) -> ReceiptCacheError:
    # Only the exception's class: a client's message can quote the cache's URL.
    others = f" and {count - 1} more" if count > 1 else ""
    return ReceiptCacheError(
        f"Could not {doing} the delivery receipt of message {message_id}{others} "
        f"({type(exc).__name__})"
    )
