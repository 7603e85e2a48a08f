"""`GET /metrics`: Prometheus text format; needs the API key unless METRICS_PUBLIC is true."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import View
from prometheus_client import CONTENT_TYPE_LATEST

from messaging import metrics
from messaging.authentication import IsApiClientOrStaff, bearer_token, matching_key_id
from messaging.bootstrap import use_cases
from messaging.exception_handler import error_body


def _refusal(request: HttpRequest) -> JsonResponse | None:
    """401 with the JSON error body unless the request carries a configured API key."""
    token = bearer_token(request)
    if token is not None and matching_key_id(token) is not None:
        return None
    message = "Invalid API key" if token is not None else IsApiClientOrStaff.message
    response = JsonResponse(error_body(401, message), status=401)
    response["WWW-Authenticate"] = "Bearer"
    return response


class MetricsView(View):
    """A plain Django view: outside /api/v1 (no rate limit); `messaging.openapi.add_metrics`
    describes it in the OpenAPI document."""

    def get(self, request: HttpRequest) -> HttpResponse:
        refusal = None if settings.DISPATCHER["metrics_public"] else _refusal(request)
        if refusal is not None:
            return refusal
        scraped = metrics.scrape(
            queue_depth=use_cases().queue_depth.execute,
            scheduler_status=use_cases().scheduler_status.execute,
            oldest_due_age=use_cases().oldest_due_age.execute,
        )
        response = HttpResponse(scraped, content_type=CONTENT_TYPE_LATEST)
        response["Cache-Control"] = "no-store"
        return response
