"""Rate limiting for /api/v1: a fixed one-minute window per API key, counted in the shared cache."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse

from messaging.authentication import bearer_token, matching_key_id
from messaging.exception_handler import error_body

logger = logging.getLogger(__name__)
WINDOW_SECONDS = 60


class _LocalCounter:
    """Per-process fallback used while the shared cache is unreachable."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def incr(self, key: str) -> int:
        with self._lock:
            if len(self._counts) > 10_000:
                self._counts.clear()
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


_local = _LocalCounter()
CACHE_RETRY_SECONDS = 5.0  # after a cache failure, count locally this long before trying again
_cache_down_until = 0.0


def _count(key: str) -> int:
    global _cache_down_until
    if time.monotonic() < _cache_down_until:
        return _local.incr(key)
    try:
        cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=WINDOW_SECONDS + 5)
        return 1
    except Exception as exc:  # noqa: BLE001 - any cache outage degrades to per-process counting
        # Not every request should wait for a connect timeout while the cache is down.
        _cache_down_until = time.monotonic() + CACHE_RETRY_SECONDS
        logger.warning("Rate-limit cache unavailable, counting per process: %s", exc)
        return _local.incr(key)


def _client_id(request: HttpRequest) -> str:
    token = bearer_token(request)
    key_id = matching_key_id(token) if token else None
    if key_id:
        return f"key:{key_id}"
    return f"addr:{request.META.get('REMOTE_ADDR', 'unknown')}"


class RateLimitMiddleware:
    """429 with Retry-After once a client exceeds RATE_LIMIT_PER_MINUTE (0 turns it off)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DISPATCHER["rate_limit_per_minute"]
        if limit and request.path.startswith("/api/v1/"):
            now = time.time()
            window = int(now // WINDOW_SECONDS)
            if _count(f"ratelimit:{_client_id(request)}:{window}") > limit:
                retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now) + 1)
                response = JsonResponse(
                    error_body(
                        429, f"Rate limit of {limit} requests per minute exceeded; retry later"
                    ),
                    status=429,
                )
                response["Retry-After"] = str(retry_after)
                return response
        return self.get_response(request)
