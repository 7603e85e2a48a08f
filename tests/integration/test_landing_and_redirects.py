"""`/` links everything; guessed URLs redirect; the admin shows messages read-only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.http import Http404
from django.test import Client, RequestFactory

from messaging import models
from messaging.admin_display import truncate, utc_seconds
from messaging.landing_views import without_trailing_slash
from tests.fakes import a_message

pytestmark = pytest.mark.django_db(transaction=True)

T = datetime(2026, 12, 1, 23, 15, 4, 250_000, tzinfo=UTC)


def test_the_landing_page_links_dashboard_swagger_admin_health_and_the_api(anonymous) -> None:
    response = anonymous.get("/")
    page = response.content.decode()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    for href in (
        "/dashboard/",
        "/swagger/index.html",
        "/admin/",
        "/health",
        "/health/ready",
        "/api/v1/messages",
    ):
        assert f'href="{href}"' in page, href  # fmt: skip
    assert "<script" not in page


@pytest.mark.parametrize("path", ["/swagger", "/swagger/", "/api/v1", "/api/v1/"])
def test_the_docs_and_the_api_root_redirect_to_the_swagger_ui(anonymous, path) -> None:
    response = anonymous.get(path)
    assert (response.status_code, response["Location"]) == (302, "/swagger/index.html")


@pytest.mark.parametrize(
    ("path", "location"),
    [("/api/v1/messages/", "/api/v1/messages"), ("/health/", "/health"),
     ("/health/ready/", "/health/ready"), ("/api/v1/messages/?limit=5", "/api/v1/messages?limit=5"),
     ("/swagger/index.html/", "/swagger/index.html")],
)  # fmt: skip
def test_a_get_with_a_trailing_slash_moves_permanently(anonymous, path, location) -> None:
    response = anonymous.get(path)
    assert (response.status_code, response["Location"]) == (301, location)


def test_a_post_with_a_trailing_slash_is_redirected_keeping_its_method_and_body(api) -> None:
    body = {"phoneNumber": "+905551234567", "content": "Hello"}
    moved = api.post("/api/v1/messages/", body, format="json")
    assert (moved.status_code, moved["Location"]) == (308, "/api/v1/messages")
    assert models.Message.objects.count() == 0
    followed = api.post(moved["Location"], body, format="json")  # what a client does on 308
    assert followed.status_code == 201


def test_a_post_without_a_csrf_token_is_redirected_not_refused(api_key) -> None:
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {api_key}")
    moved = client.post("/api/v1/messages/bulk/", "[]", content_type="application/json")
    root = client.post("/api/v1/", "{}", content_type="application/json")
    assert (moved.status_code, moved["Location"]) == (308, "/api/v1/messages/bulk")
    assert root.status_code == 302


@pytest.mark.parametrize(
    ("path", "location"), [("/dashboard", "/dashboard/"), ("/admin", "/admin/")]
)
def test_the_dashboard_and_the_admin_without_their_slash_redirect(
    anonymous, path, location
) -> None:
    response = anonymous.get(path)
    assert (response.status_code, response["Location"]) == (301, location)


@pytest.mark.parametrize("path", ["/nowhere/", "/api/v1/unknown/", "/api/v1//"])
def test_an_unknown_path_with_a_trailing_slash_is_still_the_json_404(anonymous, path) -> None:
    response = anonymous.get(path)
    assert response.status_code == 404
    assert response.json()["error"] == "Not Found"


@pytest.mark.parametrize("captured", ["/health", "/elsewhere.example"])
def test_a_path_starting_with_two_slashes_is_never_redirected_off_this_host(captured) -> None:
    # What `//health/` or `//elsewhere.example/` leaves for the view (a test client would
    # read either as a host name): a Location of `//…` would send a browser to another host.
    request = RequestFactory().get("/")
    with pytest.raises(Http404):
        without_trailing_slash(request, captured)


def test_the_admin_view_site_link_goes_to_the_landing_page_and_the_header_to_the_dashboard(
    admin_client,
) -> None:
    page = admin_client.get("/admin/").content.decode()
    assert '<a href="/">View site</a>' in page
    assert '<a href="/dashboard/">Dashboard</a>' in page
    assert "/static/messaging/admin.css" in page


def stored(**overrides) -> models.Message:
    message = a_message(**overrides)
    fields = ("id", "phone_number", "content", "created_at", "updated_at", "next_attempt_at")
    return models.Message.objects.create(
        **{f: getattr(message, f) for f in fields}, status=message.status.value
    )


def test_the_admin_list_shows_short_ids_excerpts_and_utc_seconds(admin_client) -> None:
    message = stored(content="A" * 100, created_at=T)
    models.Message.objects.filter(id=message.id).update(
        external_id="receiver-message-0123456789", status="SENT", sent_at=T + timedelta(seconds=2)
    )
    page = admin_client.get("/admin/messaging/message/").content.decode()
    assert f'<span class="short-id" title="{message.id}">{str(message.id)[:8]}</span>' in page
    assert ">" + "A" * 39 + "…<" in page and ">" + "A" * 40 not in page
    assert 'title="receiver-message-0123456789">receiver-me…<' in page
    assert "2026-12-01 23:15:04 UTC" in page and "2026-12-01 23:15:06 UTC" in page


def test_a_sent_message_page_has_no_save_or_delete_and_no_lease_or_next_attempt(
    admin_client,
) -> None:
    message = stored(created_at=T)
    models.Message.objects.filter(id=message.id).update(
        status="SENT", sent_at=T, locked_by="worker-7", lease_expires_at=T, claim_token=42
    )
    models.DeliveryAttempt.objects.create(
        message_id=message.id, attempt_number=1, started_at=T, duration_ms=12, status_code=202,
        outcome="delivered", response_excerpt="x" * 200 + "tail",
    )  # fmt: skip
    page = admin_client.get(f"/admin/messaging/message/{message.id}/change/").content.decode()
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    assert "deletelink" not in page and "/delete/" not in page
    for hidden in ("Locked by", "worker-7", "Lease expires at", "Claim token", "Next attempt at"):
        assert hidden not in page, hidden
    assert str(message.id) in page  # the whole id, which the list shortens
    assert "2026-12-01 23:15:04 UTC" in page and "delivered" in page and "202" in page
    assert ">" + "x" * 59 + "…</span>" in page  # the excerpt, cut; all of it in the title


def test_a_sending_message_shows_its_lease_and_a_pending_one_its_next_attempt(
    admin_client,
) -> None:
    sending = stored(created_at=T)
    models.Message.objects.filter(id=sending.id).update(
        status="SENDING", locked_by="worker-7", lease_expires_at=T, claim_token=42
    )
    pending = stored(next_attempt_at=T)
    sending_page = admin_client.get(f"/admin/messaging/message/{sending.id}/change/")
    pending_page = admin_client.get(f"/admin/messaging/message/{pending.id}/change/")
    assert "worker-7" in sending_page.content.decode()
    assert "Lease expires at" in sending_page.content.decode()
    assert "Next attempt at" not in sending_page.content.decode()
    assert "Next attempt at" in pending_page.content.decode()
    assert "Locked by" not in pending_page.content.decode()


def test_a_post_to_a_message_page_is_refused(admin_client) -> None:
    message = stored()
    response = admin_client.post(f"/admin/messaging/message/{message.id}/change/", {})
    assert response.status_code == 403


def test_times_show_in_utc_to_the_second_and_long_text_ends_in_an_ellipsis() -> None:
    istanbul = datetime(2026, 12, 2, 2, 15, 4, 999_999, tzinfo=timezone(timedelta(hours=3)))
    assert utc_seconds(istanbul) == "2026-12-01 23:15:04 UTC"
    assert utc_seconds(None) == "-"
    assert truncate("x" * 40, 40) == "x" * 40
    assert truncate("word " * 20, 40) == ("word " * 8).rstrip() + "…"
    assert len(truncate("y" * 41, 40)) == 40
