"""Prometheus metrics: counters recorded by the API and dispatchers, gauges read at scrape time.

Multiprocess mode: when PROMETHEUS_MULTIPROC_DIR is set in a process's environment before it
starts (prometheus-client picks its value store when it is first imported), every process writes
its counters to files in that directory and a scrape aggregates all of them. `make run` sets it
for the API and the dispatcher, so any gunicorn worker's /metrics includes the dispatcher's
counters. Without it, each process keeps its own counters in memory (the default registry).

The queue, worker and scheduler gauges are read at scrape time by `DatabaseCollector`, through
the use cases behind /messaging/status and /scheduler/status, so they are the same whichever
process answers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

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

from core_domain.delivery import AttemptOutcome
from core_domain.errors import StorageUnavailableError
from core_domain.message import Status
from core_domain.ports import WorkerStatus
from core_domain.send_gate import Gate
from core_domain.use_cases.delivery_pipeline import BatchReport
from core_domain.use_cases.get_scheduler_status import SchedulerReport

logger = logging.getLogger(__name__)

PREFIX = "message_dispatcher_"
# Read once, like prometheus-client itself: a variable set after import would not switch its
# value store to files, and aggregating files then would hide this process's own counters.
MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None

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
    """Gauges read from PostgreSQL at scrape time: kept counts and small indexed reads.

    A database error never fails the scrape: these gauges are left out and the error is logged.
    """

    def __init__(
        self,
        *,
        queue_depth: Callable[[], dict[Status, int]],
        scheduler_status: Callable[[], SchedulerReport],
        oldest_due_age: Callable[[], timedelta | None],
    ) -> None:
        self._queue_depth = queue_depth
        self._scheduler_status = scheduler_status
        self._oldest_due_age = oldest_due_age

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        try:
            scheduler = self._scheduler_status()
            families = [
                _queue_depth(self._queue_depth()),
                *_gate_gauges(scheduler.gate, now),
                _oldest_due_age(self._oldest_due_age()),
                *_worker_gauges(scheduler.workers, now),
                _scheduler_running(scheduler.is_running),
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


def _oldest_due_age(age: timedelta | None) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        f"{PREFIX}oldest_due_message_age_seconds",
        "How long the oldest due PENDING message has been waiting (0 when none is due)",
        value=age.total_seconds() if age else 0.0,
    )


def _worker_gauges(
    workers: list[tuple[WorkerStatus, bool]], now: datetime
) -> list[GaugeMetricFamily]:
    heartbeat = GaugeMetricFamily(
        f"{PREFIX}worker_heartbeat_age_seconds",
        "Seconds since each dispatcher's last heartbeat",
        labels=["worker"],
    )
    for worker, _ in workers:
        heartbeat.add_metric([worker.id], (now - worker.last_heartbeat).total_seconds())
    alive = GaugeMetricFamily(
        f"{PREFIX}workers_alive",
        "Dispatchers whose heartbeat is within max(3 x interval, 30s)",
        value=sum(is_alive for _, is_alive in workers),
    )
    return [heartbeat, alive]


def _scheduler_running(is_running: bool) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        f"{PREFIX}scheduler_running",
        "The shared scheduler switch: 1 running, 0 stopped",
        value=1 if is_running else 0,
    )


def scrape(
    *,
    queue_depth: Callable[[], dict[Status, int]],
    scheduler_status: Callable[[], SchedulerReport],
    oldest_due_age: Callable[[], timedelta | None],
) -> bytes:
    """The text exposition of every metric: this process's or all processes', plus the gauges."""
    registry = CollectorRegistry()
    if MULTIPROCESS_DIR:
        multiprocess.MultiProcessCollector(registry, path=MULTIPROCESS_DIR)
    else:
        registry.register(REGISTRY)
    registry.register(
        DatabaseCollector(
            queue_depth=queue_depth,
            scheduler_status=scheduler_status,
            oldest_due_age=oldest_due_age,
        )
    )
    return generate_latest(registry)
