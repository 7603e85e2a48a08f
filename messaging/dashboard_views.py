"""`/dashboard/`: live charts for operators (staff only), and the JSON they are drawn from."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View

from core_domain.use_cases.get_dashboard import Dashboard
from messaging import dashboard_charts as charts
from messaging.bootstrap import use_cases

REFRESH_SECONDS = 5


def _seconds(span: timedelta | None) -> float | None:
    return round(span.total_seconds(), 3) if span is not None else None


def as_json(dashboard: Dashboard) -> dict[str, Any]:
    gate = dashboard.gate
    return {
        "now": dashboard.now,
        "minutes": [
            {"minute": m.minute, "sent": m.sent, "retried": m.retried, "failed": m.failed,
             "deliveryP50Ms": _ms(d.p50), "deliveryP95Ms": _ms(d.p95),
             "callP50Ms": _ms(c.p50), "callP95Ms": _ms(c.p95)}
            for m, d, c in zip(dashboard.minutes, dashboard.delivery_latency,
                               dashboard.call_latency, strict=True)
        ],
        "queue": {status.value: count for status, count in dashboard.queue.items()},
        "oldestDueAgeSeconds": _seconds(dashboard.oldest_due_age),
        "circuit": {"state": gate.state.value, "reason": gate.reason, "since": gate.since,
                    "nextProbeAt": gate.next_probe_at, "consecutiveFailures": gate.failures},
        "rateLimit": {"limit": str(dashboard.rate_limit) if dashboard.rate_limit else None,
                      "pausedUntil": gate.paused_until},
        "workers": [
            {"id": w.id, "host": w.host, "alive": alive, "isProcessing": w.is_processing,
             "processed": w.processed, "lastHeartbeat": w.last_heartbeat,
             "heartbeatAgeSeconds": _seconds(dashboard.now - w.last_heartbeat)}
            for w, alive in dashboard.workers
        ],
    }  # fmt: skip


def _ms(span: timedelta | None) -> float | None:
    return round(span.total_seconds() * 1000, 1) if span is not None else None


def _waited(span: timedelta | None) -> str | None:
    """`4.2 s`, `3 min 20 s`, `2 h 5 min`: how long the oldest due message has waited."""
    if span is None:
        return None
    seconds = span.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _context(dashboard: Dashboard) -> dict[str, Any]:
    return {
        "dashboard": dashboard,
        "deliveries_svg": charts.deliveries(dashboard),
        "queue_svg": charts.queue(dashboard),
        "latency_svg": charts.latency(dashboard),
        "oldest_due": _waited(dashboard.oldest_due_age),
        "refresh_seconds": REFRESH_SECONDS,
    }


@method_decorator(staff_member_required, name="dispatch")
class DashboardView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "dashboard/index.html", _context(use_cases().dashboard.execute()))


@method_decorator(staff_member_required, name="dispatch")
class DashboardPanelsView(View):
    """The charts and panels alone: what the page swaps in every few seconds."""

    def get(self, request: HttpRequest) -> HttpResponse:
        context = _context(use_cases().dashboard.execute())
        return render(request, "dashboard/panels.html", context)


@method_decorator(staff_member_required, name="dispatch")
class DashboardDataView(View):
    def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse(as_json(use_cases().dashboard.execute()))
