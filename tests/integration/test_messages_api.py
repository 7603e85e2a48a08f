"""The message endpoints through HTTP: the Go service's examples, validation, paging, requeue."""

from __future__ import annotations

import uuid

import pytest

from messaging import models

pytestmark = pytest.mark.django_db(transaction=True)

HELLO = {"phoneNumber": "+905551234567", "content": "Hello, this is a test message!"}
MESSAGE_FIELDS = {
    "id", "phoneNumber", "content", "status", "externalId", "retryCount", "lastError",
    "createdAt", "updatedAt", "sentAt", "nextAttemptAt", "sendAt", "expiresAt",
}  # fmt: skip


def create(api, body=HELLO, **headers):
    return api.post("/api/v1/messages", body, format="json", **headers)


def test_readme_example_create_returns_201_with_the_message_and_location(api) -> None:
    response = create(api)
    body = response.json()
    assert response.status_code == 201
    assert set(body) == MESSAGE_FIELDS
    assert body["phoneNumber"] == "+905551234567"
    assert body["content"] == "Hello, this is a test message!"
    assert (body["status"], body["retryCount"], body["externalId"]) == ("PENDING", 0, None)
    assert body["createdAt"].endswith("Z")
    assert response["Location"] == f"/api/v1/messages/{body['id']}"
    assert models.Message.objects.filter(pk=body["id"], status="PENDING").exists()


def test_readme_example_list_with_limit_and_offset_pages_newest_first(api) -> None:
    ids = [create(api, {**HELLO, "content": f"m{i}"}).json()["id"] for i in range(5)]
    first = api.get("/api/v1/messages?limit=2&offset=0")
    second = api.get("/api/v1/messages?limit=2&offset=2")
    assert first.status_code == second.status_code == 200
    assert first["X-Total-Count"] == second["X-Total-Count"] == "5"
    listed = [m["id"] for m in first.json() + second.json()]
    assert listed == list(reversed(ids))[:4]


def test_readme_example_get_returns_the_message(api) -> None:
    created = create(api).json()
    response = api.get(f"/api/v1/messages/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created


def test_list_filters_by_status_in_any_case_and_by_phone(api) -> None:
    create(api)
    create(api, {**HELLO, "phoneNumber": "+1 (555) 000-0000"})
    models.Message.objects.filter(phone_number="+15550000000").update(status="FAILED")
    failed = api.get("/api/v1/messages?status=failed")
    by_phone = api.get("/api/v1/messages", {"phoneNumber": "+15550000000"})
    assert [m["status"] for m in failed.json()] == ["FAILED"]
    assert failed["X-Total-Count"] == "1"
    assert [m["phoneNumber"] for m in by_phone.json()] == ["+15550000000"]


def test_following_the_link_header_walks_every_message_once_newest_first(api) -> None:
    ids = [create(api, {**HELLO, "content": f"m{i}"}).json()["id"] for i in range(7)]
    models.Message.objects.filter(id__in=ids[:4]).update(
        created_at=models.Message.objects.get(id=ids[0]).created_at
    )  # ties on createdAt: the id decides
    expected = [m["id"] for m in api.get("/api/v1/messages?limit=100").json()]
    walked, url, pages = [], "/api/v1/messages?limit=3", 0
    while url:
        response = api.get(url)
        assert response.status_code == 200 and response["X-Total-Count"] == "7"
        walked += [m["id"] for m in response.json()]
        link = response.headers.get("Link")
        url = link[link.index("<") + 1 : link.index(">")] if link else None
        assert link is None or link.endswith('; rel="next"')
        pages += 1
    assert walked == expected and sorted(walked) == sorted(ids)
    assert pages == 3  # 3 + 3 + 1: the last page is short, so it has no Link


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=101", "limit"), ("limit=abc", "limit"),
     ("offset=-1", "offset"), ("status=DONE", "status"), ("phoneNumber=12", "phoneNumber"),
     ("before=yesterday", "before"), ("before=12,not-a-uuid", "before")],
)  # fmt: skip
def test_list_rejects_an_invalid_parameter_with_400(api, query, field) -> None:
    response = api.get(f"/api/v1/messages?{query}")
    assert response.status_code == 400
    assert field in response.json()["details"]


def test_get_answers_404_for_an_unknown_id_and_400_for_a_malformed_one(api) -> None:
    missing = api.get(f"/api/v1/messages/{uuid.uuid4()}")
    malformed = api.get("/api/v1/messages/not-a-uuid")
    assert missing.status_code == 404
    assert missing.json()["error"] == "Not Found"
    assert malformed.status_code == 400
    assert "not a valid message id" in malformed.json()["message"]


@pytest.mark.parametrize(
    ("phone", "accepted"),
    [("555123456", False), ("5551234567", True), ("123456789012345", True),
     ("1234567890123456", False), ("05551234567", False), ("555123456a", False),
     ("+90 (555) 123-4567", True), ("", False)],
)  # fmt: skip
def test_phone_number_rules_at_their_edges(api, phone, accepted) -> None:
    response = create(api, {**HELLO, "phoneNumber": phone})
    assert response.status_code == (201 if accepted else 400), response.json()
    if not accepted:
        assert list(response.json()["details"]) == ["phoneNumber"]


@pytest.mark.parametrize(
    ("content", "accepted"),
    [("x" * 160, True), ("x" * 161, False), ("ğ" * 160, True), ("😀" * 161, False),
     ("   ", False), ("", False)],
)  # fmt: skip
def test_content_rules_at_their_edges(api, content, accepted) -> None:
    response = create(api, {**HELLO, "content": content})
    assert response.status_code == (201 if accepted else 400), response.json()
    if accepted:
        assert response.json()["content"] == content


def test_missing_fields_are_named_in_camel_case(api) -> None:
    response = create(api, {})
    assert response.status_code == 400
    assert set(response.json()["details"]) == {"phoneNumber", "content"}


def test_bulk_creates_all_messages(api) -> None:
    items = [{**HELLO, "content": f"bulk {i}"} for i in range(1000)]
    response = api.post("/api/v1/messages/bulk", items, format="json")
    assert response.status_code == 201
    assert len(response.json()) == 1000
    assert models.Message.objects.count() == 1000


def test_bulk_is_all_or_nothing_with_details_by_item_index(api) -> None:
    items = [HELLO, {**HELLO, "content": ""}, HELLO, {"phoneNumber": "1"}]
    response = api.post("/api/v1/messages/bulk", items, format="json")
    assert response.status_code == 400
    details = response.json()["details"]
    assert set(details) == {"3"}  # the shape check names the item missing a field first
    response = api.post("/api/v1/messages/bulk", items[:3], format="json")
    assert set(response.json()["details"]) == {"1"}
    assert "content" in response.json()["details"]["1"]
    assert models.Message.objects.count() == 0


@pytest.mark.parametrize("body", [[], {"phoneNumber": "+905551234567"}, [HELLO] * 1001])
def test_bulk_rejects_an_empty_oversized_or_non_array_body(api, body) -> None:
    response = api.post("/api/v1/messages/bulk", body, format="json")
    assert response.status_code == 400
    assert models.Message.objects.count() == 0


def test_retry_requeues_a_failed_message(api) -> None:
    created = create(api).json()
    models.Message.objects.filter(pk=created["id"]).update(
        status="FAILED", retry_count=3, last_error="HTTP 500"
    )
    response = api.post(f"/api/v1/messages/{created['id']}/retry")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["retryCount"], body["lastError"]) == ("PENDING", 0, None)


def test_retry_of_a_message_that_is_not_failed_is_409(api) -> None:
    created = create(api).json()
    response = api.post(f"/api/v1/messages/{created['id']}/retry")
    assert response.status_code == 409
    assert "Only FAILED" in response.json()["message"]


def test_attempts_of_a_new_message_are_an_empty_list(api) -> None:
    created = create(api).json()
    assert api.get(f"/api/v1/messages/{created['id']}/attempts").json() == []
    assert api.get(f"/api/v1/messages/{uuid.uuid4()}/attempts").status_code == 404


@pytest.mark.parametrize("status", ["PENDING", "SENT", "FAILED"])
def test_message_json_is_what_drfs_fields_would_write(status) -> None:
    from rest_framework import serializers

    from core_domain.message import Status
    from messaging.serializers import MessageSerializer
    from tests.fakes import a_message

    message = a_message(status=Status(status), external_id="e-1", last_error="HTTP 500")
    by_fields = serializers.Serializer.to_representation(MessageSerializer(), message)
    if status != "PENDING":
        by_fields["nextAttemptAt"] = None
    assert MessageSerializer(message).data == by_fields


def test_bulk_names_a_non_string_field_by_item_index(api) -> None:
    items = [HELLO, {**HELLO, "content": 42}]
    response = api.post("/api/v1/messages/bulk", items, format="json")
    assert response.status_code == 400
    assert set(response.json()["details"]) == {"1"}
    assert models.Message.objects.count() == 0
