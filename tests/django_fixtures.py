"""Fixtures shared by the suites that run Django (integration, e2e, browser): their conftests
import them by name, so `tests/unit` never loads Django. Importing this module demands REDIS_URL."""

from __future__ import annotations

import os

import pytest

from tests.integration.receivers import receiver, webhook

__all__ = [
    "_no_rate_limit_unless_asked",
    "anonymous",
    "api",
    "api_key",
    "django_db_modify_db_settings",
    "receiver",
    "webhook",
]

if not os.environ.get("REDIS_URL"):
    raise pytest.UsageError(
        "REDIS_URL is not set: run the suite with `make test`, which starts an embedded Redis "
        "(the Redis tests never skip)."
    )


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    """Close connections after each request: live-server threads must not hold the test DB."""
    from django.conf import settings

    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0


@pytest.fixture(autouse=True)
def _no_rate_limit_unless_asked(settings) -> None:
    """Rate limiting has its own tests; elsewhere it would make results depend on test order."""
    settings.DISPATCHER = {**settings.DISPATCHER, "rate_limit_per_minute": 0}


@pytest.fixture
def api_key(settings) -> str:
    return settings.DISPATCHER["api_key"][0]


@pytest.fixture
def api(api_key):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    return client


@pytest.fixture
def anonymous():
    from rest_framework.test import APIClient

    return APIClient()
