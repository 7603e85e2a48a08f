"""Django admin for messages: filters, search, attempts inline, requeue and cancel actions."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from core_domain.errors import DomainError
from messaging import models
from messaging.bootstrap import use_cases


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
    list_filter = ("status", "created_at")
    search_fields = ("phone_number", "=external_id", "id")
    ordering = ("-created_at", "-id")
    date_hierarchy = "created_at"
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

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        counts = dict(
            models.Message.objects.values_list("status").annotate(n=Count("id")).order_by()
        )
        summary = [
            {"status": status, "count": counts.get(status, 0), "color": color}
            for status, color in STATUS_COLORS.items()
        ]
        return super().changelist_view(request, {**(extra_context or {}), "status_counts": summary})

    @admin.action(description="Requeue selected FAILED messages")
    def requeue_failed(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, use_cases().requeue_message, "requeued")

    @admin.action(description="Cancel selected PENDING messages")
    def cancel_pending(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, use_cases().cancel_message, "cancelled")

    def _apply(self, request: HttpRequest, queryset: QuerySet, use_case, verb: str) -> None:
        done, skipped = 0, []
        for message_id in queryset.values_list("id", flat=True):
            try:
                use_case.execute(message_id=message_id)
                done += 1
            except DomainError as exc:
                skipped.append(str(exc))
        self.message_user(request, f"{done} message(s) {verb}.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{len(skipped)} skipped: {skipped[0]}", messages.WARNING)
