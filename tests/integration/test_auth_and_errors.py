"""API-key auth on every endpoint, JSON errors everywhere, body limits and rate limiting."""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection
from django.test import Client

from tests.integration.receivers import closed_port

pytestmark = pytest.mark.django_db(transaction=True)

SOME_ID = uuid.uuid4()
API_ENDPOINTS = [
    ("get", "/api/v1/messages"),
    ("post", "/api/v1/messages"),
    ("post", "/api/v1/messages/bulk"),
    ("get", f"/api/v1/messages/{SOME_ID}"),
    ("get", f"/api/v1/messages/{SOME_ID}/attempts"),
    ("post", f"/api/v1/messages/{SOME_ID}/retry"),
]


def assert_json_error(response, status: int) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"error", "message", "details"}
    assert isinstance(body["details"], dict)
    assert "Traceback" not in response.content.decode()
    assert "<html" not in response.content.decode().lower()
    return body


@pytest.mark.parametrize(("method", "path"), API_ENDPOINTS)
@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-key", "Basic dXNlcjpwYXNz", "Bearer"]
)
def test_every_api_endpoint_answers_401_json_without_a_valid_key(
    anonymous, method, path, authorization
) -> None:
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = getattr(anonymous, method)(path, {}, format="json", **headers)
    assert_json_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_any_of_several_configured_keys_is_accepted(settings, anonymous) -> None:
    settings.DISPATCHER = {**settings.DISPATCHER, "api_key": ["old-key", "new-key"]}
    for key in ("old-key", "new-key"):
        response = anonymous.get("/api/v1/messages", HTTP_AUTHORIZATION=f"Bearer {key}")
        assert response.status_code == 200
    assert anonymous.get("/api/v1/messages", HTTP_AUTHORIZATION="Bearer new").status_code == 401


def test_health_is_open_and_reports_version_and_uptime(anonymous) -> None:
    response = anonymous.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert set(response.json()) == {"status", "uptime", "version"}


def test_readiness_checks_postgresql_and_redis(anonymous) -> None:
    response = anonymous.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_staff_can_use_the_browsable_api_with_their_session(admin_client) -> None:
    response = admin_client.get("/api/v1/messages", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"Message" in response.content and response["Content-Type"].startswith("text/html")


def test_a_logged_in_non_staff_user_gets_no_api_access(client, django_user_model) -> None:
    user = django_user_model.objects.create_user("plain", password="x")
    client.force_login(user)
    assert client.get("/api/v1/messages").status_code in (401, 403)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("get", "/nowhere", 404), ("get", "/api/v1/unknown", 404), ("delete", "/health", 405),
     ("put", "/api/v1/messages", 405), ("get", "/api/v1/messages/bulk", 405),
     ("get", "/static/nothing.css", 404)],
)  # fmt: skip
def test_unknown_routes_and_wrong_methods_answer_json(api, method, path, status) -> None:
    assert_json_error(getattr(api, method)(path), status)


def test_malformed_json_is_400_and_wrong_content_type_415(api) -> None:
    bad_json = api.post("/api/v1/messages", "{bad", content_type="application/json")
    form = api.post("/api/v1/messages", "phoneNumber=1", content_type="text/plain")
    assert "JSON parse error" in assert_json_error(bad_json, 400)["message"]
    assert_json_error(form, 415)


def test_a_body_over_64_kib_is_413_but_bulk_accepts_up_to_1_mib(api) -> None:
    big = json.dumps({"phoneNumber": "+905551234567", "content": "x" * 70_000})
    assert_json_error(api.post("/api/v1/messages", big, content_type="application/json"), 413)
    items = [{"phoneNumber": "+905551234567", "content": "y" * 150}] * 900  # ~170 KiB
    assert api.post("/api/v1/messages/bulk", items, format="json").status_code == 201
    huge = json.dumps([{"phoneNumber": "+905551234567", "content": "z" * 150}] * 7000)
    assert_json_error(api.post("/api/v1/messages/bulk", huge, content_type="application/json"), 413)


def test_an_unexpected_server_error_is_json_without_a_traceback(settings) -> None:
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    key = settings.DISPATCHER["api_key"][0]
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE messages RENAME TO messages_gone")
    try:
        response = client.get("/api/v1/messages", HTTP_AUTHORIZATION=f"Bearer {key}")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE messages_gone RENAME TO messages")
    body = assert_json_error(response, 500)
    assert "messages_gone" not in body["message"] and "relation" not in body["message"]


def test_rate_limit_answers_429_with_retry_after_per_key(settings, api, anonymous) -> None:
    settings.DISPATCHER = {**settings.DISPATCHER, "rate_limit_per_minute": 3}
    codes = [api.get("/api/v1/messages").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = api.get("/api/v1/messages")
    assert_json_error(limited, 429)
    assert 1 <= int(limited["Retry-After"]) <= 61
    assert anonymous.get("/health").status_code == 200  # /health is never limited
    settings.DISPATCHER = {**settings.DISPATCHER, "api_key": ["k1", "other"]}
    assert anonymous.get("/api/v1/messages", HTTP_AUTHORIZATION="Bearer other").status_code == 200


def test_rate_limit_zero_turns_it_off(settings, api) -> None:
    settings.DISPATCHER = {**settings.DISPATCHER, "rate_limit_per_minute": 0}
    assert {api.get("/api/v1/messages").status_code for _ in range(20)} == {200}


@pytest.fixture
def messages_table_gone():
    """A broken schema: every query on messages fails with a database error nobody expects."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE messages RENAME TO messages_gone")
    yield
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE messages_gone RENAME TO messages")


def test_a_crash_in_a_view_outside_drf_is_json_too(
    settings, django_user_model, messages_table_gone
) -> None:
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    client.force_login(django_user_model.objects.create_superuser("ops", password="x"))
    response = client.get("/dashboard/data.json")
    body = assert_json_error(response, 500)
    assert body["details"] == {}
    assert "messages_gone" not in body["message"]


def test_every_kind_of_error_has_details_as_an_object(settings, api, anonymous) -> None:
    invalid = api.post("/api/v1/messages", {"phoneNumber": "1", "content": ""}, format="json")
    assert assert_json_error(invalid, 400)["details"].keys() >= {"phoneNumber"}
    bulk = api.post("/api/v1/messages/bulk", [{"phoneNumber": 5}], format="json")
    assert "0" in assert_json_error(bulk, 400)["details"]
    not_array = api.post("/api/v1/messages/bulk", {}, format="json")
    assert assert_json_error(not_array, 400)["details"] == {
        "body": ["Expected a JSON array of messages"]
    }
    missing = api.get(f"/api/v1/messages/{SOME_ID}")
    created = api.post(
        "/api/v1/messages", {"phoneNumber": "+905551234567", "content": "Hi"}, format="json"
    )
    conflict = api.post(f"/api/v1/messages/{created.json()['id']}/retry")  # it is not FAILED
    no_key = anonymous.get("/api/v1/messages")
    no_route = api.get("/nowhere")
    wrong_method = api.delete("/health")
    not_json = api.post("/api/v1/messages", "x", content_type="text/plain")
    too_big = api.post("/api/v1/messages", "x" * 70_000, content_type="application/json")
    for response, status in [
        (missing, 404), (conflict, 409), (no_key, 401), (no_route, 404),
        (wrong_method, 405), (not_json, 415), (too_big, 413),
    ]:  # fmt: skip
        assert assert_json_error(response, status)["details"] == {}, response.content
    settings.DISPATCHER = {**settings.DISPATCHER, "rate_limit_per_minute": 1}
    api.get("/api/v1/messages")
    assert assert_json_error(api.get("/api/v1/messages"), 429)["details"] == {}


def test_readiness_503_is_an_error_body_naming_the_failing_part(settings, anonymous) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    body = assert_json_error(anonymous.get("/health/ready"), 503)
    assert body["details"] == {"redis": [body["checks"]["redis"]]}
    assert body["checks"]["redis"].startswith("unavailable") and body["status"] == "unavailable"
