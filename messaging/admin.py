"""Django admin for messages: filters, search, attempts inline, requeue and cancel actions."""

from __future__ import annotations

import uuid

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property
from django.utils.html import format_html

from core_domain.errors import DomainError, DomainValidationError
from core_domain.message import Status
from core_domain.operator_changes import MAX_IDS, OperatorAction
from core_domain.values import PhoneNumber
from messaging import models
from messaging.bootstrap import use_cases

COUNT_CAP = 10_000  # a filtered or searched list counts at most this far (then shows 10,000+)


class CappedCountPaginator(Paginator):
    """Pages without COUNT(*) over millions of rows: the whole list or one status is counted
    from the kept counts, anything else up to COUNT_CAP rows (through the list's index)."""

    def __init__(self, *args, exact: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._exact = exact

    @cached_property
    def count(self) -> int:
        if self._exact is not None:
            return self._exact
        return self.object_list[: COUNT_CAP + 1].count()


class DeliveryAttemptInline(admin.TabularInline):
    model = models.DeliveryAttempt
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "attempt_number",
        "started_at",
        "duration_ms",
        "status_code",
        "outcome",
        "error",
        "response_excerpt",
    )

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


STATUS_COLORS = {"PENDING": "#b26a00", "SENDING": "#1565c0", "SENT": "#2e7d32", "FAILED": "#c62828"}


@admin.register(models.Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "phone_number",
        "colored_status",
        "retry_count",
        "external_id",
        "created_at",
        "sent_at",
    )
    list_filter = ("status",)
    # Searched through an index each (see get_search_results): an id, a phone number or a
    # receiver's messageId, typed exactly.
    search_fields = ("id",)
    search_help_text = "An exact message id, phone number or externalId"
    ordering = ("-created_at", "-id")
    show_full_result_count = False  # no COUNT(*) of the whole table beside a filtered one
    paginator = CappedCountPaginator
    inlines = [DeliveryAttemptInline]
    actions = ["requeue_failed", "cancel_pending"]
    # The state machine decides every field, so nothing is edited by hand here.
    readonly_fields = tuple(f.name for f in models.Message._meta.fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Status", ordering="status")
    def colored_status(self, message: models.Message) -> str:
        return format_html(
            '<strong class="status status-{}" style="color: {}">{}</strong>',
            message.status.lower(),
            STATUS_COLORS.get(message.status, "inherit"),
            message.status,
        )

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(id=uuid.UUID(term)), False
        except ValueError:
            pass
        try:
            phone = PhoneNumber.parse(term).value
        except DomainValidationError:
            return queryset.filter(external_id=term), False
        spellings = {phone, "+" + phone.lstrip("+")}  # typed with or without its "+"
        matches = queryset.filter(phone_number__in=spellings) | queryset.filter(external_id=term)
        return matches, False

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return CappedCountPaginator(
            queryset, per_page, orphans, allow_empty_first_page, exact=self._kept_count(request)
        )

    def _kept_count(self, request: HttpRequest) -> int | None:
        """The exact count when the list is the whole table or one status, else None."""
        params = {k: v for k, v in request.GET.items() if k not in ("p", "o")}
        status = params.pop("status__exact", None)
        if params:
            return None
        counts = use_cases().queue_depth.execute()
        if status is None:
            return sum(counts.values())
        return counts.get(Status(status), 0) if status in Status.__members__ else None

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        counts = use_cases().queue_depth.execute()
        summary = [
            {"status": status, "count": counts[Status(status)], "color": color}
            for status, color in STATUS_COLORS.items()
        ]
        context = {"status_counts": summary, "circuit": use_cases().send_gate.execute()}
        return super().changelist_view(request, {**(extra_context or {}), **context})

    @admin.action(description="Requeue selected FAILED messages")
    def requeue_failed(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, OperatorAction.REQUEUE)

    @admin.action(description="Cancel selected PENDING messages")
    def cancel_pending(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, OperatorAction.CANCEL)

    def _apply(self, request: HttpRequest, queryset: QuerySet, action: OperatorAction) -> None:
        ids = list(queryset.values_list("id", flat=True)[:MAX_IDS])
        try:
            report = use_cases().change_messages.execute(action=action, ids=ids)
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"{report.changed} message(s) {action.done}.", messages.SUCCESS)
        if skipped := len(ids) - report.changed:
            self.message_user(
                request,
                f"{skipped} skipped: only {action.applies_to.value} messages can be {action.done}",
                messages.WARNING,
            )
