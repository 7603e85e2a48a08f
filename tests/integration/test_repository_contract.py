"""One suite, two repositories: the in-memory fake and the Django one on PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from adapters.django_retention import DjangoRetentionStore
from core_domain.delivery import AttemptOutcome, CallResult, Finalization
from core_domain.errors import MessageNotFoundError
from core_domain.judge import judge
from core_domain.message import Message, Status
from core_domain.operator_changes import OperatorAction, Selection
from core_domain.ports import MessageFilter
from core_domain.retry import RetryPolicy
from messaging import models
from tests.fakes import T0, InMemoryMessageRepository, InMemoryRetentionStore, a_message

LEASE = timedelta(seconds=65)
SHORT = timedelta(milliseconds=200)  # a lease a test lets run out
POLICY = RetryPolicy(max_retries=3, backoff_base=timedelta(seconds=2), jitter=0)
pytestmark = pytest.mark.django_db(transaction=True)  # SKIP LOCKED needs committed rows


@pytest.fixture(params=["in-memory", "postgresql"])
def repository(request):
    if request.param == "in-memory":
        return InMemoryMessageRepository()
    return request.getfixturevalue("django_repository")


def stored(repository, *messages: Message) -> list[Message]:
    repository.add(list(messages))
    return list(messages)


def test_a_stored_message_reads_back_equal(repository) -> None:
    (message,) = stored(repository, a_message(content="Merhaba dünya 😀"))
    assert repository.get(message.id) == message


def test_an_unknown_id_is_not_found(repository) -> None:
    with pytest.raises(MessageNotFoundError):
        repository.get(uuid.uuid4())
    with pytest.raises(MessageNotFoundError):
        repository.attempts(uuid.uuid4())


def test_list_is_newest_first_then_by_id_with_total(repository) -> None:
    twins = [a_message(created_at=T0 + timedelta(seconds=1)) for _ in range(3)]
    older = a_message()
    stored(repository, older, *twins)
    page = repository.list(filters=MessageFilter(), limit=3, offset=0, before=None)
    assert [m.id for m in page.items] == sorted((m.id for m in twins), reverse=True)
    assert page.total == 4
    rest = repository.list(filters=MessageFilter(), limit=3, offset=3, before=None)
    assert [m.id for m in rest.items] == [older.id]
    assert rest.total == 4
    beyond = repository.list(filters=MessageFilter(), limit=3, offset=10, before=None)
    assert (beyond.items, beyond.total) == ([], 4)


def test_list_filters_by_status_and_phone(repository) -> None:
    stored(
        repository,
        a_message(status=Status.FAILED),
        a_message(phone_number="+15550000000"),
        a_message(),
    )
    failed = repository.list(
        filters=MessageFilter(status=Status.FAILED), limit=10, offset=0, before=None
    )
    by_phone = repository.list(
        filters=MessageFilter(phone_number="+15550000000"), limit=10, offset=0, before=None
    )
    assert [m.status for m in failed.items] == [Status.FAILED] and failed.total == 1
    assert [m.phone_number for m in by_phone.items] == ["+15550000000"]
    assert by_phone.total == 1


def test_keyset_pages_walk_everything_once_in_order(repository) -> None:
    twins = [a_message(created_at=T0 + timedelta(seconds=1)) for _ in range(4)]
    stored(repository, *twins, *(a_message(created_at=T0 - timedelta(seconds=s)) for s in range(3)))
    walked, cursor = [], None
    while True:
        page = repository.list(filters=MessageFilter(), limit=3, offset=0, before=cursor)
        walked += [m.id for m in page.items]
        assert page.total == 7
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    everything = repository.list(filters=MessageFilter(), limit=10, offset=0, before=None)
    assert walked == [m.id for m in everything.items] and len(walked) == 7


def test_idempotent_add_stores_once_and_returns_the_first(repository) -> None:
    first, second = a_message(), a_message()
    one = repository.add_idempotent(first, key="k", fingerprint="f1", ttl=None)
    two = repository.add_idempotent(second, key="k", fingerprint="f2", ttl=None)
    assert one.is_new and not two.is_new
    assert (two.message, two.fingerprint) == (first, "f1")
    assert repository.list(filters=MessageFilter(), limit=10, offset=0, before=None).total == 1


def test_operator_changes_apply_to_their_status_only_in_batches_newest_first(repository) -> None:
    now = now_of(repository)
    failed = [
        a_message(status=Status.FAILED, retry_count=3, last_error=f"HTTP 50{n}",
                  created_at=now - timedelta(minutes=n))
        for n in range(5)
    ]  # fmt: skip
    pending = a_message(next_attempt_at=now)
    stored(repository, *failed, pending, a_message(status=Status.SENT))
    selection = Selection(last_error_contains="http 50")
    first = repository.change_batch(action=OperatorAction.REQUEUE, selection=selection,
                                    dry_run=True, after=None, limit=3)  # fmt: skip
    assert (first.matched, first.changed) == (3, 0) and first.next is not None
    assert repository.get(failed[0].id).status is Status.FAILED
    first = repository.change_batch(action=OperatorAction.REQUEUE, selection=selection,
                                    dry_run=False, after=None, limit=3)  # fmt: skip
    rest = repository.change_batch(action=OperatorAction.REQUEUE, selection=selection,
                                   dry_run=False, after=first.next, limit=3)  # fmt: skip
    assert (first.changed, rest.changed, rest.next) == (3, 2, None)
    for message in failed:
        back = repository.get(message.id)
        assert (back.status, back.retry_count, back.last_error) == (Status.PENDING, 0, None)
        assert back.next_attempt_at == back.updated_at and abs(back.updated_at - now) < LEASE
    cancel = repository.change_batch(action=OperatorAction.CANCEL,
                                     selection=Selection(ids=(pending.id, failed[0].id)),
                                     dry_run=False, after=None, limit=10)  # fmt: skip
    assert (cancel.matched, cancel.changed) == (2, 2)  # both PENDING by now
    assert repository.get(pending.id).last_error == "Cancelled by an operator"
    assert repository.count_by_status()[Status.FAILED] == 2


def now_of(repository) -> datetime:
    """The repository's clock: the fake's FixedClock, or (same host) PostgreSQL's."""
    if isinstance(repository, InMemoryMessageRepository):
        return repository.clock.now()
    return datetime.now(UTC)


def after_the_lease(repository, claim: Callable[[], list[Message]]) -> list[Message]:
    """Let a SHORT lease run out (the fake's clock moves; PostgreSQL's is waited for, with a
    deadline) and return the first claim that gets something."""
    if isinstance(repository, InMemoryMessageRepository):
        repository.clock.advance(SHORT + timedelta(milliseconds=1))
        return claim()
    deadline = time.monotonic() + 5
    while not (claimed := claim()):
        assert time.monotonic() < deadline, "the lease did not run out within 5 s"
        time.sleep(0.01)
    return claimed


def delivered(message: Message, external_id: str = "ext-1") -> Finalization:
    outcome = CallResult(
        duration=timedelta(milliseconds=12), status_code=202, external_id=external_id
    )
    return judge(message, outcome=outcome, policy=POLICY, started_ago=timedelta(seconds=1))


def answered_500(message: Message) -> Finalization:
    outcome = CallResult(duration=timedelta(milliseconds=12), status_code=500)
    return judge(message, outcome=outcome, policy=POLICY, started_ago=timedelta(seconds=1))


def test_claim_takes_due_messages_oldest_due_first_up_to_the_limit(repository) -> None:
    now = now_of(repository)
    due = [a_message(next_attempt_at=now - timedelta(seconds=s)) for s in (10, 30, 20)]
    future = a_message(next_attempt_at=now + timedelta(hours=1))
    done = a_message(status=Status.SENT)
    stored(repository, *due, future, done)
    claimed = repository.claim_batch(worker_id="w1", limit=2, lease=LEASE)
    assert {m.id for m in claimed} == {due[1].id, due[2].id}
    assert len({m.claim_token for m in claimed}) == 1 and claimed[0].claim_token is not None
    for message in claimed:
        assert repository.get(message.id) == message
        assert (message.status, message.locked_by) == (Status.SENDING, "w1")
        assert message.lease_expires_at == message.next_attempt_at == message.updated_at + LEASE
        assert abs(message.updated_at - now) < timedelta(seconds=5)
    (last,) = repository.claim_batch(worker_id="w2", limit=5, lease=LEASE)
    assert (last.id, last.locked_by) == (due[0].id, "w2")
    assert last.claim_token != claimed[0].claim_token


def test_a_live_lease_is_not_claimed_but_an_expired_one_is(repository) -> None:
    stored(repository, a_message(next_attempt_at=now_of(repository)))
    (first,) = repository.claim_batch(worker_id="w1", limit=1, lease=SHORT)
    assert repository.claim_batch(worker_id="w2", limit=1, lease=LEASE) == []
    (again,) = after_the_lease(
        repository, lambda: repository.claim_batch(worker_id="w2", limit=1, lease=LEASE)
    )
    assert (again.id, again.locked_by) == (first.id, "w2")
    assert again.claim_token != first.claim_token


def test_finalize_writes_under_the_claim_token_on_the_repository_clock(repository) -> None:
    now = now_of(repository)
    stored(repository, a_message(next_attempt_at=now), a_message(next_attempt_at=now))
    first, second = repository.claim_batch(worker_id="w1", limit=2, lease=LEASE)
    written = repository.finalize([delivered(first), answered_500(second)])
    assert set(written) == {first.id, second.id} and written[second.id] is None
    sent, retried = repository.get(first.id), repository.get(second.id)
    assert (sent.status, sent.external_id) == (Status.SENT, "ext-1")
    assert sent.sent_at == written[first.id]
    assert abs(sent.sent_at - now) < timedelta(seconds=5) and sent.lease_expires_at is None
    assert (retried.status, retried.retry_count, retried.last_error) == (
        Status.PENDING, 1, "HTTP 500",
    )  # fmt: skip
    assert retried.next_attempt_at == retried.updated_at + POLICY.backoff_base
    [attempt] = repository.attempts(first.id)
    assert (attempt.attempt_number, attempt.outcome, attempt.duration_ms) == (
        1, AttemptOutcome.DELIVERED, 12,
    )  # fmt: skip
    assert attempt.started_at == sent.updated_at - timedelta(seconds=1)
    assert repository.finalize([delivered(first)]) == {}  # a repeat writes nothing


def test_a_worker_that_lost_its_claim_cannot_overwrite_the_new_result(repository) -> None:
    stored(repository, a_message(next_attempt_at=now_of(repository)))
    (old,) = repository.claim_batch(worker_id="same-worker", limit=1, lease=SHORT)
    (new,) = after_the_lease(
        repository, lambda: repository.claim_batch(worker_id="same-worker", limit=1, lease=LEASE)
    )
    assert repository.finalize([delivered(new, "from-new")]).keys() == {new.id}
    assert repository.finalize([answered_500(old)]) == {}
    assert repository.release([old]) == 0
    assert repository.get(old.id).external_id == "from-new"
    assert len(repository.attempts(old.id)) == 1


def test_release_hands_claimed_messages_back_due_now(repository) -> None:
    now = now_of(repository)
    stored(repository, a_message(next_attempt_at=now), a_message(next_attempt_at=now))
    claimed = repository.claim_batch(worker_id="w1", limit=2, lease=LEASE)
    assert repository.release(claimed) == 2
    for message in claimed:
        back = repository.get(message.id)
        assert (back.status, back.retry_count, back.lease_expires_at) == (Status.PENDING, 0, None)
        assert back.next_attempt_at == back.updated_at
    assert repository.release(claimed) == 0


def test_next_due_in_is_the_wait_for_the_earliest_pending_or_leased_message(repository) -> None:
    assert repository.next_due_in() is None
    now = now_of(repository)
    stored(repository, a_message(status=Status.SENT, next_attempt_at=now - timedelta(hours=1)))
    assert repository.next_due_in() is None
    stored(repository, a_message(next_attempt_at=now + timedelta(minutes=10)))
    assert timedelta(minutes=9) < repository.next_due_in() <= timedelta(minutes=10)
    stored(repository, a_message(next_attempt_at=now - timedelta(minutes=1)))
    assert repository.next_due_in() == timedelta(0)


def test_counts_by_status_and_messages_finished_today(repository) -> None:
    now = now_of(repository)
    stored(
        repository,
        a_message(next_attempt_at=now),
        a_message(status=Status.SENT, sent_at=now),
        a_message(status=Status.SENT, sent_at=now - timedelta(days=1)),
        a_message(status=Status.FAILED, updated_at=now),
    )
    counts = repository.count_by_status()
    assert counts == {Status.PENDING: 1, Status.SENDING: 0, Status.SENT: 2, Status.FAILED: 1}
    today = now.astimezone(UTC).date()
    assert repository.count_finished_on(today) == (2, 1)  # stored finished: they became so today
    (claimed,) = repository.claim_batch(worker_id="w1", limit=1, lease=LEASE)
    assert repository.count_by_status()[Status.SENDING] == 1
    repository.finalize([delivered(claimed)])
    assert repository.count_finished_on(today) == (3, 1)
    assert repository.count_finished_on(today - timedelta(days=1)) == (0, 0)
    assert repository.count_by_status() == {
        Status.PENDING: 0, Status.SENDING: 0, Status.SENT: 3, Status.FAILED: 1,
    }  # fmt: skip


# -- retention ---------------------------------------------------------------------------------


@pytest.fixture
def retention(repository):
    if isinstance(repository, InMemoryMessageRepository):
        return InMemoryRetentionStore(repository)
    return DjangoRetentionStore(
        messages=models.Message, attempts=models.DeliveryAttempt,
        idempotency_keys=models.IdempotencyKey,
    )  # fmt: skip


def once_older_than(repository, span: timedelta, check: Callable[[], object]):
    """`check()` once `span` has passed on the repository's clock (the fake's moves; for
    PostgreSQL's the test waits, within a deadline)."""
    if isinstance(repository, InMemoryMessageRepository):
        repository.clock.advance(span + timedelta(milliseconds=1))
        return check()
    deadline = time.monotonic() + 5
    while not (found := check()):
        assert time.monotonic() < deadline, f"nothing became older than {span} within 5 s"
        time.sleep(0.01)
    return found


def test_retention_removes_old_finished_messages_with_their_attempts_only(
    repository, retention
) -> None:
    now = now_of(repository)
    pending, sending = a_message(next_attempt_at=now), a_message(next_attempt_at=now)
    stored(repository, pending, sending)
    (claimed,) = repository.claim_batch(worker_id="w1", limit=1, lease=LEASE)
    (other,) = stored(repository, a_message(next_attempt_at=now + timedelta(hours=1)))
    repository.finalize([delivered(claimed)])  # sent, with one attempt
    stored(repository, a_message(status=Status.FAILED, updated_at=now - timedelta(hours=2)))
    assert retention.count_finished(older_than=timedelta(hours=1)) == (1, 0)
    assert once_older_than(
        repository, SHORT, lambda: retention.count_finished(older_than=SHORT) == (2, 1)
    )
    assert retention.delete_finished(older_than=SHORT, limit=1) == (1, 0)  # oldest first
    assert retention.delete_finished(older_than=SHORT, limit=10) == (1, 1)
    assert retention.delete_finished(older_than=SHORT, limit=10) == (0, 0)
    with pytest.raises(MessageNotFoundError):
        repository.get(claimed.id)
    left = {m.id for m in repository.list(filters=MessageFilter(), limit=10, offset=0,
                                           before=None).items}  # fmt: skip
    assert left == {pending.id, other.id} or left == {sending.id, other.id}
    assert sum(repository.count_by_status().values()) == 2


def test_retention_removes_old_idempotency_keys_and_the_key_is_free_again(
    repository, retention
) -> None:
    first = repository.add_idempotent(a_message(), key="k", fingerprint="f", ttl=SHORT)
    assert retention.count_keys(older_than=timedelta(hours=1)) == 0

    def a_new_message_for_the_key():
        stored = repository.add_idempotent(a_message(), key="k", fingerprint="f", ttl=SHORT)
        return stored if stored.is_new else None  # within the TTL: the first message

    again = once_older_than(repository, SHORT, a_new_message_for_the_key)
    assert again.message.id != first.message.id
    assert once_older_than(repository, SHORT, lambda: retention.count_keys(older_than=SHORT))
    assert retention.delete_keys(older_than=SHORT, limit=10) == 1
    assert repository.add_idempotent(a_message(), key="k", fingerprint="f", ttl=None).is_new


def test_only_one_process_at_a_time_may_prune(repository, retention) -> None:
    with retention.exclusive() as first:
        assert first
    with retention.exclusive() as again:
        assert again  # released when the first context ended
