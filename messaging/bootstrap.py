"""The composition root: the only place that builds adapters and hands them to use cases."""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

from django.conf import settings

from adapters.clock import SystemClock
from adapters.django_repository import DjangoMessageRepository
from adapters.django_scheduler import DjangoSchedulerControl
from adapters.receipt_cache import DjangoRedisReceiptCache
from adapters.webhook_client import HttpWebhookSender
from core_domain.retry import RetryPolicy
from core_domain.use_cases.create_message import CreateMessage
from core_domain.use_cases.create_messages import CreateMessages
from core_domain.use_cases.dispatch_batch import DispatchBatch
from core_domain.use_cases.dispatcher_status import GetDispatcherStatus
from core_domain.use_cases.get_message import GetAttempts, GetMessage
from core_domain.use_cases.list_messages import ListMessages
from core_domain.use_cases.requeue_message import CancelMessage, RequeueMessage
from core_domain.use_cases.run_dispatcher_tick import RunDispatcherTick
from core_domain.use_cases.scheduler import GetSchedulerStatus, SetSchedulerState
from messaging import models


@dataclass(frozen=True)
class UseCases:
    create_message: CreateMessage
    create_messages: CreateMessages
    get_message: GetMessage
    get_attempts: GetAttempts
    list_messages: ListMessages
    requeue_message: RequeueMessage
    cancel_message: CancelMessage
    set_scheduler_state: SetSchedulerState
    scheduler_status: GetSchedulerStatus
    dispatcher_status: GetDispatcherStatus


# How long a dispatcher keeps trying to write a finished batch across a lost database
# connection (about 16 s, longer than a PostgreSQL restart); the API answers 503 at once.
DISPATCH_RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0)


def _repository(*, reconnect_delays: tuple[float, ...] = ()) -> DjangoMessageRepository:
    return DjangoMessageRepository(
        messages=models.Message,
        attempts=models.DeliveryAttempt,
        idempotency_keys=models.IdempotencyKey,
        reconnect_delays=reconnect_delays,
    )


def _control() -> DjangoSchedulerControl:
    return DjangoSchedulerControl(
        state=models.SchedulerState,
        workers=models.Worker,
        initially_running=settings.DISPATCHER["scheduler"]["enabled"],
    )


@functools.cache
def use_cases() -> UseCases:
    """Built once per process; tests that change settings call `use_cases.cache_clear()`."""
    conf = settings.DISPATCHER
    clock, repository, control = SystemClock(), _repository(), _control()
    max_length = conf["content_max_length"]
    interval = conf["scheduler"]["interval"]
    return UseCases(
        create_message=CreateMessage(
            repository=repository, clock=clock, content_max_length=max_length
        ),
        create_messages=CreateMessages(
            repository=repository, clock=clock, content_max_length=max_length
        ),
        get_message=GetMessage(repository=repository),
        get_attempts=GetAttempts(repository=repository),
        list_messages=ListMessages(repository=repository),
        requeue_message=RequeueMessage(repository=repository, clock=clock),
        cancel_message=CancelMessage(repository=repository, clock=clock),
        set_scheduler_state=SetSchedulerState(control=control),
        scheduler_status=GetSchedulerStatus(
            control=control,
            clock=clock,
            interval=interval,
            batch_size=conf["scheduler"]["batch_size"],
        ),
        dispatcher_status=GetDispatcherStatus(
            repository=repository, control=control, clock=clock, interval=interval
        ),
    )


_pipelines: dict[int, tuple[DispatchBatch, HttpWebhookSender]] = {}
_pipelines_lock = threading.Lock()


def dispatch_batch(*, concurrency: int) -> DispatchBatch:
    """The delivery pipeline with `concurrency` parallel webhook calls, built once per process
    and concurrency; `close_dispatch_batches()` ends them (tests that change settings)."""
    with _pipelines_lock:
        if concurrency not in _pipelines:
            _pipelines[concurrency] = _build_dispatch_batch(concurrency)
        return _pipelines[concurrency][0]


def close_dispatch_batches() -> None:
    """Stop the pipelines' send threads and close their webhook connections."""
    with _pipelines_lock:
        built = list(_pipelines.values())
        _pipelines.clear()
    for batch, sender in built:
        batch.close()
        sender.close()


def _build_dispatch_batch(concurrency: int) -> tuple[DispatchBatch, HttpWebhookSender]:
    conf = settings.DISPATCHER
    sender = HttpWebhookSender.from_conf(
        conf["webhook"], version=conf["version"], pool_size=concurrency
    )
    batch = DispatchBatch(
        repository=_repository(reconnect_delays=DISPATCH_RECONNECT_DELAYS),
        sender=sender,
        receipts=DjangoRedisReceiptCache(ttl=conf["receipt_ttl"]),
        clock=SystemClock(),
        policy=RetryPolicy(**conf["retry"]),
        lease=conf["lease"],
        concurrency=concurrency,
    )
    return batch, sender


def dispatcher_tick(*, concurrency: int) -> RunDispatcherTick:
    return RunDispatcherTick(
        dispatch=dispatch_batch(concurrency=concurrency), control=_control(), clock=SystemClock()
    )
