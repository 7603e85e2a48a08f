"""Integration fixtures: the Django repository on the real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache

from adapters.django_repository import DjangoMessageRepository
from adapters.django_scheduler import DjangoSchedulerControl
from adapters.receipt_cache import DjangoRedisReceiptCache
from adapters.webhook_client import HttpWebhookSender
from core_domain.receipt_writer import ReceiptWriter
from core_domain.retry import RetryPolicy
from core_domain.use_cases.delivery_pipeline import DeliveryPipeline
from core_domain.use_cases.dispatcher import Dispatcher
from messaging import models
from messaging.bootstrap import message_repository, use_cases
from tests.django_fixtures import *  # noqa: F403 (its __all__: fixtures pytest finds by name)
from tests.integration.receivers import ScriptedReceiver, closed_port

MAX_RETRIES = 3  # of the real_dispatch pipelines
BACKOFF_BASE = timedelta(milliseconds=50)


@pytest.fixture
def django_repository() -> DjangoMessageRepository:
    return message_repository()


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
def real_dispatch(django_repository, receiver: ScriptedReceiver):  # noqa: F811
    """Builds a Dispatcher from the real adapters (PostgreSQL, HTTP, Redis), posting to `url`
    (the receiver unless given), with a 50 ms backoff and no jitter; every one built is closed
    afterwards. Its `process(worker_id=..., limit=N)` runs one batch of up to N messages."""
    built: list[Dispatcher] = []

    def build(
        *,
        url: str | None = None,
        timeout: timedelta = timedelta(seconds=5),
        cache_alias: str = "default",
        concurrency: int = 4,
        lease: timedelta = timedelta(seconds=30),
    ) -> Dispatcher:
        sender = HttpWebhookSender(url=url or receiver.url, timeout=timeout, pool_size=concurrency)
        receipts = ReceiptWriter(
            cache=DjangoRedisReceiptCache(ttl=timedelta(hours=1), cache_alias=cache_alias)
        )
        pipeline = DeliveryPipeline(
            repository=django_repository,
            sender=sender,
            receipts=receipts,
            policy=RetryPolicy(
                max_retries=MAX_RETRIES,
                backoff_base=BACKOFF_BASE,
                backoff_max=timedelta(seconds=1),
                jitter=0,
            ),
            lease=lease,
            concurrency=concurrency,
        )
        dispatcher = Dispatcher(
            pipeline=pipeline,
            repository=django_repository,
            control=DjangoSchedulerControl(
                state=models.SchedulerState, workers=models.Worker, initially_running=True
            ),
            receipts=receipts,
            wakeups=None,
            batch_size=1000,
        )
        built.append(dispatcher)
        return dispatcher

    yield build
    for dispatcher in built:
        dispatcher.close()


@pytest.fixture
def unreachable_cache(settings) -> str:
    """A second cache alias, `down`, whose Redis is a closed port; it fails fast."""
    settings.CACHES = {
        **settings.CACHES,
        "down": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        },
    }
    return "down"
