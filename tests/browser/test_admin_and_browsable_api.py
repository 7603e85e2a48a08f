"""What a person sees: the admin list and detail, and the browsable API after logging in."""

from __future__ import annotations

import pytest

from core_domain.message import Status
from messaging import models
from tests.browser.pages import guarded_page, log_in
from tests.fakes import a_message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def store(**overrides) -> models.Message:
    message = a_message(**overrides)
    fields = ("id", "phone_number", "content", "created_at", "updated_at", "next_attempt_at")
    return models.Message.objects.create(
        **{f: getattr(message, f) for f in fields}, status=message.status.value
    )


def test_admin_message_list_and_detail_render(live_server, staff) -> None:
    failed = store(status=Status.FAILED, content="Could not deliver")
    store(content="Waiting")
    models.DeliveryAttempt.objects.create(
        message=failed, attempt_number=1, started_at=failed.created_at, duration_ms=12,
        status_code=500, outcome="failed", error="HTTP 500", response_excerpt="oops",
    )  # fmt: skip
    with guarded_page() as guarded:
        log_in(guarded, live_server.url)
        page = guarded.page
        page.goto(f"{live_server.url}/admin/messaging/message/")
        page.wait_for_selector("#result_list", timeout=30_000)
        failed_count = page.inner_text('.status-count[data-status="FAILED"]')
        rows = page.locator("#result_list tbody tr").count()
        guarded.screenshot("admin-message-list")
        page.goto(f"{live_server.url}/admin/messaging/message/{failed.id}/change/")
        page.wait_for_selector(".inline-group", timeout=30_000)
        inline = page.inner_text(".inline-group")
        guarded.screenshot("admin-message-detail")
    assert (rows, failed_count) == (2, "1")
    assert "HTTP 500" in inline and "oops" in inline
    assert guarded.off_machine == [] and guarded.errors == []


def test_browsable_api_works_after_admin_login(live_server, staff) -> None:
    store(content="Visible in the browsable API")
    with guarded_page() as guarded:
        log_in(guarded, live_server.url)
        response = guarded.page.goto(f"{live_server.url}/api/v1/messages")
        guarded.page.wait_for_selector(".response-info", timeout=30_000)
        body = guarded.page.inner_text(".response-info")
        guarded.screenshot("browsable-api-messages")
    assert response is not None and response.status == 200
    assert "Visible in the browsable API" in body and "X-Total-Count: 1" in body
    assert guarded.off_machine == [] and guarded.errors == []
