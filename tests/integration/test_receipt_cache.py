"""DjangoRedisReceiptCache against the real Redis, and against one that is down."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core.cache import caches

from adapters.receipt_cache import DjangoRedisReceiptCache, receipt_key
from core_domain.errors import ReceiptCacheError
from tests.fakes import a_message


def test_a_receipt_is_stored_under_the_message_id_with_the_ttl() -> None:
    receipts, message = DjangoRedisReceiptCache(ttl=timedelta(hours=1)), a_message()

    receipts.put_many({message.id: datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)})

    key = f"receipt:{message.id}"
    assert receipt_key(message.id) == key
    expected = {"messageId": str(message.id), "sentAt": "2026-01-02T03:04:05.678000Z"}
    assert caches["default"].get(key) == expected
    assert 3590 <= caches["default"].ttl(key) <= 3600


def test_sent_at_is_written_in_utc() -> None:
    receipts, message = DjangoRedisReceiptCache(ttl=timedelta(days=30)), a_message()
    istanbul = timezone(timedelta(hours=3))

    receipts.put_many({message.id: datetime(2026, 1, 2, 15, 0, tzinfo=istanbul)})

    assert caches["default"].get(receipt_key(message.id))["sentAt"] == "2026-01-02T12:00:00Z"
    assert caches["default"].ttl(f"receipt:{message.id}") > 29 * 24 * 3600


def test_a_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError, match="RECEIPT_TTL"):
        DjangoRedisReceiptCache(ttl=timedelta(0))


def test_an_unreachable_cache_raises_receipt_cache_error_quickly(unreachable_cache: str) -> None:
    receipts, message = (
        DjangoRedisReceiptCache(ttl=timedelta(days=1), cache_alias="down"),
        a_message(),
    )
    started = time.monotonic()

    with pytest.raises(ReceiptCacheError) as raised:
        receipts.put_many({message.id: datetime.now(UTC)})

    assert time.monotonic() - started < 2
    assert str(message.id) in str(raised.value)
    assert "redis://" not in str(raised.value) and "127.0.0.1" not in str(raised.value)
