"""The composition root: the only place that builds adapters and hands them to use cases."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.conf import settings

from adapters.clock import SystemClock
from adapters.django_repository import DjangoMessageRepository
from core_domain.use_cases.create_message import CreateMessage
from core_domain.use_cases.create_messages import CreateMessages
from core_domain.use_cases.get_message import GetAttempts, GetMessage
from core_domain.use_cases.list_messages import ListMessages
from core_domain.use_cases.requeue_message import CancelMessage, RequeueMessage
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


@functools.cache
def use_cases() -> UseCases:
    """Built once per process; tests that change settings call `use_cases.cache_clear()`."""
    conf = settings.DISPATCHER
    clock = SystemClock()
    repository = DjangoMessageRepository(
        messages=models.Message,
        attempts=models.DeliveryAttempt,
        idempotency_keys=models.IdempotencyKey,
    )
    max_length = conf["content_max_length"]
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
    )
