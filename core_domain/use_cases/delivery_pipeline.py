"""The delivery pipeline: claimed messages go to a pool of send threads; results are written
in small groups as they come back, so a slow call never holds up the others (SPEC §9)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

from core_domain.delivery import AttemptOutcome, CallResult, Finalization
from core_domain.judge import judge
from core_domain.message import Message
from core_domain.ports import MessageRepository, WebhookSender
from core_domain.receipt_writer import ReceiptWriter
from core_domain.retry import RetryPolicy

logger = logging.getLogger(__name__)
MAX_GROUP = 500  # results written by one statement


@dataclass(slots=True)
class DeliveryCounts:
    """Counters of dispatch work; `lost` counts results dropped because the claim moved on."""

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


@dataclass(frozen=True, slots=True)
class Written:
    """A result that reached the database, with the times it needs for latency metrics."""

    result: Finalization
    created_at: datetime
    sent_at: datetime | None


@dataclass(slots=True)
class BatchReport(DeliveryCounts):
    """What a run of the pipeline did, with the failures' errors and the results written."""

    errors: list[str] = field(default_factory=list)
    finalized: list[Written] = field(default_factory=list)

    def add(self, other: DeliveryCounts) -> None:
        DeliveryCounts.add(self, other)
        if isinstance(other, BatchReport):
            self.errors.extend(other.errors)
            self.finalized.extend(other.finalized)


@dataclass(frozen=True, slots=True)
class Call:
    """A claimed message back from a send thread; `outcome` None: it was never sent."""

    message: Message
    started: float  # time.monotonic() when the call began
    outcome: CallResult | None


class DeliveryPipeline:
    """`concurrency` send threads fed with claimed messages; the owner claims and collects.

    One thread (the dispatcher's) calls `claim` and `collect`; the send threads only call the
    webhook. `in_flight` counts claimed messages whose result is not written yet, and a claim
    never takes more than `free` so every claimed message starts at once. Once `halt` is
    called, a send thread hands back the messages it has not started (they are released).
    """

    def __init__(
        self,
        *,
        repository: MessageRepository,
        sender: WebhookSender,
        receipts: ReceiptWriter,
        policy: RetryPolicy,
        lease: timedelta,
        concurrency: int,
    ) -> None:
        self._repository = repository
        self._sender = sender
        self._receipts = receipts
        self._policy = policy
        self._lease = lease
        self.concurrency = concurrency
        self.in_flight = 0
        self._work: queue.SimpleQueue[Message | None] = queue.SimpleQueue()
        self._results: queue.SimpleQueue[Call] = queue.SimpleQueue()
        self._halted = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def free(self) -> int:
        return self.concurrency - self.in_flight

    def claim(self, *, worker_id: str, limit: int, is_probe: bool = False) -> int:
        """Claim up to `limit` (at most `free`) due messages and start sending them."""
        self._start_threads()
        self._halted.clear()
        claimed = self._repository.claim_batch(
            worker_id=worker_id, limit=min(limit, self.free), lease=self._lease, is_probe=is_probe
        )
        self.in_flight += len(claimed)
        for message in claimed:
            self._work.put(message)
        return len(claimed)

    def collect(self, *, timeout: float) -> list[Call]:
        """Wait up to `timeout` seconds for a call to end; every call that has ended, with its
        slot freed (so the owner can claim again before writing them)."""
        try:
            calls = [self._results.get(timeout=max(0.0, timeout))]
        except queue.Empty:
            return []
        while len(calls) < MAX_GROUP:
            try:
                calls.append(self._results.get_nowait())
            except queue.Empty:
                break
        self.in_flight -= len(calls)
        return calls

    def write(self, calls: list[Call]) -> BatchReport:
        """Write the results of `calls` in one statement; release the ones never sent."""
        report = BatchReport()
        unsent = [c.message for c in calls if c.outcome is None]
        if unsent:
            report.released = self._repository.release(unsent)
        self._write([c for c in calls if c.outcome is not None], report)
        return report

    def halt(self) -> None:
        """No new send starts; messages not started yet come back unsent."""
        self._halted.set()

    def close(self) -> None:
        """Stop the send threads once their calls are done, then close the sender."""
        for _ in self._threads:
            self._work.put(None)
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        self._sender.close()

    def _start_threads(self) -> None:
        while len(self._threads) < self.concurrency:
            thread = threading.Thread(target=self._send_loop, name="send", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _send_loop(self) -> None:
        while (message := self._work.get()) is not None:
            started = time.monotonic()
            if self._halted.is_set():
                self._results.put(Call(message, started, None))
                continue
            self._results.put(Call(message, started, self._send(message)))

    def _send(self, message: Message) -> CallResult:
        started = time.monotonic()
        try:
            return self._sender.send(message)
        except Exception as exc:  # noqa: BLE001 - a sender bug must not lose the message
            logger.exception(
                "Message %s: webhook sender raised",
                message.id,
                extra={"message_id": str(message.id)},
            )
            return CallResult(
                duration=timedelta(seconds=time.monotonic() - started),
                error=f"internal error: {type(exc).__name__}",
            )

    def _write(self, calls: list[Call], report: BatchReport) -> None:
        if not calls:
            return
        now = time.monotonic()
        results = [
            judge(
                c.message,
                outcome=c.outcome,
                policy=self._policy,
                started_ago=timedelta(seconds=now - c.started),
            )
            for c in calls
            if c.outcome is not None
        ]
        written = self._repository.finalize(results)
        receipts = {}
        for call, result in zip(calls, results, strict=True):
            if result.message_id not in written:
                _count_lost(report, result)
                continue
            sent_at = written[result.message_id]
            report.finalized.append(Written(result, call.message.created_at, sent_at))
            _count(report, result)
            if sent_at is not None:
                receipts[result.message_id] = sent_at
        self._receipts.put(receipts)


def _count_lost(report: BatchReport, result: Finalization) -> None:
    report.lost += 1
    logger.warning(
        "Message %s: claim superseded, result dropped",
        result.message_id,
        extra={"message_id": str(result.message_id), "outcome": result.outcome.value},
    )


def _count(report: BatchReport, result: Finalization) -> None:
    extra = {"message_id": str(result.message_id), "outcome": result.outcome.value}
    if result.outcome is AttemptOutcome.DELIVERED:
        report.sent += 1
    elif result.outcome is AttemptOutcome.RETRY_SCHEDULED:
        report.retried += 1
        retry_in = result.retry_in.total_seconds() if result.retry_in else 0.0
        logger.info(
            "Message %s: retry in %.3gs after %s",
            result.message_id,
            retry_in,
            result.last_error,
            extra=extra,
        )
    else:
        report.failed += 1
        report.errors.append(f"{result.message_id}: {result.last_error}")
        logger.warning("Message %s: FAILED, %s", result.message_id, result.last_error, extra=extra)
