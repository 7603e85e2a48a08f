"""The dashboard's charts, rendered on the server as SVG with pygal (no script, no CDN)."""

from __future__ import annotations

from datetime import timedelta

import pygal
from pygal.style import Style

from core_domain.message import Status
from core_domain.use_cases.get_dashboard import Dashboard, Latency

STYLE = Style(
    background="transparent",
    plot_background="transparent",
    font_family="system-ui, sans-serif",
    colors=("#2e7d32", "#b26a00", "#c62828", "#1565c0"),
    label_font_size=11,
    major_label_font_size=11,
    legend_font_size=12,
)
STATUS_COLORS = {"PENDING": "#b26a00", "SENDING": "#1565c0", "SENT": "#2e7d32", "FAILED": "#c62828"}


def _chart(kind, *, style: Style = STYLE, **options):
    # js=[]: pygal would otherwise add a script tag that loads its tooltips from the web.
    return kind(
        js=[], disable_xml_declaration=True, style=style, height=260, width=600,
        show_y_guides=True, legend_at_bottom=True, truncate_label=-1, **options,
    )  # fmt: skip


def _minute_labels(dashboard: Dashboard) -> list[str]:
    return [m.minute.strftime("%H:%M") if n % 10 == 0 else ""
            for n, m in enumerate(dashboard.minutes)]  # fmt: skip


def deliveries(dashboard: Dashboard) -> str:
    """Attempts per minute over the last hour: sent, retried, failed (stacked)."""
    chart = _chart(pygal.StackedBar, title="Deliveries per minute (last hour, UTC)")
    chart.x_labels = _minute_labels(dashboard)
    chart.add("sent", [m.sent for m in dashboard.minutes])
    chart.add("retried", [m.retried for m in dashboard.minutes])
    chart.add("failed", [m.failed for m in dashboard.minutes])
    return chart.render(is_unicode=True)


def queue(dashboard: Dashboard) -> str:
    """Messages by status, now."""
    style = Style(**{**STYLE.__dict__, "colors": tuple(STATUS_COLORS.values())})
    chart = _chart(pygal.HorizontalBar, title="Queue depth by status", style=style)
    for status in Status:
        chart.add(status.value, [dashboard.queue[status]])
    return chart.render(is_unicode=True)


def _ms(latency: timedelta | None) -> float | None:
    return latency.total_seconds() * 1000 if latency is not None else None


def latency(dashboard: Dashboard) -> str:
    """p50 and p95 per minute: created to SENT, and one webhook call (ms, log scale)."""
    chart = _chart(pygal.Line, title="Latency per minute (ms; p50 and p95)", logarithmic=True,
                   allow_interruptions=True, dots_size=2.5)  # fmt: skip
    chart.x_labels = _minute_labels(dashboard)
    series: tuple[tuple[str, list[Latency]], ...] = (
        ("created → sent", dashboard.delivery_latency),
        ("webhook call", dashboard.call_latency),
    )
    for name, latencies in series:
        chart.add(f"{name} p50", [_ms(point.p50) for point in latencies])
        chart.add(f"{name} p95", [_ms(point.p95) for point in latencies])
    return chart.render(is_unicode=True)
