"""Middleware: JSON for every error outside the admin, and request body size limits."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, JsonResponse

from messaging.exception_handler import UNEXPECTED_ERROR, error_body

BODY_LIMIT = 64 * 1024
BULK_BODY_LIMIT = 1024 * 1024
_BODY_METHODS = {"POST", "PUT", "PATCH"}


def _is_json(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


def _is_browsable_api(response: HttpResponse) -> bool:
    renderer = getattr(response, "accepted_renderer", None)
    return getattr(renderer, "format", None) == "api"


class JsonErrorMiddleware:
    """Replaces any HTML or empty error response outside /admin/ with the JSON error body.

    The one mechanism for errors that never reach DRF's exception handler: Django's own
    404/405/400/403/500 pages (no `handler404` and friends are set, so Django renders its
    defaults and they are replaced here), CSRF failures, and errors raised before a view runs.
    The admin keeps Django's HTML pages.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code < 400
            or request.path.startswith("/admin/")
            or _is_json(response)
            or _is_browsable_api(response)
        ):
            return response
        code = response.status_code
        message = {
            400: "The request could not be understood",
            404: f"No route matches {request.path}",
            405: f"Method {request.method} is not allowed on {request.path}",
            403: "Forbidden (a browser session needs a valid CSRF token)",
            500: UNEXPECTED_ERROR,
        }.get(code, HTTPStatus(code).phrase)
        replacement = JsonResponse(error_body(code, message), status=code)
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                replacement[header] = response[header]
        return replacement


class RequestBodyLimitMiddleware:
    """413 before the body is read: 64 KiB per request, 1 MiB for /bulk."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in _BODY_METHODS and not request.path.startswith("/admin/"):
            limit = BULK_BODY_LIMIT if request.path.rstrip("/").endswith("/bulk") else BODY_LIMIT
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return JsonResponse(error_body(400, "Content-Length is not a number"), status=400)
            if length > limit:
                return JsonResponse(
                    error_body(413, f"Request body is {length} bytes; the limit is {limit} bytes"),
                    status=413,
                )
        return self.get_response(request)
