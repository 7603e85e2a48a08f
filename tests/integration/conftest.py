"""Integration fixtures: the Django repository on the real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.cache import cache

from adapters.django_repository import DjangoMessageRepository
from messaging import models
from messaging.bootstrap import dispatch_batch, use_cases
from tests.integration.receivers import ScriptedReceiver


@pytest.fixture
def django_repository() -> DjangoMessageRepository:
    return DjangoMessageRepository(
        messages=models.Message,
        attempts=models.DeliveryAttempt,
        idempotency_keys=models.IdempotencyKey,
    )


@pytest.fixture(autouse=True)
def _fresh_composition_root_and_cache():
    use_cases.cache_clear()
    cache.clear()
    yield
    use_cases.cache_clear()


@pytest.fixture(autouse=True)
def _no_proxy_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sender honours proxy variables; the loopback receiver must be reached directly."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def webhook(settings, receiver: ScriptedReceiver) -> Iterator[ScriptedReceiver]:
    """The API's dispatcher delivers to `receiver`, with a tiny backoff, the scheduler on."""
    conf = settings.DISPATCHER
    settings.DISPATCHER = {
        **conf,
        "webhook": {**conf["webhook"], "url": receiver.url, "timeout": timedelta(seconds=5)},
        "retry": {**conf["retry"], "backoff_base": timedelta(milliseconds=50)},
        "scheduler": {**conf["scheduler"], "enabled": True, "interval": timedelta(minutes=2)},
    }
    dispatch_batch.cache_clear()
    yield receiver
    dispatch_batch.cache_clear()
