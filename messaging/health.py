"""Liveness and readiness endpoints; open without an API key."""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from messaging import openapi
from messaging.exception_handler import error_body
from messaging.serializers import HealthSerializer, ReadinessSerializer, UnreadySerializer

_STARTED = time.monotonic()


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Liveness",
        description=openapi.DESCRIPTIONS["health"],
        responses={200: HealthSerializer},
        examples=[openapi.HEALTH],
        tags=["health"],
    )
    def get(self, request: Request) -> Response:
        uptime = timedelta(seconds=int(time.monotonic() - _STARTED))
        return Response(
            {"status": "ok", "uptime": str(uptime), "version": settings.DISPATCHER["version"]}
        )


def _database_ok() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        return f"unavailable: {type(exc).__name__}"


def _cache_ok() -> str:
    try:
        cache.set("health:ready", "1", timeout=5)
        return "ok"
    except Exception as exc:  # noqa: BLE001
        return f"unavailable: {type(exc).__name__}"


class ReadinessView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Readiness: PostgreSQL (and Redis, when configured) answer",
        description=openapi.DESCRIPTIONS["ready"],
        examples=[openapi.READY],
        responses={
            200: ReadinessSerializer,
            503: OpenApiResponse(UnreadySerializer, description="A dependency is down"),
        },
        tags=["health"],
    )
    def get(self, request: Request) -> Response:
        checks = {"database": _database_ok()}
        if settings.DISPATCHER["redis_url"]:
            checks["redis"] = _cache_ok()
        failing = [name for name, state in checks.items() if state != "ok"]
        if failing:
            message = f"Not ready: {', '.join(failing)} unavailable"
            details = {name: [checks[name]] for name in failing}
            body = {**error_body(503, message, details), "status": "unavailable", "checks": checks}
            return Response(body, status=503)
        return Response({"status": "ready", "checks": checks})
