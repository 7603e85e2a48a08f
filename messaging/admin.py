"""Django admin for messages: filters, search, attempts inline, requeue and cancel actions.

Every message is read-only here (the state machine decides every field); the list fits a
1366 px screen (see admin_display and static/messaging/admin.css)."""

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
from messaging.admin_display import abridged_column, short_id, utc_column
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
        "started",
        "duration_ms",
        "status_code",
        "outcome",
        "error_excerpt",
        "response",
    )

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # an editable inline would bring back the Save buttons

    started = utc_column("started_at", "Started")

    error_excerpt = abridged_column("error", "Error", limit=60, css_class="attempt-excerpt")
    response = abridged_column(
        "response_excerpt", "Response excerpt", limit=60, css_class="attempt-excerpt"
    )


STATUS_COLORS = {"PENDING": "#b26a00", "SENDING": "#1565c0", "SENT": "#2e7d32", "FAILED": "#c62828"}


admin.site.site_header = "Message Dispatcher"
admin.site.index_template = "admin/messaging/index.html"  # adds the dashboard link
admin.site.site_url = "/"  # "View site": the landing page that links everything else
# The app list beside every page would take a quarter of a 1366 px screen from the list.
admin.site.enable_nav_sidebar = False


@admin.register(models.Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = (
        "short_message_id",
        "phone_number",
        "colored_status",
        "retries",
        "external",
        "content_excerpt",
        "created",
        "sent",
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
    readonly_fields = (
        *(f.name for f in models.Message._meta.fields),
        "colored_status",
        "next_attempt_at_utc",
        "send_at_utc",
        "expires_at_utc",
        "sent_at_utc",
        "lease_expires_at_utc",
        "created_at_utc",
        "updated_at_utc",
    )
    # The detail page's times, to the second in UTC.
    next_attempt_at_utc = utc_column("next_attempt_at", "Next attempt at")
    send_at_utc = utc_column("send_at", "Send at")
    expires_at_utc = utc_column("expires_at", "Expires at")
    sent_at_utc = utc_column("sent_at", "Sent at")
    lease_expires_at_utc = utc_column("lease_expires_at", "Lease expires at")
    created_at_utc = utc_column("created_at", "Created at")
    updated_at_utc = utc_column("updated_at", "Updated at")

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # The state machine decides every field: a message's page only shows it (no Save,
        # and a POST to it is refused), while the list keeps its actions.
        return obj is None and super().has_change_permission(request)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Deleting stays possible from the list's action; the page offers no button for it.
        extra_context = {**(extra_context or {}), "show_delete": False}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_fieldsets(self, request: HttpRequest, obj: models.Message | None = None):
        status = obj.status if obj is not None else None
        delivery = ["retry_count", "attempt_count", "last_error"]
        if status == Status.PENDING.value:
            delivery.append("next_attempt_at_utc")  # a stale time on any other status
        delivery += ["send_at_utc", "expires_at_utc", "sent_at_utc"]
        fieldsets = [
            (None, {"fields": ("id", "phone_number", "content", "colored_status", "external_id")}),
            ("Delivery", {"fields": delivery}),
        ]
        if status == Status.SENDING.value:  # the lease means nothing once the claim is over
            lease = ("locked_by", "lease_expires_at_utc", "claim_token")
            fieldsets.append(("Lease", {"fields": lease}))
        fieldsets.append(("Times", {"fields": ("created_at_utc", "updated_at_utc")}))
        return fieldsets

    @admin.display(description="Id", ordering="id")
    def short_message_id(self, message: models.Message):
        return short_id(message.id)

    @admin.display(description="Retries", ordering="retry_count")
    def retries(self, message: models.Message) -> int:
        return message.retry_count

    external = abridged_column("external_id", "External id", limit=12, css_class="external-id")
    content_excerpt = abridged_column("content", "Content", limit=40, css_class="message-content")

    created = utc_column("created_at", "Created at", ordering="created_at")
    sent = utc_column("sent_at", "Sent at", ordering="sent_at")  # sortable, as it always was

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
