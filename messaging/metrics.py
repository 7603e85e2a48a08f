"""Prometheus metrics: counters recorded by the API and dispatchers, gauges read at scrape time.

Multiprocess mode: when PROMETHEUS_MULTIPROC_DIR is set in a process's environment before it
starts (prometheus-client picks its value store when it is first imported), every process writes
its counters to files in that directory and a scrape aggregates all of them. `make run` sets it
for the API and the dispatcher, so any gunicorn worker's /metrics includes the dispatcher's
counters. Without it, each process keeps its own counters in memory (the default registry).

The queue, worker and scheduler gauges are computed from PostgreSQL by `DatabaseCollector` at
scrape time, so they are the same whichever process answers.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Iterator
from datetime import datetime

from django.conf import settings
from django.db import Error as DatabaseError
from django.utils import timezone
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric

from adapters.django_scheduler import SWITCH_ID
from core_domain.delivery import AttemptOutcome
from core_domain.errors import StorageUnavailableError
from core_domain.message import Status
from core_domain.ports import WorkerStatus
from core_domain.send_gate import Gate
from core_domain.use_cases.delivery_pipeline import BatchReport
from core_domain.workers import is_alive
from messaging import models

logger = logging.getLogger(__name__)

PREFIX = "message_dispatcher_"
# Read once, like prometheus-client itself: a variable set after import would not switch its
# value store to files, and aggregating files then would hide this process's own counters.
MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
_WORKER_FIELDS = tuple(f.name for f in dataclasses.fields(WorkerStatus))

MESSAGES_CREATED = Counter(f"{PREFIX}messages_created", "Messages accepted through the API")
DELIVERIES = Counter(
    f"{PREFIX}deliveries", "Delivery attempts written, by outcome", labelnames=["outcome"]
)
DELIVERY_LATENCY = Histogram(
    f"{PREFIX}delivery_latency_seconds",
    "Time from a message's creation to its delivery (SENT)",
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600),
)
WEBHOOK_CALL = Histogram(
    f"{PREFIX}webhook_call_seconds",
    "Duration of one webhook call",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
ATTEMPTS = Counter(
    f"{PREFIX}delivery_attempts", "Webhook calls made, including results dropped on a lost lease"
)
CLAIM_BATCH_SIZE = Histogram(
    f"{PREFIX}claim_batch_size",
    "Messages per claim (0 when nothing was due)",
    buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
RECEIPT_CACHE_ERRORS = Counter(
    f"{PREFIX}receipt_cache_errors", "Delivery receipts that could not be cached"
)
LEASES_LOST = Counter(
    f"{PREFIX}leases_lost", "Delivery results dropped because another worker took the message"
)
for _outcome in AttemptOutcome:
    DELIVERIES.labels(outcome=_outcome.value)  # every outcome is exported from the start


def record_created(count: int) -> None:
    """`count` messages were newly stored (an idempotent repeat is not a new message)."""
    MESSAGES_CREATED.inc(count)


def record_batch(report: BatchReport) -> None:
    """Count one group of results the pipeline wrote: claims, attempts, outcomes, latencies."""
    if report.claimed:
        CLAIM_BATCH_SIZE.observe(report.claimed)
    ATTEMPTS.inc(len(report.finalized) + report.lost)
    LEASES_LOST.inc(report.lost)
    RECEIPT_CACHE_ERRORS.inc(report.receipt_errors)
    for written in report.finalized:
        DELIVERIES.labels(outcome=written.result.outcome.value).inc()
        WEBHOOK_CALL.observe(written.result.duration_ms / 1000)
        if written.sent_at is not None:
            DELIVERY_LATENCY.observe((written.sent_at - written.created_at).total_seconds())


class DatabaseCollector:
    """Gauges read from PostgreSQL at scrape time: kept counts and three small indexed queries.

    A database error never fails the scrape: these gauges are left out and the error is logged.
    """

    def __init__(
        self, queue_depth: Callable[[], dict[Status, int]], gate: Callable[[], Gate]
    ) -> None:
        self._queue_depth = queue_depth
        self._gate = gate

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        try:
            families = [
                _queue_depth(self._queue_depth()),
                *_gate_gauges(self._gate(), now),
                _oldest_due_age(now),
                *_worker_gauges(now),
                _scheduler_running(),
            ]
        except (DatabaseError, StorageUnavailableError) as exc:
            logger.warning("Metrics: database gauges skipped, the query failed: %s", exc)
            return
        yield from families


def _queue_depth(counts: dict[Status, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(f"{PREFIX}queue_depth", "Messages by status", labels=["status"])
    for status in Status:
        family.add_metric([status.value], counts[status])
    return family


CIRCUIT_STATES = {"closed": 0, "half_open": 1, "open": 2}


def _gate_gauges(gate: Gate, now: datetime) -> list[GaugeMetricFamily]:
    circuit = GaugeMetricFamily(
        f"{PREFIX}circuit_state",
        "The webhook's circuit breaker: 0 closed, 1 half open (probing), 2 open",
        value=CIRCUIT_STATES[gate.state.value],
    )
    failures = GaugeMetricFamily(
        f"{PREFIX}circuit_consecutive_failures",
        "Retryable webhook failures in a row, across the fleet",
        value=gate.failures,
    )
    paused = gate.paused_until - now if gate.paused_until and gate.paused_until > now else None
    pause = GaugeMetricFamily(
        f"{PREFIX}send_paused_seconds",
        "How long every dispatcher still waits because the receiver sent Retry-After",
        value=paused.total_seconds() if paused else 0.0,
    )
    return [circuit, failures, pause]


def _oldest_due_age(now: datetime) -> GaugeMetricFamily:
    oldest = (
        models.Message.objects.filter(status=Status.PENDING.value, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    return GaugeMetricFamily(
        f"{PREFIX}oldest_due_message_age_seconds",
        "How long the oldest due PENDING message has been waiting (0 when none is due)",
        value=(now - oldest).total_seconds() if oldest else 0.0,
    )


def _worker_gauges(now: datetime) -> list[GaugeMetricFamily]:
    workers = [WorkerStatus(**row) for row in models.Worker.objects.values(*_WORKER_FIELDS)]
    interval = settings.DISPATCHER["scheduler"]["interval"]
    heartbeat = GaugeMetricFamily(
        f"{PREFIX}worker_heartbeat_age_seconds",
        "Seconds since each dispatcher's last heartbeat",
        labels=["worker"],
    )
    for worker in workers:
        heartbeat.add_metric([worker.id], (now - worker.last_heartbeat).total_seconds())
    alive = GaugeMetricFamily(
        f"{PREFIX}workers_alive",
        "Dispatchers whose heartbeat is within max(3 x interval, 30s)",
        value=sum(is_alive(worker, now=now, interval=interval) for worker in workers),
    )
    return [heartbeat, alive]


def _scheduler_running() -> GaugeMetricFamily:
    switch = models.SchedulerState.objects.filter(id=SWITCH_ID).values_list("is_running", flat=True)
    is_running = switch.first()
    if is_running is None:  # no row yet: the first dispatcher will create it with this value
        is_running = settings.DISPATCHER["scheduler"]["enabled"]
    return GaugeMetricFamily(
        f"{PREFIX}scheduler_running",
        "The shared scheduler switch: 1 running, 0 stopped",
        value=1 if is_running else 0,
    )


def scrape(*, queue_depth: Callable[[], dict[Status, int]], gate: Callable[[], Gate]) -> bytes:
    """The text exposition of every metric: this process's or all processes', plus the gauges."""
    registry = CollectorRegistry()
    if MULTIPROCESS_DIR:
        multiprocess.MultiProcessCollector(registry, path=MULTIPROCESS_DIR)
    else:
        registry.register(REGISTRY)
    registry.register(DatabaseCollector(queue_depth, gate))
    return generate_latest(registry)
