"""`/`: a page of links to what the service offers, and redirects that spare a guessed URL a 404."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

# (title, path, what it is); the API root is the message list, browsable after an admin login.
LINKS = (
    ("Dashboard", "/dashboard/", "deliveries, queue depth, latency, circuit and dispatchers"),
    ("Swagger UI", "/swagger/index.html", "the API's documentation; try requests with a key"),
    ("OpenAPI document", "/swagger/doc.json", "OpenAPI 3, JSON"),
    ("API", "/api/v1/messages", "the REST API (browsable after logging in to the admin)"),
    ("Admin", "/admin/", "messages, their attempts, requeue and cancel"),
    ("Health", "/health", "liveness"),
    ("Readiness", "/health/ready", "PostgreSQL and Redis reachable"),
)


@require_safe
def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "landing.html", {"links": LINKS})


class PermanentRedirectKeepingMethod(HttpResponsePermanentRedirect):
    status_code = 308  # unlike 301, a client repeats the same method with the same body


@csrf_exempt  # it changes nothing, and an API client posting with a key has no CSRF token
def without_trailing_slash(request: HttpRequest, path: str) -> HttpResponse:
    """`/api/v1/messages/` and the like: a redirect to the route without the slash, if there
    is one (APPEND_SLASH is off and the API's routes have none); else the JSON 404."""
    target = "/" + path
    try:
        resolve(target)
    except Resolver404:
        raise Http404(request.path) from None
    if query := request.META.get("QUERY_STRING"):
        target += "?" + query
    if request.method in ("GET", "HEAD"):
        return HttpResponsePermanentRedirect(target)
    return PermanentRedirectKeepingMethod(target)
