"""How the admin shows ids, long text and times: short enough for one line at 1366 px."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import SafeString

SHORT_ID = 8  # characters of a UUID: unique enough to tell rows apart on one page
TITLE_LIMIT = 500  # the hover text of a long content stays a tooltip, not a page
EMPTY = "-"  # the admin's own mark for no value (a detail page would print "None")


def utc_seconds(value: datetime | None) -> str:
    """`2026-12-01 23:15:04 UTC`, or the empty mark."""
    if value is None:
        return EMPTY
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def truncate(text: str | None, limit: int) -> str | None:
    """At most `limit` characters, the last an ellipsis when anything was cut."""
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def short_id(value: object) -> SafeString:
    """The first characters of an id, the whole id in its title (shown on hover)."""
    full = str(value)
    return format_html('<span class="short-id" title="{}">{}</span>', full, full[:SHORT_ID])


def abridged(text: str | None, limit: int, css_class: str) -> SafeString | str:
    """`text` cut to `limit` characters, the whole of it (up to TITLE_LIMIT) in its title."""
    if not text:
        return EMPTY
    return format_html(
        '<span class="{}" title="{}">{}</span>',
        css_class,
        truncate(text, TITLE_LIMIT),
        truncate(text, limit),
    )


def utc_column(field: str, description: str, ordering: str | None = None) -> Callable:
    """A ModelAdmin column or read-only field showing the datetime `field` via utc_seconds."""

    @admin.display(description=description, ordering=ordering)
    def show(model_admin: object, obj: object) -> str:
        return utc_seconds(getattr(obj, field))

    return show


def abridged_column(field: str, description: str, *, limit: int, css_class: str) -> Callable:
    """A ModelAdmin column or read-only field showing the text `field` via abridged."""

    @admin.display(description=description)
    def show(model_admin: object, obj: object) -> SafeString | str:
        return abridged(getattr(obj, field), limit, css_class)

    return show
