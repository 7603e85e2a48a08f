"""Retention: what PruneExpired removes, what it keeps, and when it stands aside."""

from __future__ import annotations

from datetime import timedelta

from core_domain.message import Status
from core_domain.ports import WorkerBeat
from core_domain.use_cases import prune_expired
from core_domain.use_cases.prune_expired import PruneExpired, Retention
from tests.fakes import (
    T0,
    InMemoryMessageRepository,
    InMemoryRetentionStore,
    InMemorySchedulerControl,
    a_message,
)

DAY = timedelta(days=1)
MONTH = Retention(messages=30 * DAY, idempotency_keys=DAY)


def setup(*messages, retention=MONTH, held=False):
    repository = InMemoryMessageRepository(*messages)
    repository.clock.advance(60 * DAY)
    store = InMemoryRetentionStore(repository, is_held=held)
    control = InMemorySchedulerControl(clock=repository.clock)
    prune = PruneExpired(store=store, control=control, retention=retention)
    return repository, control, prune


def test_old_finished_messages_go_and_pending_or_sending_ones_never_do() -> None:
    old = dict(updated_at=T0, created_at=T0)
    repository, _, prune = setup(
        a_message(status=Status.SENT, **old),
        a_message(status=Status.FAILED, **old),
        a_message(status=Status.PENDING, **old),
        a_message(status=Status.SENDING, locked_by="w", claim_token=1, **old),
        a_message(status=Status.SENT, updated_at=T0 + 59 * DAY),
    )
    report = prune.execute()
    assert (report.messages, report.is_skipped) == (2, False)
    assert sorted(m.status for m in repository.messages.values()) == [
        Status.PENDING, Status.SENDING, Status.SENT,
    ]  # fmt: skip


def test_a_dry_run_counts_and_removes_nothing() -> None:
    repository, _, prune = setup(a_message(status=Status.SENT), a_message(status=Status.SENT))
    assert prune.execute(dry_run=True).messages == 2
    assert len(repository.messages) == 2


def test_pruning_in_batches_removes_a_backlog_larger_than_one_batch(monkeypatch) -> None:
    monkeypatch.setattr(prune_expired, "BATCH", 3)
    repository, _, prune = setup(*(a_message(status=Status.FAILED) for _ in range(10)))
    assert prune.execute().messages == 10 and repository.messages == {}


def test_zero_retention_keeps_everything_but_silent_workers_still_go() -> None:
    repository, control, prune = setup(
        a_message(status=Status.SENT), retention=Retention(messages=None, idempotency_keys=None)
    )
    control.heartbeat(WorkerBeat(id="gone", host="h", pid=1))
    control.clock.advance(2 * DAY)
    report = prune.execute()
    assert (report.messages, report.workers, len(repository.messages)) == (0, 1, 1)


def test_when_another_process_prunes_this_one_skips() -> None:
    repository, _, prune = setup(a_message(status=Status.SENT), held=True)
    assert prune.execute().is_skipped and len(repository.messages) == 1


def test_old_idempotency_keys_go_and_a_repeat_then_creates_a_new_message() -> None:
    repository, _, prune = setup()
    message = a_message()
    repository.add_idempotent(message, key="order-1", fingerprint="f", ttl=DAY)
    repository.clock.advance(DAY + timedelta(seconds=1))
    again = repository.add_idempotent(a_message(), key="order-1", fingerprint="f", ttl=DAY)
    assert again.is_new and again.message.id != message.id
    repository.clock.advance(2 * DAY)
    assert prune.execute().idempotency_keys == 1 and repository.keys == {}
