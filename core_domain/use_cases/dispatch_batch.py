"""Dispatch one batch: claim, send concurrently, finalize in one step, cache the receipts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

from core_domain.delivery import AttemptOutcome, DeliveryAttempt, DeliveryOutcome
from core_domain.errors import ReceiptCacheError
from core_domain.message import Message
from core_domain.ports import Clock, Finalization, MessageRepository, ReceiptCache, WebhookSender
from core_domain.retry import Decision, RetryPolicy

logger = logging.getLogger(__name__)
EXCERPT_CHARS = 1024


@dataclass(slots=True)
class DeliveryCounts:
    """Counters of dispatch work; `lost` counts results dropped because the lease moved on."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    lost: int = 0
    released: int = 0
    receipt_errors: int = 0

    @property
    def processed(self) -> int:
        return self.sent + self.retried + self.failed

    def add(self, other: DeliveryCounts) -> None:
        for counter in fields(DeliveryCounts):
            setattr(self, counter.name, getattr(self, counter.name) + getattr(other, counter.name))


@dataclass(slots=True)
class BatchReport(DeliveryCounts):
    """What one batch did, with the failures' errors and the results written."""

    errors: list[str] = field(default_factory=list)
    finalized: list[Finalization] = field(default_factory=list)


class DispatchBatch:
    """Deliver up to `batch_size` due messages as `worker_id`.

    Claim and finalize are one short repository step each; no step is open while the
    webhook is called. Sends run on a pool of `concurrency` threads. When `should_stop`
    turns true no new send starts; claimed messages that were not sent are released
    (PENDING, due now). A receipt-cache failure is logged and counted, never fatal.
    """

    def __init__(
        self,
        *,
        repository: MessageRepository,
        sender: WebhookSender,
        receipts: ReceiptCache,
        clock: Clock,
        policy: RetryPolicy,
        lease: timedelta,
        concurrency: int = 8,
    ) -> None:
        self._repository = repository
        self._sender = sender
        self._receipts = receipts
        self._clock = clock
        self._policy = policy
        self._lease = lease
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="send")

    def execute(
        self, *, worker_id: str, batch_size: int, should_stop: Callable[[], bool] = lambda: False
    ) -> BatchReport:
        claimed = self._repository.claim_batch(
            worker_id=worker_id, limit=batch_size, now=self._clock.now(), lease=self._lease
        )
        report = BatchReport(claimed=len(claimed))
        if not claimed:
            return report
        outcomes = list(self._pool.map(lambda m: self._send(m, should_stop), claimed))
        results = [self._judge(m, o) for m, o in zip(claimed, outcomes, strict=True) if o]
        written = self._repository.finalize(results)
        unsent = [m for m, o in zip(claimed, outcomes, strict=True) if o is None]
        report.released = self._repository.release(unsent, now=self._clock.now())
        for result in results:
            self._count(report, result, is_written=result.message.id in written)
        self._cache_receipts(report)
        return report

    def close(self) -> None:
        """Stop the send threads once the sends in progress are done."""
        self._pool.shutdown(wait=True)

    def _send(self, message: Message, should_stop: Callable[[], bool]) -> DeliveryOutcome | None:
        if should_stop():
            return None
        try:
            return self._sender.send(message)
        except Exception as exc:  # noqa: BLE001 - a sender bug must not lose the message
            logger.exception(
                "Message %s: webhook sender raised",
                message.id,
                extra={"message_id": str(message.id)},
            )
            return DeliveryOutcome(duration=timedelta(0), error=f"internal error: {exc!r}")

    def _judge(self, message: Message, outcome: DeliveryOutcome) -> Finalization:
        now = self._clock.now()
        decision = self._policy.decide(outcome=outcome, retries_so_far=message.retry_count, now=now)
        updated = _apply(message, decision, outcome=outcome, now=now)
        attempt = DeliveryAttempt(
            message_id=message.id,
            attempt_number=updated.attempt_count,
            started_at=now - outcome.duration,
            duration_ms=max(0, round(outcome.duration.total_seconds() * 1000)),
            status_code=outcome.status_code,
            outcome=decision.outcome,
            error=decision.error,
            response_excerpt=outcome.response_excerpt[:EXCERPT_CHARS],
        )
        return Finalization(message=updated, attempt=attempt)

    def _count(self, report: BatchReport, result: Finalization, *, is_written: bool) -> None:
        message, outcome = result.message, result.attempt.outcome
        log_extra = {"message_id": str(message.id), "outcome": outcome.value}
        if is_written:
            report.finalized.append(result)
        else:
            report.lost += 1
            logger.warning("Message %s: lease lost, result dropped", message.id, extra=log_extra)
            return
        if outcome is AttemptOutcome.DELIVERED:
            report.sent += 1
        elif outcome is AttemptOutcome.RETRY_SCHEDULED:
            report.retried += 1
            logger.info(
                "Message %s: retry at %s after %s",
                message.id,
                message.next_attempt_at.isoformat(),
                message.last_error,
                extra=log_extra,
            )
        else:
            report.failed += 1
            report.errors.append(f"{message.id}: {message.last_error}")
            logger.warning(
                "Message %s: FAILED, %s", message.id, message.last_error, extra=log_extra
            )

    def _cache_receipts(self, report: BatchReport) -> None:
        receipts = {
            r.message.id: r.message.sent_at
            for r in report.finalized
            if r.attempt.outcome is AttemptOutcome.DELIVERED and r.message.sent_at is not None
        }
        if not receipts:
            return
        try:
            self._receipts.put_many(receipts)
        except ReceiptCacheError as exc:
            report.receipt_errors += len(receipts)
            logger.warning("%d receipts not cached: %s", len(receipts), exc)


def _apply(
    message: Message, decision: Decision, *, outcome: DeliveryOutcome, now: datetime
) -> Message:
    if decision.outcome is AttemptOutcome.DELIVERED:
        return message.sent(at=now, external_id=outcome.external_id)
    assert decision.error is not None
    if decision.outcome is AttemptOutcome.RETRY_SCHEDULED:
        assert decision.next_attempt_at is not None
        return message.retry_scheduled(
            at=now, next_attempt_at=decision.next_attempt_at, error=decision.error
        )
    return message.failed(at=now, error=decision.error)
