"""The admin on a 1366 × 768 laptop: every column of the message list in view, ids on one line,
and a SENT message's page without Save or lease fields."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from core_domain.message import Status
from messaging import models
from tests.browser.pages import guarded_page, log_in
from tests.fakes import a_message

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH, HEIGHT = 1366, 768
LONG = "Your verification code is 493028. It expires in ten minutes; do not share it with anyone."


def store(status: Status = Status.PENDING, content: str = LONG, **columns) -> models.Message:
    message = a_message(content=content)
    fields = ("id", "phone_number", "content", "created_at", "updated_at", "next_attempt_at")
    return models.Message.objects.create(
        **{f: getattr(message, f) for f in fields}, status=status.value, **columns
    )


def mixed_messages() -> models.Message:
    """Two of each status, long content, receiver ids as long as UUIDs; returns a SENT one."""
    sent = None
    for n in range(2):
        at = a_message().created_at + timedelta(minutes=n)
        sent = store(Status.SENT, sent_at=at, external_id=str(uuid.uuid4()), attempt_count=1)
        store(Status.FAILED, last_error="HTTP 500 from the webhook " * 4, retry_count=3)
        store(Status.SENDING, locked_by=f"dispatcher-{n}@host", lease_expires_at=at, claim_token=n)
        store(Status.PENDING, content="W" * 200)  # the widest letters
    models.DeliveryAttempt.objects.create(
        message=sent, attempt_number=1, started_at=sent.created_at, duration_ms=41,
        status_code=202, outcome="delivered", response_excerpt='{"messageId": "r-1"}',
    )  # fmt: skip
    return sent


# Every cell's box, and how many line boxes each short id, external id and time takes.
MEASURE = """() => {
  const box = (el) => el.getBoundingClientRect();
  const cells = [...document.querySelectorAll('#result_list th, #result_list td')];
  const lines = (sel) => [...document.querySelectorAll(sel)]
    .map((el) => el.getClientRects().length);
  const results = document.querySelector('#changelist .results');
  return {
    rights: cells.map((el) => Math.round(box(el).right)),
    headers: [...document.querySelectorAll('#result_list thead th .text')]
      .map((el) => el.textContent.trim()),
    clientWidth: document.documentElement.clientWidth,
    scrollWidth: document.documentElement.scrollWidth,
    resultsRight: Math.round(box(results).right),
    resultsOverflow: results.scrollWidth - results.clientWidth,
    idLines: lines('.short-id'),
    externalLines: lines('.external-id'),
    idHeights: [...document.querySelectorAll('.short-id')].map((el) => box(el).height),
    lineHeight: parseFloat(getComputedStyle(document.querySelector('.short-id')).lineHeight),
  };
}"""


def test_the_message_list_fits_1366_pixels_with_ids_on_one_line(live_server, staff) -> None:
    sent = mixed_messages()
    with guarded_page() as guarded:
        log_in(guarded, live_server.url)
        page = guarded.page
        page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
        page.goto(f"{live_server.url}/admin/messaging/message/")
        page.wait_for_selector("#result_list", timeout=30_000)
        measured = page.evaluate(MEASURE)
        guarded.screenshot("admin_list")
        page.goto(f"{live_server.url}/admin/messaging/message/{sent.id}/change/")
        page.wait_for_selector(".inline-group", timeout=30_000)
        detail = page.inner_text("#content")
        buttons = page.locator('input[name="_save"], input[name="_continue"], .deletelink').count()
        guarded.screenshot("admin_detail")
    assert measured["headers"] == [
        "",  # the select-all checkbox
        "Id", "Phone number", "Status", "Retries", "External id", "Content", "Created at",
        "Sent at",
    ]  # fmt: skip
    assert len(measured["rights"]) == 9 * 9  # header and eight rows, nine cells each
    assert max(measured["rights"]) <= measured["clientWidth"] <= WIDTH
    # ... and inside the list's box, which would otherwise clip the last column or scroll
    assert max(measured["rights"]) <= measured["resultsRight"] and measured["resultsOverflow"] == 0
    assert measured["scrollWidth"] <= measured["clientWidth"]  # no horizontal scrolling
    assert measured["idLines"] == [1] * 8 and measured["externalLines"] == [1] * 2
    assert all(h < 1.5 * measured["lineHeight"] for h in measured["idHeights"])
    assert buttons == 0
    assert str(sent.id) in detail and "delivered" in detail and "202" in detail
    assert "Locked by" not in detail and "Next attempt at" not in detail
    assert " UTC" in detail
    assert guarded.off_machine == [] and guarded.errors == []
