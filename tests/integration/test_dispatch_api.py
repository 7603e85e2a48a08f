"""The processing and scheduler endpoints through HTTP, delivering to a real loopback webhook.

`POST /messaging/process` runs `messaging.bootstrap.dispatch_batch`, which is built once per
process from `settings.DISPATCHER`; the `webhook` fixture points it at the scripted receiver and
clears that cache before and after each test.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from messaging import models
from tests.integration.receivers import Reply

pytestmark = pytest.mark.django_db(transaction=True)

HELLO = {"phoneNumber": "+905551234567", "content": "Hello, this is a test message!"}
RESULT_FIELDS = {"processedCount", "successCount", "failedCount", "retryScheduledCount", "errors"}
ATTEMPT_FIELDS = {
    "attemptNumber", "startedAt", "durationMs", "statusCode", "outcome", "error",
    "responseExcerpt",
}  # fmt: skip


def create(api, count: int = 1) -> list[str]:
    """Create `count` messages through the API, oldest first; return their ids."""
    ids = []
    for i in range(count):
        response = api.post("/api/v1/messages", {**HELLO, "content": f"m{i}"}, format="json")
        assert response.status_code == 201, response.json()
        ids.append(response.json()["id"])
    return ids


def process(api, query: str = "") -> dict[str, Any]:
    response = api.post(f"/api/v1/messaging/process{query}")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == RESULT_FIELDS
    return body


def statuses(ids: list[str]) -> dict[str, str]:
    rows = models.Message.objects.filter(pk__in=ids).values_list("id", "status")
    return {str(message_id): status for message_id, status in rows}


def wait_until_due(message_id: str, *, timeout: float = 5.0) -> None:
    """Poll the stored message until its next attempt is due (bounded)."""
    deadline = time.monotonic() + timeout
    while models.Message.objects.get(pk=message_id).next_attempt_at > datetime.now(UTC):
        assert time.monotonic() < deadline, f"{message_id} not due within {timeout}s"
        time.sleep(0.01)


# -- POST /messaging/process -------------------------------------------------------------------


def test_process_delivers_batch_size_due_messages_to_the_webhook(api, webhook) -> None:
    ids = create(api, 3)

    body = process(api, "?batch_size=2")

    assert body == {
        "processedCount": 2,
        "successCount": 2,
        "failedCount": 0,
        "retryScheduledCount": 0,
        "errors": [],
    }
    delivered = {request.idempotency_key for request in webhook.requests}
    assert delivered == set(ids[:2])  # oldest due first
    assert statuses(ids) == {ids[0]: "SENT", ids[1]: "SENT", ids[2]: "PENDING"}
    assert models.Message.objects.filter(pk__in=ids[:2], external_id__isnull=False).count() == 2


def test_process_reports_failed_and_retried_deliveries_with_their_errors(api, webhook) -> None:
    ids = create(api, 3)
    webhook.script(
        Reply(status=400, body={"error": "invalid number"}),
        Reply(status=503, body="busy"),
        Reply(status=202),
    )

    body = process(api, "?batch_size=3")

    failed_id, retried_id, sent_id = (r.idempotency_key for r in webhook.requests)
    assert {failed_id, retried_id, sent_id} == set(ids)
    assert body == {
        "processedCount": 3,
        "successCount": 1,
        "failedCount": 1,
        "retryScheduledCount": 1,
        "errors": [f'{failed_id}: HTTP 400: {{"error": "invalid number"}} (not retryable)'],
    }
    assert statuses(ids) == {failed_id: "FAILED", retried_id: "PENDING", sent_id: "SENT"}


@pytest.mark.parametrize("batch_size", ["0", "101", "abc"])
def test_process_rejects_a_batch_size_outside_1_to_100_with_400_json(
    api, webhook, batch_size
) -> None:
    [message_id] = create(api)

    response = api.post(f"/api/v1/messaging/process?batch_size={batch_size}")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == "Bad Request"
    assert "batch_size" in body["details"]
    assert webhook.requests == []
    assert statuses([message_id]) == {message_id: "PENDING"}


# -- GET /messaging/status ---------------------------------------------------------------------


def test_processing_status_counts_messages_by_status_and_today(
    api, webhook, django_repository
) -> None:
    ids = create(api, 4)
    webhook.script(Reply(status=202), Reply(status=400))
    process(api, "?batch_size=2")
    [sending] = django_repository.claim_batch(
        worker_id="elsewhere", limit=1, lease=timedelta(minutes=1)
    )

    response = api.get("/api/v1/messaging/status")

    assert response.status_code == 200
    body = response.json()
    counts = {k: body[k] for k in ("pendingCount", "sendingCount", "sentCount", "failedCount")}
    assert counts == {"pendingCount": 1, "sendingCount": 1, "sentCount": 1, "failedCount": 1}
    assert (body["processedToday"], body["failedToday"]) == (1, 1)
    assert str(sending.id) == ids[2]
    assert body["isProcessing"] is False
    assert {
        "isProcessing", "lastProcessedAt", "pendingCount", "sendingCount", "sentCount",
        "failedCount", "processedToday", "failedToday", "nextProcessingAt",
    } == set(body)  # fmt: skip


# -- /scheduler --------------------------------------------------------------------------------


def switch_row() -> bool:
    return models.SchedulerState.objects.get(id=1).is_running


def test_scheduler_stop_and_start_switch_the_shared_state_and_refuse_repeats(api, webhook) -> None:
    turns = [
        ("stop", "stopped", "already stopped", False),
        ("start", "started", "already running", True),
    ]
    for action, state, repeated, running in turns:
        answer = api.post(f"/api/v1/scheduler/{action}")
        assert answer.status_code == 200
        assert answer.json()["status"] == state
        assert answer.json()["message"]
        assert switch_row() is running

        again = api.post(f"/api/v1/scheduler/{action}")
        assert again.status_code == 409
        assert again.json()["error"] == "Conflict"
        assert repeated in again.json()["message"]
        assert switch_row() is running
    assert api.get("/api/v1/scheduler/status").json()["isRunning"] is True


@pytest.mark.parametrize(
    ("interval", "shown", "alive"),
    [(timedelta(minutes=2), "2m", [True, False]),  # alive within 3 × 2m = 6m
     (timedelta(minutes=5), "5m", [True, True]),  # within 15m
     (timedelta(seconds=5), "5s", [False, False])],  # within max(15s, 30s)
)  # fmt: skip
def test_scheduler_status_lists_workers_with_their_liveness(
    api, webhook, settings, interval, shown, alive
) -> None:
    conf = settings.DISPATCHER
    settings.DISPATCHER = {**conf, "scheduler_interval": interval}
    now = datetime.now(UTC)
    models.Worker.objects.create(
        id="host-a-1", host="host-a", pid=1, started_at=now - timedelta(hours=2),
        last_heartbeat=now - timedelta(minutes=5),
        processed=10, succeeded=8, failed=1, last_processed_at=now - timedelta(minutes=5),
    )  # fmt: skip
    models.Worker.objects.create(
        id="host-b-2", host="host-b", pid=2, started_at=now - timedelta(hours=1),
        last_heartbeat=now - timedelta(minutes=7),
        processed=5, succeeded=3, failed=2, last_processed_at=now - timedelta(minutes=7),
    )  # fmt: skip

    response = api.get("/api/v1/scheduler/status")

    assert response.status_code == 200
    body = response.json()
    assert (body["interval"], body["batchSize"], body["isRunning"]) == (
        shown,
        settings.DISPATCHER["scheduler_batch_size"],
        True,
    )
    assert datetime.fromisoformat(body["lastProcessingTime"]) == now - timedelta(minutes=5)
    workers = body["workers"]
    assert [(w["id"], w["host"], w["pid"], w["alive"], w["processed"]) for w in workers] == [
        ("host-a-1", "host-a", 1, alive[0], 10),
        ("host-b-2", "host-b", 2, alive[1], 5),
    ]
    assert datetime.fromisoformat(workers[0]["lastHeartbeat"]) == now - timedelta(minutes=5)
    assert datetime.fromisoformat(workers[1]["startedAt"]) == now - timedelta(hours=1)


def test_scheduler_totals_count_every_finished_message_the_api_process_call_included(
    api, webhook
) -> None:
    create(api, 4)
    webhook.script(Reply(status=202), Reply(status=202), Reply(status=400), Reply(status=503))
    process(api, "?batch_size=10")
    body = api.get("/api/v1/scheduler/status").json()
    # The 503 is a retry, not finished; no dispatcher ran, yet the totals see all of it.
    assert (body["totalProcessed"], body["totalSuccessful"], body["totalFailed"]) == (3, 2, 1)
    assert body["workers"] == []


# -- GET /messages/{id}/attempts ---------------------------------------------------------------


def test_attempts_of_a_processed_message_list_each_webhook_call(api, webhook) -> None:
    [message_id] = create(api)
    webhook.script(
        Reply(status=503, body="busy"),
        Reply(status=202, body={"message": "Accepted", "messageId": "ext-7"}),
    )
    process(api)
    wait_until_due(message_id)
    process(api)

    response = api.get(f"/api/v1/messages/{message_id}/attempts")

    assert response.status_code == 200
    first, second = response.json()
    assert set(first) == set(second) == ATTEMPT_FIELDS
    assert (first["attemptNumber"], first["statusCode"], first["outcome"]) == (
        1,
        503,
        "retry_scheduled",
    )
    assert (first["error"], first["responseExcerpt"]) == ("HTTP 503: busy", "busy")
    assert (second["attemptNumber"], second["statusCode"], second["outcome"]) == (
        2,
        202,
        "delivered",
    )
    assert second["error"] is None
    assert second["responseExcerpt"] == '{"message": "Accepted", "messageId": "ext-7"}'
    assert all(a["durationMs"] >= 0 and a["startedAt"].endswith("Z") for a in (first, second))
    assert datetime.fromisoformat(first["startedAt"]) < datetime.fromisoformat(second["startedAt"])
    message = api.get(f"/api/v1/messages/{message_id}").json()
    assert (message["status"], message["retryCount"], message["externalId"]) == ("SENT", 1, "ext-7")


# -- authentication ----------------------------------------------------------------------------

ENDPOINTS = [
    ("post", "/api/v1/messaging/process"),
    ("post", "/api/v1/messaging/process?batch_size=1"),
    ("get", "/api/v1/messaging/status"),
    ("post", "/api/v1/scheduler/start"),
    ("post", "/api/v1/scheduler/stop"),
    ("get", "/api/v1/scheduler/status"),
    ("get", "/api/v1/messages/{id}/attempts"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_processing_and_scheduler_endpoints_answer_401_without_the_key(
    api, anonymous, webhook, method, path
) -> None:
    [message_id] = create(api)

    url = path.format(id=message_id)
    response = getattr(anonymous, method)(url)
    wrong_key = getattr(anonymous, method)(url, HTTP_AUTHORIZATION="Bearer nope")

    for answer in (response, wrong_key):
        assert answer.status_code == 401
        assert answer["WWW-Authenticate"].startswith("Bearer")
        assert answer.json()["error"] == "Unauthorized"
    assert webhook.requests == []
    assert statuses([message_id]) == {message_id: "PENDING"}
    assert not models.SchedulerState.objects.exists()


# -- admin -------------------------------------------------------------------------------------


def test_admin_change_page_shows_a_messages_attempts_inline(api, webhook, admin_client) -> None:
    [message_id] = create(api)
    webhook.script(Reply(status=503, body="upstream busy"))
    process(api)

    response = admin_client.get(f"/admin/messaging/message/{message_id}/change/")

    assert response.status_code == 200
    [inline] = [
        formset
        for formset in response.context["inline_admin_formsets"]
        if formset.opts.model is models.DeliveryAttempt
    ]
    assert [form.instance.attempt_number for form in inline.formset.forms] == [1]
    page = response.content.decode()
    assert "Delivery attempts" in page
    assert "HTTP 503: upstream busy" in page
    assert "retry_scheduled" in page


def test_status_answers_keep_their_keys_order_and_value_types(api, webhook) -> None:
    now = datetime.now(UTC)
    models.Worker.objects.create(
        id="host-a-1", host="host-a", pid=1, started_at=now - timedelta(hours=2),
        last_heartbeat=now, processed=10, succeeded=8, failed=1, last_processed_at=now,
    )  # fmt: skip
    body = api.get("/api/v1/scheduler/status").json()
    assert list(body) == [
        "isRunning", "isCurrentlyProcessing", "totalProcessed", "totalSuccessful",
        "totalFailed", "lastProcessingTime", "nextProcessingIn", "interval", "batchSize",
        "workers", "circuit", "rateLimit",
    ]  # fmt: skip
    [worker] = body["workers"]
    assert worker == {
        "id": "host-a-1", "host": "host-a", "pid": 1, "alive": True, "processed": 10,
        "startedAt": worker["startedAt"], "lastHeartbeat": worker["lastHeartbeat"],
    }  # fmt: skip
    assert list(worker)[3:5] == ["startedAt", "lastHeartbeat"]
    assert worker["lastHeartbeat"].endswith("Z") and body["lastProcessingTime"].endswith("Z")
    assert body["circuit"] == {
        "state": "closed", "reason": None, "since": None, "nextProbeAt": None,
        "consecutiveFailures": 0,
    }  # fmt: skip
    assert list(body["rateLimit"]) == ["limit", "pausedUntil"]
    assert isinstance(body["interval"], str) and isinstance(body["nextProcessingIn"], str | None)
    status = api.get("/api/v1/messaging/status").json()
    assert status["isProcessing"] is False
    assert all(type(status[key]) is int for key in list(status)[2:8]), status
    stopped = api.post("/api/v1/scheduler/stop").json()
    assert stopped == {"message": "Scheduler stopped for every dispatcher", "status": "stopped"}
