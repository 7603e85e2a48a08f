"""Integration fixtures: the Django repository on the real PostgreSQL."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from adapters.django_repository import DjangoMessageRepository
from messaging import models
from messaging.bootstrap import use_cases
from tests.integration.receivers import receiver  # noqa: F401 - shared fixture


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
