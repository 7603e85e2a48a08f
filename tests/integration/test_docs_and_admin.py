"""OpenAPI document, static files through WhiteNoise, and the Django admin."""

from __future__ import annotations

import pytest
from django.test import Client

from core_domain.message import Status
from messaging import models
from tests.fakes import a_message

pytestmark = pytest.mark.django_db(transaction=True)


def test_openapi_document_describes_every_operation_with_its_errors(anonymous) -> None:
    response = anonymous.get("/swagger/doc.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["ApiKeyAuth"]["scheme"] == "bearer"
    operations = {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert ("post", "/api/v1/messages") in operations
    assert ("post", "/api/v1/messages/{id}/retry") in operations
    for (method, path), operation in operations.items():
        assert operation.get("summary"), f"{method} {path} has no summary"
        if path.startswith("/api/v1/"):
            assert {"200", "401"} & set(operation["responses"]) or "201" in operation["responses"]
            assert "401" in operation["responses"], f"{method} {path} does not document 401"
            assert "429" in operation["responses"], f"{method} {path} does not document 429"
    create = operations[("post", "/api/v1/messages")]
    assert {"201", "400", "409", "413", "415"} <= set(create["responses"])


def test_every_operation_has_a_description_and_an_example(anonymous) -> None:
    document = anonymous.get("/swagger/doc.json").json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation.get("description"), f"{method} {path} has no description"
            bodies = [operation.get("requestBody", {})] + list(operation["responses"].values())
            examples = [
                media.get("examples")
                for body in bodies
                for media in body.get("content", {}).values()
            ]
            assert any(examples), f"{method} {path} has no example"


def test_operations_have_distinct_summaries_and_declared_tags(anonymous) -> None:
    document = anonymous.get("/swagger/doc.json").json()
    operations = [op for item in document["paths"].values() for op in item.values()]
    summaries = [operation["summary"] for operation in operations]
    assert len(summaries) == len(set(summaries)), sorted(summaries)
    declared = {tag["name"]: tag.get("description") for tag in document["tags"]}
    assert all(declared.values()), declared
    used = {tag for operation in operations for tag in operation["tags"]}
    assert used == set(declared)
    assert "api" not in used
    assert {"messages", "operator", "dispatching", "scheduler", "health", "metrics"} <= used


def test_health_and_metrics_are_in_the_document(anonymous) -> None:
    paths = anonymous.get("/swagger/doc.json").json()["paths"]
    assert paths["/health"]["get"]["tags"] == ["health"]
    assert set(paths["/health/ready"]["get"]["responses"]) == {"200", "503"}
    assert paths["/metrics"]["get"]["tags"] == ["metrics"]  # its content: test_metrics.py


def test_static_files_are_served_by_whitenoise_with_debug_off(settings) -> None:
    settings.DEBUG = False
    response = Client().get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css")
    body = b"".join(response.streaming_content)
    response.close()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert b".swagger-ui" in body


def test_swagger_ui_page_uses_only_local_assets(anonymous) -> None:
    html = anonymous.get("/swagger/index.html").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn." not in html and "https://" not in html


def stored(**overrides) -> models.Message:
    message = a_message(**overrides)
    return models.Message.objects.create(
        **{f: getattr(message, f) for f in ("id", "phone_number", "content", "created_at",
                                            "updated_at", "next_attempt_at", "retry_count")},
        status=message.status.value,
    )  # fmt: skip


def test_admin_lists_filters_and_searches_messages(admin_client) -> None:
    pending = stored(phone_number="+15551112222")
    stored(status=Status.FAILED)
    listing = admin_client.get("/admin/messaging/message/?status__exact=PENDING")
    assert listing.status_code == 200
    assert str(pending.id) in listing.content.decode()
    by_phone = admin_client.get("/admin/messaging/message/?q=15551112222")
    assert str(pending.id) in by_phone.content.decode()
    by_id = admin_client.get(f"/admin/messaging/message/?q={pending.id}")
    assert by_id.context["cl"].result_count == 1
    detail = admin_client.get(f"/admin/messaging/message/{pending.id}/change/")
    assert detail.status_code == 200


def test_admin_actions_requeue_failed_and_cancel_pending(admin_client) -> None:
    failed = stored(status=Status.FAILED, retry_count=3)
    pending = stored()
    for action, message in (("requeue_failed", failed), ("cancel_pending", pending)):
        response = admin_client.post(
            "/admin/messaging/message/",
            {"action": action, "_selected_action": [str(message.id)]},
            follow=True,
        )
        assert response.status_code == 200
    failed.refresh_from_db()
    pending.refresh_from_db()
    assert (failed.status, failed.retry_count) == ("PENDING", 0)
    assert (pending.status, pending.last_error) == ("FAILED", "Cancelled by an operator")


def test_admin_action_skips_messages_in_the_wrong_state(admin_client) -> None:
    sent = stored(status=Status.SENT)
    response = admin_client.post(
        "/admin/messaging/message/",
        {"action": "requeue_failed", "_selected_action": [str(sent.id)]},
        follow=True,
    )
    assert "1 skipped" in response.content.decode()
    sent.refresh_from_db()
    assert sent.status == "SENT"


def test_admin_requires_login() -> None:
    response = Client().get("/admin/messaging/message/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_admin_list_shows_counts_per_status_and_colored_statuses(admin_client) -> None:
    stored(status=Status.FAILED)
    stored(status=Status.FAILED)
    stored()
    page = admin_client.get("/admin/messaging/message/").content.decode()
    assert '<span class="status-count" data-status="FAILED">2</span>' in page
    assert '<span class="status-count" data-status="PENDING">1</span>' in page
    assert '<span class="status-count" data-status="SENT">0</span>' in page
    assert 'class="status status-failed"' in page


def test_admin_detail_is_read_only_so_the_state_machine_cannot_be_bypassed(admin_client) -> None:
    message = stored(status=Status.FAILED)
    page = admin_client.get(f"/admin/messaging/message/{message.id}/change/").content.decode()
    assert 'name="status"' not in page and 'name="retry_count"' not in page
    admin_client.post(f"/admin/messaging/message/{message.id}/change/", {"status": "SENT"})
    message.refresh_from_db()
    assert message.status == "FAILED"
