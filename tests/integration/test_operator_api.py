"""Operator endpoints: bulk requeue and cancel by filter, one cancel, the circuit, schedules."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from core_domain.operator_changes import OperatorAction, Selection
from messaging import models
from messaging.bootstrap import message_repository, send_gate
from tests.integration.test_messages_api import HELLO, create

pytestmark = pytest.mark.django_db(transaction=True)


def failed_rows(count: int, *, error: str = "HTTP 503: busy") -> None:
    """`count` FAILED messages with one attempt each, made by SQL (fast at 100,000)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO messages (id, phone_number, content, status, retry_count,
                   attempt_count, last_error, next_attempt_at, created_at, updated_at)
               SELECT gen_random_uuid(), '+905551234567', 'm ' || n, 'FAILED', 3, 4, %s,
                   now(), now() - n * interval '1 ms', now()
               FROM generate_series(1, %s) AS n""",
            [error, count],
        )
        cursor.execute(
            """INSERT INTO delivery_attempts (message_id, attempt_number, started_at,
                   duration_ms, status_code, outcome, error, response_excerpt)
               SELECT m.id, 4, now(), 5, 503, 'failed', m.last_error, '' FROM messages AS m
               WHERE NOT EXISTS (SELECT 1 FROM delivery_attempts AS a WHERE a.message_id = m.id)"""
        )


def test_a_dry_run_counts_and_a_requeue_changes_only_failed_matches(api) -> None:
    failed_rows(5)
    failed_rows(2, error="HTTP 400: bad number")
    create(api)  # PENDING: never touched by a requeue
    dry = api.post("/api/v1/messages/requeue",
                   {"lastErrorContains": "http 503", "dryRun": True}, format="json")  # fmt: skip
    assert (dry.status_code, dry.json()) == (200, {"matched": 5, "changed": 0})
    assert models.Message.objects.filter(status="FAILED").count() == 7
    done = api.post("/api/v1/messages/requeue", {"lastErrorContains": "HTTP 503"}, format="json")
    assert done.json() == {"matched": 5, "changed": 5}
    requeued = models.Message.objects.filter(status="PENDING", retry_count=0, last_error=None)
    assert requeued.count() == 5 + 1
    assert models.DeliveryAttempt.objects.count() == 7  # the history stays
    everything = api.post("/api/v1/messages/cancel", {"status": "pending"}, format="json")
    assert everything.json() == {"matched": 6, "changed": 6}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [("requeue", {"status": "SENT"}, "status"), ("cancel", {"status": "FAILED"}, "status"),
     ("requeue", {"ids": []}, "ids"), ("requeue", {"dryRun": "yes"}, "dryRun"),
     ("cancel", {"phoneNumber": "12"}, "phoneNumber"), ("requeue", {"ids": [0]}, "ids")],
)  # fmt: skip
def test_a_bad_filter_is_a_400_naming_the_field(api, path, body, field) -> None:
    response = api.post(f"/api/v1/messages/{path}", body, format="json")
    assert response.status_code == 400 and field in response.json()["details"], response.json()


def test_100000_failed_messages_requeue_in_batches_of_1000() -> None:
    failed_rows(100_000)
    repository, longest, batches, after = message_repository(), 0.0, 0, None
    while True:  # what ChangeMessages does, timed statement by statement
        started = time.monotonic()
        batch = repository.change_batch(action=OperatorAction.REQUEUE, selection=Selection(),
                                        dry_run=False, after=after, limit=1000)  # fmt: skip
        longest, batches = max(longest, time.monotonic() - started), batches + 1
        assert batch.matched <= 1000
        if batch.next is None:
            break
        after = batch.next
    print(f"100,000 requeued in {batches} statements, the longest {longest * 1000:.0f} ms")
    assert batches == 101  # 100 full ones and the empty one that ends the walk
    assert repository.count_by_status()["PENDING"] == 100_000


def test_one_cancel_answers_the_message_and_409_unless_pending(api) -> None:
    message = create(api).json()
    cancelled = api.post(f"/api/v1/messages/{message['id']}/cancel")
    assert cancelled.status_code == 200
    assert (cancelled.json()["status"], cancelled.json()["lastError"]) == (
        "FAILED", "Cancelled by an operator",
    )  # fmt: skip
    again = api.post(f"/api/v1/messages/{message['id']}/cancel")
    assert again.status_code == 409 and "PENDING" in again.json()["message"]


def test_status_metrics_and_admin_show_the_circuit_which_an_operator_can_close(
    api, admin_client
) -> None:
    models.SendGateState.objects.update_or_create(
        id=1, defaults={"circuit_state": "open", "circuit_reason": "the webhook answered 410 Gone",
                        "next_probe_at": datetime.now(UTC) + timedelta(minutes=1),
                        "consecutive_failures": 1, "refilled_at": datetime.now(UTC)},
    )  # fmt: skip
    status = api.get("/api/v1/scheduler/status").json()
    assert status["circuit"]["state"] == "open" and "410" in status["circuit"]["reason"]
    metrics = api.get("/metrics").content.decode()
    assert "message_dispatcher_circuit_state 2.0" in metrics
    assert status["rateLimit"] == {"limit": None, "pausedUntil": None}
    admin = admin_client.get("/admin/messaging/message/").content.decode()
    assert "Circuit <strong>open</strong>: the webhook answered 410 Gone" in admin
    closed = api.post("/api/v1/scheduler/circuit/close")
    assert (closed.status_code, closed.json()["status"]) == (200, "closed")
    assert send_gate().state().is_clear
    assert api.post("/api/v1/scheduler/circuit/close").status_code == 409


@pytest.mark.parametrize(
    ("schedule", "field"),
    [({"expiresAt": "2000-01-01T00:00:00Z"}, "expiresAt"),
     ({"sendAt": "2099-01-01T00:00:00Z"}, "sendAt"),
     ({"sendAt": "2030-01-02T00:00:00Z", "expiresAt": "2030-01-01T00:00:00Z"}, "expiresAt"),
     ({"sendAt": "tomorrow"}, "sendAt")],
)  # fmt: skip
def test_a_schedule_out_of_bounds_is_a_400_on_create_and_bulk(api, schedule, field) -> None:
    one = api.post("/api/v1/messages", {**HELLO, **schedule}, format="json")
    bulk = api.post("/api/v1/messages/bulk", [HELLO, {**HELLO, **schedule}], format="json")
    assert one.status_code == bulk.status_code == 400
    assert field in one.json()["details"] and field in bulk.json()["details"]["1"]


def test_a_scheduled_message_shows_its_schedule_and_is_due_at_send_at(api) -> None:
    send_at = datetime.now(UTC) + timedelta(hours=1)
    body = {**HELLO, "sendAt": send_at.isoformat(), "expiresAt": (send_at + timedelta(hours=1))
            .isoformat()}  # fmt: skip
    created = api.post("/api/v1/messages", body, format="json").json()
    assert created["sendAt"] == send_at.isoformat().replace("+00:00", "Z")
    assert created["nextAttemptAt"] == created["sendAt"]
    assert created["expiresAt"] is not None
