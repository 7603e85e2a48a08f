"""`GET /metrics`: access, the counters the API and dispatchers record, the database gauges, and
multiprocess aggregation across a dispatcher process and the process answering the scrape.

Counters live for the whole test process, so the tests compare values before and after.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from django.db import OperationalError, connection
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from messaging import models
from tests.e2e.processes import ROOT, dispatcher_env
from tests.fakes import a_message

pytestmark = pytest.mark.django_db(transaction=True)

P = "message_dispatcher_"
HELLO = {"phoneNumber": "+905551234567", "content": "Hello, this is a test message!"}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample by (name, labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    return parse(response.content.decode())


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((P + name, frozenset(labels.items())), 0.0)


def has(samples: Samples, name: str) -> bool:
    return any(sample_name == P + name for sample_name, _ in samples)


# -- access ------------------------------------------------------------------------------------


def test_metrics_answer_401_json_without_a_valid_api_key(anonymous) -> None:
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer nope"}):
        response = anonymous.get("/metrics", **headers)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Bearer"
        assert response.json()["error"] == "Unauthorized"
        assert response.json()["message"]


def test_metrics_answer_200_in_prometheus_text_format_with_the_api_key(api, settings) -> None:
    samples = scrape(api)

    assert has(samples, "messages_created_total")
    assert value(samples, "queue_depth", status="PENDING") == 0
    # No switch row yet: the value the first dispatcher will create it with.
    assert value(samples, "scheduler_running") == settings.DISPATCHER["scheduler_enabled"]


def test_metrics_are_open_without_a_key_when_metrics_public(settings, anonymous) -> None:
    settings.DISPATCHER = {**settings.DISPATCHER, "metrics_public": True}

    assert has(scrape(anonymous), "queue_depth")


def test_metrics_are_in_the_openapi_document_as_prometheus_text(anonymous) -> None:
    metrics = anonymous.get("/swagger/doc.json").json()["paths"]["/metrics"]["get"]
    assert list(metrics["responses"]["200"]["content"]) == ["text/plain"]
    assert "401" in metrics["responses"]


# -- counters ----------------------------------------------------------------------------------


def test_creating_and_processing_messages_moves_the_counters_and_histograms(api, webhook) -> None:
    before = scrape(api)
    for i in range(2):
        created = api.post("/api/v1/messages", {**HELLO, "content": f"m{i}"}, format="json")
        assert created.status_code == 201
    repeat = {"HTTP_IDEMPOTENCY_KEY": "order-1"}
    assert api.post("/api/v1/messages", HELLO, format="json", **repeat).status_code == 201
    assert api.post("/api/v1/messages", HELLO, format="json", **repeat).status_code == 200
    assert api.post("/api/v1/messages/bulk", [HELLO] * 3, format="json").status_code == 201

    processed = api.post("/api/v1/messaging/process?batch_size=10")
    assert processed.json()["successCount"] == 6
    after = scrape(api)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("messages_created_total") == 6  # the idempotent repeat is not a new message
    assert grew("deliveries_total", outcome="delivered") == 6
    assert grew("deliveries_total", outcome="failed") == 0
    assert grew("delivery_attempts_total") == 6
    assert grew("delivery_latency_seconds_count") == 6
    assert grew("webhook_call_seconds_count") == 6
    assert grew("claim_batch_size_count") == 1
    assert grew("claim_batch_size_sum") == 6
    assert value(after, "queue_depth", status="SENT") == 6
    assert value(after, "queue_depth", status="PENDING") == 0


# -- database gauges ---------------------------------------------------------------------------


def test_oldest_due_age_counts_from_the_oldest_due_pending_message(api, django_repository) -> None:
    now = datetime.now(UTC)
    django_repository.add(
        [
            a_message(next_attempt_at=now - timedelta(minutes=10)),
            a_message(next_attempt_at=now - timedelta(minutes=1)),
            a_message(next_attempt_at=now + timedelta(hours=1)),  # not due yet
        ]
    )

    samples = scrape(api)

    assert 600 <= value(samples, "oldest_due_message_age_seconds") < 660
    assert value(samples, "queue_depth", status="PENDING") == 3


def test_worker_heartbeats_alive_workers_and_the_scheduler_switch_are_gauges(api) -> None:
    now = datetime.now(UTC)
    for worker_id, age in (("host-a-1", timedelta(seconds=5)), ("host-b-2", timedelta(hours=1))):
        models.Worker.objects.create(
            id=worker_id, host="h", pid=1, started_at=now - age, last_heartbeat=now - age
        )
    assert api.post("/api/v1/scheduler/stop").status_code == 200

    samples = scrape(api)

    assert 5 <= value(samples, "worker_heartbeat_age_seconds", worker="host-a-1") < 60
    assert value(samples, "worker_heartbeat_age_seconds", worker="host-b-2") >= 3600
    assert value(samples, "workers_alive") == 1
    assert value(samples, "scheduler_running") == 0


def test_a_database_error_leaves_out_the_database_gauges_and_is_logged(api, caplog) -> None:
    def unavailable(execute, sql, params, many, context):
        raise OperationalError("connection refused")

    with connection.execute_wrapper(unavailable):
        samples = scrape(api)

    assert has(samples, "messages_created_total")
    assert not has(samples, "queue_depth")
    assert not has(samples, "workers_alive")
    assert "database gauges skipped" in caplog.text


# -- multiprocess ------------------------------------------------------------------------------

SCRAPE_IN_A_NEW_PROCESS = """
import sys
import django
django.setup()
from django.test import Client
response = Client(HTTP_HOST="localhost").get("/metrics")
sys.stdout.write(response.content.decode())
sys.exit(0 if response.status_code == 200 else 1)
"""


def run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_dispatchers_counters_reach_a_scrape_in_another_process(api, receiver, tmp_path) -> None:
    ids: list[str] = []
    for i in range(3):
        response = api.post("/api/v1/messages", {**HELLO, "content": f"m{i}"}, format="json")
        ids.append(response.json()["id"])
    env = dispatcher_env(webhook_url=receiver.url, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))

    run([sys.executable, "manage.py", "run_dispatcher", "--once", "--drain"], env)

    assert receiver.counts() == {message_id: 1 for message_id in ids}
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    assert registry.get_sample_value(f"{P}deliveries_total", {"outcome": "delivered"}) == 3
    assert registry.get_sample_value(f"{P}delivery_latency_seconds_count") == 3
    scraped = parse(
        run(
            [sys.executable, "-c", SCRAPE_IN_A_NEW_PROCESS],
            {**env, "DJANGO_SETTINGS_MODULE": "dispatcher_project.settings", "METRICS_PUBLIC": "1"},
        )
    )
    assert value(scraped, "deliveries_total", outcome="delivered") == 3
    assert value(scraped, "queue_depth", status="SENT") == 3
