"""The dashboard in Chromium: charts with data after a dispatch, refreshed without a reload."""

from __future__ import annotations

import pytest

from tests.browser.pages import guarded_page, log_in
from tests.integration.receivers import Reply
from tests.integration.test_dispatch_api import create, process

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_dashboard_charts_a_dispatch_and_refreshes_itself(
    live_server,
    staff,
    api,
    webhook,  # noqa: F811 - the fixture imported above
) -> None:
    create(api, 12)
    webhook.script(*[Reply(status=503)] * 3, Reply(status=400))
    process(api, "?batch_size=10")
    with guarded_page() as guarded:
        log_in(guarded, live_server.url)
        page = guarded.page
        page.set_viewport_size({"width": 1366, "height": 768})
        page.goto(f"{live_server.url}/dashboard/")
        page.wait_for_selector("#deliveries svg", timeout=30_000)
        bars = page.locator("#deliveries svg .rect").count()
        queue = page.inner_text("#queue")
        first = page.inner_text("#updated")
        page.wait_for_function(
            f"document.getElementById('updated').textContent !== {first!r}", timeout=30_000
        )  # the panels were swapped in: no reload, no error
        refreshed = page.locator("#deliveries svg .rect").count()
        circuit = page.inner_text(".circuit")
        guarded.screenshot("dashboard")
    assert bars >= 3 and refreshed == bars  # sent, retried and failed in this minute
    assert "PENDING" in queue and "SENT" in queue
    assert "closed" in circuit
    assert guarded.off_machine == [] and guarded.errors == []
