"""The composition root: the only place that builds adapters and hands them to use cases."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from django.conf import settings
from django.db import connection

from adapters.clock import DatabaseClock
from adapters.django_delivery_stats import DjangoDeliveryStats
from adapters.django_repository import DjangoMessageRepository
from adapters.django_retention import DjangoRetentionStore
from adapters.django_scheduler import DjangoSchedulerControl
from adapters.django_send_gate import DjangoSendGate
from adapters.pg_wakeups import PostgresWakeUps
from adapters.receipt_cache import DjangoRedisReceiptCache
from adapters.webhook_client import HttpWebhookSender
from core_domain.operator_changes import OperatorAction
from core_domain.outage import OUTAGE_DELAYS
from core_domain.receipt_writer import ReceiptWriter
from core_domain.retry import RetryPolicy
from core_domain.send_gate import CircuitPolicy
from core_domain.use_cases.change_message import ChangeMessage
from core_domain.use_cases.change_messages import ChangeMessages
from core_domain.use_cases.close_circuit import CloseCircuit
from core_domain.use_cases.create_message import CreateMessage
from core_domain.use_cases.create_messages import CreateMessages
from core_domain.use_cases.delivery_pipeline import BatchReport, DeliveryPipeline
from core_domain.use_cases.dispatcher import Dispatcher
from core_domain.use_cases.get_attempts import GetAttempts
from core_domain.use_cases.get_dashboard import GetDashboard
from core_domain.use_cases.get_dispatcher_status import GetDispatcherStatus
from core_domain.use_cases.get_message import GetMessage
from core_domain.use_cases.get_oldest_due_age import GetOldestDueAge
from core_domain.use_cases.get_queue_depth import GetQueueDepth
from core_domain.use_cases.get_scheduler_status import GetSchedulerStatus
from core_domain.use_cases.get_send_gate import GetSendGate
from core_domain.use_cases.list_messages import ListMessages
from core_domain.use_cases.prune_expired import PruneExpired, Retention
from core_domain.use_cases.set_scheduler_state import SetSchedulerState
from messaging import metrics, models


@dataclass(frozen=True)
class UseCases:
    create_message: CreateMessage
    create_messages: CreateMessages
    get_message: GetMessage
    get_attempts: GetAttempts
    list_messages: ListMessages
    requeue_message: ChangeMessage
    cancel_message: ChangeMessage
    change_messages: ChangeMessages
    set_scheduler_state: SetSchedulerState
    close_circuit: CloseCircuit
    send_gate: GetSendGate
    dashboard: GetDashboard
    queue_depth: GetQueueDepth
    oldest_due_age: GetOldestDueAge
    scheduler_status: GetSchedulerStatus
    dispatcher_status: GetDispatcherStatus


def message_repository(
    *, reconnect_delays: tuple[float, ...] = (), prepare: bool = False
) -> DjangoMessageRepository:
    return DjangoMessageRepository(
        messages=models.Message,
        attempts=models.DeliveryAttempt,
        idempotency_keys=models.IdempotencyKey,
        status_counts=models.StatusCount,
        daily_counts=models.DailyCount,
        send_gate=models.SendGateState,
        reconnect_delays=reconnect_delays,
        prepare=prepare,
    )


def send_gate() -> DjangoSendGate:
    """The fleet's send rate, pause and circuit (WEBHOOK_RATE_LIMIT, WEBHOOK_CIRCUIT_*)."""
    conf = settings.DISPATCHER
    return DjangoSendGate(
        state=models.SendGateState,
        rate=conf["webhook_rate_limit"],
        policy=CircuitPolicy(
            failures=conf["webhook_circuit_failures"], cooldown=conf["webhook_circuit_cooldown"]
        ),
        probe_timeout=conf["webhook_lease"],  # a probe not back within its lease is given out again
    )


def _control() -> DjangoSchedulerControl:
    return DjangoSchedulerControl(
        state=models.SchedulerState,
        workers=models.Worker,
        initially_running=settings.DISPATCHER["scheduler_enabled"],
    )


@functools.cache
def use_cases() -> UseCases:
    """Built once per process; tests that change settings call `use_cases.cache_clear()`."""
    conf = settings.DISPATCHER
    clock, repository, control = DatabaseClock(), message_repository(), _control()
    gate = send_gate()
    stats = DjangoDeliveryStats(
        minutes=models.DeliveryMinute, latencies=models.LatencyMinute, messages=models.Message
    )
    max_length = conf["content_max_length"]
    interval = conf["scheduler_interval"]
    return UseCases(
        create_message=CreateMessage(
            repository=repository,
            clock=clock,
            content_max_length=max_length,
            key_ttl=conf["idempotency_key_ttl"],
        ),
        create_messages=CreateMessages(
            repository=repository, clock=clock, content_max_length=max_length
        ),
        get_message=GetMessage(repository=repository),
        get_attempts=GetAttempts(repository=repository),
        list_messages=ListMessages(repository=repository),
        requeue_message=ChangeMessage(repository=repository, action=OperatorAction.REQUEUE),
        cancel_message=ChangeMessage(repository=repository, action=OperatorAction.CANCEL),
        change_messages=ChangeMessages(repository=repository),
        set_scheduler_state=SetSchedulerState(control=control),
        close_circuit=CloseCircuit(gate=gate),
        send_gate=GetSendGate(gate=gate),
        dashboard=GetDashboard(
            stats=stats,
            repository=repository,
            gate=gate,
            control=control,
            clock=clock,
            interval=interval,
            rate_limit=conf["webhook_rate_limit"],
        ),  # fmt: skip
        queue_depth=GetQueueDepth(repository=repository),
        oldest_due_age=GetOldestDueAge(stats=stats),
        scheduler_status=GetSchedulerStatus(
            control=control,
            repository=repository,
            gate=gate,
            clock=clock,
            interval=interval,
            batch_size=conf["scheduler_batch_size"],
            rate_limit=conf["webhook_rate_limit"],
        ),
        dispatcher_status=GetDispatcherStatus(
            repository=repository, control=control, clock=clock, interval=interval
        ),
    )


_dispatchers: dict[tuple[int, int], Dispatcher] = {}
_dispatchers_lock = threading.Lock()
API_BATCH_MAX = 100  # POST /messaging/process?batch_size=1..100


def api_dispatcher() -> Dispatcher:
    """The dispatcher `POST /messaging/process` runs its batches through: built once per
    process, with the configured concurrency and no wake-ups (it never waits for work)."""
    concurrency = settings.DISPATCHER["scheduler_concurrency"]
    key = (concurrency, API_BATCH_MAX)
    with _dispatchers_lock:
        if key not in _dispatchers:
            _dispatchers[key] = build_dispatcher(
                concurrency=concurrency, batch_size=API_BATCH_MAX, wakeups=False
            )
        return _dispatchers[key]


def close_dispatchers() -> None:
    """Stop the cached dispatchers' threads and close their connections (tests that change
    settings call it)."""
    with _dispatchers_lock:
        built = list(_dispatchers.values())
        _dispatchers.clear()
    for dispatcher in built:
        dispatcher.close()


def build_dispatcher(
    *,
    concurrency: int,
    batch_size: int,
    wakeups: bool = True,
    on_progress: Callable[[BatchReport], None] = metrics.record_batch,
) -> Dispatcher:
    """A Dispatcher on the real adapters; the caller closes it."""
    conf = settings.DISPATCHER
    sender = HttpWebhookSender.from_conf(conf, version=conf["version"], pool_size=concurrency)
    # A dispatcher has a session of its own and keeps its statements prepared; the API's
    # dispatcher may sit behind a transaction-mode pooler.
    repository = message_repository(reconnect_delays=OUTAGE_DELAYS, prepare=wakeups)
    receipts = ReceiptWriter(cache=DjangoRedisReceiptCache(ttl=conf["receipt_ttl"]))
    pipeline = DeliveryPipeline(
        repository=repository,
        sender=sender,
        receipts=receipts,
        policy=RetryPolicy(
            max_retries=conf["webhook_max_retries"],
            backoff_base=conf["webhook_backoff_base"],
            backoff_max=conf["webhook_backoff_max"],
        ),
        lease=conf["webhook_lease"],
        concurrency=concurrency,
    )
    return Dispatcher(
        pipeline=pipeline,
        repository=repository,
        control=_control(),
        receipts=receipts,
        wakeups=PostgresWakeUps(connect=_listen_connection) if wakeups else None,
        batch_size=batch_size,
        gate=send_gate(),
        on_progress=on_progress,
    )


def prune_expired() -> PruneExpired:
    """Retention as configured (MESSAGE_RETENTION, IDEMPOTENCY_KEY_TTL)."""
    conf = settings.DISPATCHER
    store = DjangoRetentionStore(
        messages=models.Message, attempts=models.DeliveryAttempt,
        idempotency_keys=models.IdempotencyKey,
        minute_tables=(models.DeliveryMinute, models.LatencyMinute),
    )  # fmt: skip
    return PruneExpired(
        store=store,
        control=_control(),
        retention=Retention(
            messages=conf["message_retention"], idempotency_keys=conf["idempotency_key_ttl"]
        ),
    )


def _listen_connection() -> psycopg.Connection:
    """A session connection of its own for LISTEN, with the settings' connection parameters."""
    params = connection.get_connection_params()
    for key in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(key, None)
    return psycopg.connect(**params, autocommit=True)
