"""Idempotency-Key on create: repeats, conflicts, and concurrent requests over real HTTP."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from messaging import models

pytestmark = pytest.mark.django_db(transaction=True)

HELLO = {"phoneNumber": "+905551234567", "content": "Hello"}


def test_a_repeated_key_creates_nothing_and_returns_the_first_message(api) -> None:
    first = api.post("/api/v1/messages", HELLO, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    again = api.post("/api/v1/messages", HELLO, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert models.Message.objects.count() == 1


def test_a_reused_key_with_another_body_is_409(api) -> None:
    api.post("/api/v1/messages", HELLO, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    other = {**HELLO, "content": "Something else"}
    response = api.post("/api/v1/messages", other, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert response.status_code == 409
    assert response.json()["error"] == "Conflict"
    assert models.Message.objects.count() == 1


def test_different_keys_create_different_messages(api) -> None:
    for key in ("a", "b"):
        api.post("/api/v1/messages", HELLO, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert models.Message.objects.count() == 2


def test_concurrent_requests_with_one_key_create_one_row(live_server, api_key) -> None:
    requests_at_once = 8
    start = threading.Barrier(requests_at_once)

    def post(_: int) -> tuple[int, str]:
        start.wait(timeout=10)
        response = requests.post(
            f"{live_server.url}/api/v1/messages",
            json=HELLO,
            headers={"Authorization": f"Bearer {api_key}", "Idempotency-Key": "race"},
            timeout=30,
        )
        return response.status_code, response.json()["id"]

    with ThreadPoolExecutor(requests_at_once) as pool:
        results = list(pool.map(post, range(requests_at_once)))
    codes = sorted(code for code, _ in results)
    assert codes == [200] * (requests_at_once - 1) + [201]
    assert len({message_id for _, message_id in results}) == 1
    assert models.Message.objects.count() == 1
    assert models.IdempotencyKey.objects.count() == 1
