"""One suite, two repositories: the in-memory fake and the Django one on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from core_domain.delivery import AttemptOutcome, DeliveryAttempt
from core_domain.errors import MessageNotFoundError
from core_domain.message import Message, Status
from core_domain.ports import Finalization, MessageFilter
from tests.fakes import T0, InMemoryMessageRepository, a_message

LEASE = timedelta(seconds=65)
pytestmark = pytest.mark.django_db(transaction=True)  # SKIP LOCKED needs committed rows


@pytest.fixture(params=["in-memory", "postgresql"])
def repository(request):
    if request.param == "in-memory":
        return InMemoryMessageRepository()
    return request.getfixturevalue("django_repository")


def stored(repository, *messages: Message) -> list[Message]:
    repository.add(list(messages))
    return list(messages)


def an_attempt(message: Message, outcome: AttemptOutcome) -> DeliveryAttempt:
    return DeliveryAttempt(
        message_id=message.id,
        attempt_number=message.attempt_count,
        started_at=T0,
        duration_ms=12,
        status_code=202 if outcome is AttemptOutcome.DELIVERED else 500,
        outcome=outcome,
        error=None,
        response_excerpt='{"message":"Accepted"}',
    )


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
    page = repository.list(filters=MessageFilter(), limit=3, offset=0)
    assert [m.id for m in page.items] == sorted((m.id for m in twins), reverse=True)
    assert page.total == 4
    rest = repository.list(filters=MessageFilter(), limit=3, offset=3)
    assert [m.id for m in rest.items] == [older.id]
    assert rest.total == 4
    beyond = repository.list(filters=MessageFilter(), limit=3, offset=10)
    assert (beyond.items, beyond.total) == ([], 4)


def test_list_filters_by_status_and_phone(repository) -> None:
    stored(
        repository,
        a_message(status=Status.FAILED),
        a_message(phone_number="+15550000000"),
        a_message(),
    )
    failed = repository.list(filters=MessageFilter(status=Status.FAILED), limit=10, offset=0)
    by_phone = repository.list(
        filters=MessageFilter(phone_number="+15550000000"), limit=10, offset=0
    )
    assert [m.status for m in failed.items] == [Status.FAILED] and failed.total == 1
    assert [m.phone_number for m in by_phone.items] == ["+15550000000"]


def test_idempotent_add_stores_once_and_returns_the_first(repository) -> None:
    first, second = a_message(), a_message()
    one = repository.add_idempotent(first, key="k", fingerprint="f1")
    two = repository.add_idempotent(second, key="k", fingerprint="f2")
    assert one.is_new and not two.is_new
    assert (two.message, two.fingerprint) == (first, "f1")
    assert repository.list(filters=MessageFilter(), limit=10, offset=0).total == 1


def test_replace_is_a_compare_and_set_on_status(repository) -> None:
    (message,) = stored(repository, a_message(status=Status.FAILED))
    requeued = message.requeued(at=T0 + timedelta(minutes=1))
    assert repository.replace(requeued, expected_status=Status.FAILED)
    assert not repository.replace(requeued, expected_status=Status.FAILED)
    assert repository.get(message.id) == requeued


def test_claim_takes_due_messages_oldest_due_first_up_to_the_limit(repository) -> None:
    due = [a_message(next_attempt_at=T0 - timedelta(seconds=s)) for s in (1, 3, 2)]
    future = a_message(next_attempt_at=T0 + timedelta(seconds=1))
    done = a_message(status=Status.SENT)
    stored(repository, *due, future, done)
    claimed = repository.claim_batch(worker_id="w1", limit=2, now=T0, lease=LEASE)
    assert {m.id for m in claimed} == {due[1].id, due[2].id}
    for message in claimed:
        assert repository.get(message.id) == message
        assert (message.status, message.locked_by) == (Status.SENDING, "w1")
        assert message.lease_expires_at == T0 + LEASE
    assert repository.claim_batch(worker_id="w2", limit=5, now=T0, lease=LEASE) == [
        due[0].claimed(worker_id="w2", at=T0, lease=LEASE)
    ]


def test_a_live_lease_is_not_claimed_but_an_expired_one_is(repository) -> None:
    stored(repository, a_message())
    (first,) = repository.claim_batch(worker_id="w1", limit=1, now=T0, lease=LEASE)
    assert repository.claim_batch(worker_id="w2", limit=1, now=T0 + LEASE / 2, lease=LEASE) == []
    later = T0 + LEASE + timedelta(seconds=1)
    (again,) = repository.claim_batch(worker_id="w2", limit=1, now=later, lease=LEASE)
    assert (again.id, again.locked_by) == (first.id, "w2")


def test_finalize_writes_where_the_lease_is_held_and_records_the_attempt(repository) -> None:
    stored(repository, a_message(), a_message())
    claimed = repository.claim_batch(worker_id="w1", limit=2, now=T0, lease=LEASE)
    done = claimed[0].sent(at=T0 + timedelta(seconds=1), external_id="ext-1")
    retry = claimed[1].retry_scheduled(
        at=T0 + timedelta(seconds=1), next_attempt_at=T0 + timedelta(seconds=9), error="HTTP 500"
    )
    written = repository.finalize(
        [
            Finalization(done, an_attempt(done, AttemptOutcome.DELIVERED)),
            Finalization(retry, an_attempt(retry, AttemptOutcome.RETRY_SCHEDULED)),
        ]
    )
    assert written == {done.id, retry.id}
    assert repository.get(done.id).status is Status.SENT
    assert repository.get(done.id).external_id == "ext-1"
    assert repository.get(retry.id).retry_count == 1
    assert repository.get(retry.id).next_attempt_at == T0 + timedelta(seconds=9)
    assert [a.outcome for a in repository.attempts(done.id)] == [AttemptOutcome.DELIVERED]


def test_a_worker_that_lost_its_lease_cannot_overwrite_the_new_result(repository) -> None:
    stored(repository, a_message())
    (old,) = repository.claim_batch(worker_id="slow", limit=1, now=T0, lease=LEASE)
    later = T0 + LEASE + timedelta(seconds=1)
    (new,) = repository.claim_batch(worker_id="fast", limit=1, now=later, lease=LEASE)
    fast_result = new.sent(at=later, external_id="from-fast")
    assert repository.finalize(
        [Finalization(fast_result, an_attempt(fast_result, AttemptOutcome.DELIVERED))]
    ) == {new.id}
    slow_result = old.failed(at=later, error="HTTP 400")
    assert (
        repository.finalize(
            [Finalization(slow_result, an_attempt(slow_result, AttemptOutcome.FAILED))]
        )
        == set()
    )
    assert repository.get(old.id).external_id == "from-fast"
    assert len(repository.attempts(old.id)) == 1


def test_release_hands_claimed_messages_back_due_now(repository) -> None:
    stored(repository, a_message(), a_message())
    claimed = repository.claim_batch(worker_id="w1", limit=2, now=T0, lease=LEASE)
    later = T0 + timedelta(seconds=3)
    assert repository.release(claimed, now=later) == 2
    for message in claimed:
        back = repository.get(message.id)
        assert (back.status, back.next_attempt_at, back.retry_count) == (Status.PENDING, later, 0)
    assert repository.release(claimed, now=later) == 0


def test_counts_by_status_and_finished_since(repository) -> None:
    stored(
        repository,
        a_message(),
        a_message(status=Status.SENT, sent_at=T0),
        a_message(status=Status.SENT, sent_at=T0 - timedelta(days=1)),
        a_message(status=Status.FAILED, updated_at=T0),
    )
    counts = repository.count_by_status()
    assert counts == {Status.PENDING: 1, Status.SENDING: 0, Status.SENT: 2, Status.FAILED: 1}
    assert repository.count_finished_since(T0 - timedelta(hours=1)) == (1, 1)
