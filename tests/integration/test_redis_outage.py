"""Redis down: the API keeps answering, rate limiting falls back to per-process counting."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from messaging import rate_limit
from tests.integration.receivers import closed_port

pytestmark = pytest.mark.django_db(transaction=True)
HELLO = {"phoneNumber": "+905551234567", "content": "Hello"}


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    rate_limit._cache_down_until = 0.0
    rate_limit._local.clear()
    yield
    rate_limit._cache_down_until = 0.0
    rate_limit._local.clear()


def test_the_api_answers_while_redis_is_down(api, redis_down, settings) -> None:
    settings.DISPATCHER = {**settings.DISPATCHER, "rate_limit_per_minute": 1000}
    created = api.post("/api/v1/messages", HELLO, format="json")
    assert created.status_code == 201
    assert api.get(f"/api/v1/messages/{created.json()['id']}").status_code == 200


def test_rate_limiting_falls_back_to_counting_per_process(api, redis_down, settings) -> None:
    settings.DISPATCHER = {**settings.DISPATCHER, "rate_limit_per_minute": 3}
    codes = [api.get("/api/v1/messages").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert rate_limit._cache_down_until > 0  # the outage was noticed and is not retried per call


def test_readiness_names_redis_when_it_is_down(anonymous, redis_down) -> None:
    response = anonymous.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "ok",
        "redis": response.json()["checks"]["redis"],
    }
    assert response.json()["checks"]["redis"].startswith("unavailable")
    assert "redis" in response.json()["message"]


def test_the_shared_counter_is_used_again_when_redis_is_back(api, settings) -> None:
    settings.DISPATCHER = {**settings.DISPATCHER, "rate_limit_per_minute": 1000}
    assert api.get("/api/v1/messages").status_code == 200
    assert any(key.startswith("ratelimit:") for key in cache.keys("ratelimit:*"))
