"""`/dashboard/`: staff only, drawn from kept per-minute counts, and its JSON (SPEC §12)."""

from __future__ import annotations

import pytest

from tests.integration.receivers import Reply
from tests.integration.test_dispatch_api import create, process

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_dashboard_is_for_staff_only(anonymous) -> None:
    for path in ("/dashboard/", "/dashboard/panels", "/dashboard/data.json"):
        response = anonymous.get(path)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_after_a_dispatch_the_data_has_this_minutes_deliveries_and_latency(
    api, admin_client, webhook
) -> None:
    create(api, 5)
    webhook.script(Reply(status=503), Reply(status=400))
    assert process(api, "?batch_size=10")["processedCount"] == 5
    data = admin_client.get("/dashboard/data.json").json()
    assert len(data["minutes"]) == 60
    now = data["minutes"][-1]
    assert (now["sent"], now["retried"], now["failed"]) == (3, 1, 1)
    assert now["deliveryP50Ms"] > 0 and now["callP95Ms"] >= now["callP50Ms"] > 0
    assert all(m["sent"] == 0 for m in data["minutes"][:-2])  # nothing before this test
    assert data["queue"] == {"PENDING": 1, "SENDING": 0, "SENT": 3, "FAILED": 1}
    assert data["circuit"]["state"] == "closed" and data["rateLimit"]["limit"] is None


def test_the_page_and_its_panels_carry_the_charts_as_svg(admin_client) -> None:
    page = admin_client.get("/dashboard/").content.decode()
    panels = admin_client.get("/dashboard/panels").content.decode()
    for html in (page, panels):
        assert html.count("<svg") == 3 and "Deliveries per minute" in html
        assert "<script src" not in html.split("</main>")[0]  # the charts load nothing
    assert 'src="/static/messaging/dashboard.js"' in page
