"""Create, bulk create, list, get, requeue and cancel against in-memory fakes."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from core_domain.errors import (
    BatchValidationError,
    DomainValidationError,
    IdempotencyConflictError,
    InvalidTransitionError,
    MessageNotFoundError,
)
from core_domain.message import Status
from core_domain.operator_changes import OperatorAction
from core_domain.use_cases.change_message import ChangeMessage
from core_domain.use_cases.change_messages import ChangeMessages
from core_domain.use_cases.create_message import CreateMessage
from core_domain.use_cases.create_messages import CreateMessages, NewMessage
from core_domain.use_cases.get_message import GetMessage
from core_domain.use_cases.list_messages import ListMessages
from tests.fakes import T0, FixedClock, InMemoryMessageRepository, a_message


@pytest.fixture
def repository() -> InMemoryMessageRepository:
    return InMemoryMessageRepository()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


def test_create_stores_a_normalised_pending_message_due_now(repository, clock) -> None:
    created = CreateMessage(repository=repository, clock=clock).execute(
        phone_number="+90 555 123-45-67", content="  Hello  "
    )
    stored = repository.messages[created.message.id]
    assert created.is_new
    assert (stored.phone_number, stored.content, stored.status) == (
        "+905551234567",
        "Hello",
        Status.PENDING,
    )
    assert stored.next_attempt_at == T0


def test_create_reports_every_invalid_field_at_once(repository, clock) -> None:
    with pytest.raises(DomainValidationError) as caught:
        CreateMessage(repository=repository, clock=clock).execute(phone_number="0", content=" ")
    assert set(caught.value.errors) == {"phoneNumber", "content"}
    assert repository.messages == {}


def test_a_repeated_idempotency_key_returns_the_first_message(repository, clock) -> None:
    create = CreateMessage(repository=repository, clock=clock)
    first = create.execute(phone_number="+905551234567", content="Hi", idempotency_key="k1")
    clock.advance(timedelta(seconds=5))
    again = create.execute(phone_number="+90 555 123 45 67", content="Hi ", idempotency_key="k1")
    assert first.is_new and not again.is_new
    assert again.message == first.message
    assert len(repository.messages) == 1


def test_a_reused_idempotency_key_with_another_body_conflicts(repository, clock) -> None:
    create = CreateMessage(repository=repository, clock=clock)
    create.execute(phone_number="+905551234567", content="Hi", idempotency_key="k1")
    with pytest.raises(IdempotencyConflictError, match="different request body"):
        create.execute(phone_number="+905551234567", content="Other", idempotency_key="k1")
    assert len(repository.messages) == 1


@pytest.mark.parametrize("key", ["", "   ", "x" * 256, "bad\nkey", "clé"])
def test_a_malformed_idempotency_key_is_rejected(repository, clock, key) -> None:
    with pytest.raises(DomainValidationError) as caught:
        CreateMessage(repository=repository, clock=clock).execute(
            phone_number="+905551234567", content="Hi", idempotency_key=key
        )
    assert caught.value.field == "Idempotency-Key"


def test_bulk_create_stores_all_messages(repository, clock) -> None:
    items = [NewMessage(phone_number=f"+9055512345{i:02d}", content=f"m{i}") for i in range(50)]
    created = CreateMessages(repository=repository, clock=clock).execute(items=items)
    assert len(created) == len(repository.messages) == 50


def test_bulk_create_is_all_or_nothing_and_names_bad_items_by_index(repository, clock) -> None:
    items = [
        NewMessage(phone_number="+905551234567", content="ok"),
        NewMessage(phone_number="+905551234567", content=""),
        NewMessage(phone_number="12", content="ok"),
    ]
    with pytest.raises(BatchValidationError) as caught:
        CreateMessages(repository=repository, clock=clock).execute(items=items)
    assert caught.value.errors.keys() == {1, 2}
    assert "content" in caught.value.errors[1]
    assert "phoneNumber" in caught.value.errors[2]
    assert repository.messages == {}


@pytest.mark.parametrize("size", [0, 1001])
def test_bulk_create_takes_1_to_1000_messages(repository, clock, size) -> None:
    items = [NewMessage(phone_number="+905551234567", content="x")] * size
    with pytest.raises(DomainValidationError, match="1 to 1000"):
        CreateMessages(repository=repository, clock=clock).execute(items=items)


def test_list_is_newest_first_with_total_and_paging() -> None:
    messages = [a_message(created_at=T0 + timedelta(seconds=i)) for i in range(5)]
    repository = InMemoryMessageRepository(*messages)
    page = ListMessages(repository=repository).execute(limit=2, offset=1)
    assert [m.created_at for m in page.items] == [
        T0 + timedelta(seconds=3),
        T0 + timedelta(seconds=2),
    ]
    assert page.total == 5


def test_list_filters_by_status_in_any_case_and_by_normalised_phone() -> None:
    repository = InMemoryMessageRepository(
        a_message(status=Status.FAILED),
        a_message(phone_number="+905550000000"),
        a_message(),
    )
    use_case = ListMessages(repository=repository)
    assert use_case.execute(status="failed").total == 1
    assert use_case.execute(phone_number="+90 555 000 00 00").total == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"offset": -1}, "offset"),
     ({"status": "DONE"}, "status"), ({"phone_number": "abc"}, "phoneNumber")],
)  # fmt: skip
def test_list_rejects_invalid_parameters(params, field) -> None:
    with pytest.raises(DomainValidationError) as caught:
        ListMessages(repository=InMemoryMessageRepository()).execute(**params)
    assert caught.value.field == field


def test_get_raises_not_found_for_an_unknown_id(repository) -> None:
    with pytest.raises(MessageNotFoundError):
        GetMessage(repository=repository).execute(message_id=uuid.uuid4())


def test_requeue_makes_a_failed_message_due_now_with_no_retries(clock) -> None:
    failed = a_message(status=Status.FAILED, retry_count=3, last_error="HTTP 500")
    repository = InMemoryMessageRepository(failed, clock=clock)
    clock.advance(timedelta(hours=1))
    requeue = ChangeMessage(repository=repository, action=OperatorAction.REQUEUE)
    requeued = requeue.execute(message_id=failed.id)
    assert repository.messages[failed.id] == requeued
    assert (requeued.status, requeued.retry_count, requeued.next_attempt_at) == (
        Status.PENDING, 0, clock.now(),
    )  # fmt: skip
    assert requeued.last_error is None


def test_requeue_of_a_message_that_is_not_failed_conflicts(clock) -> None:
    sent = a_message(status=Status.SENT)
    repository = InMemoryMessageRepository(sent)
    with pytest.raises(InvalidTransitionError):
        ChangeMessage(repository=repository, action=OperatorAction.REQUEUE).execute(
            message_id=sent.id
        )
    assert repository.messages[sent.id] == sent


def test_cancel_fails_a_pending_message_and_refuses_others(clock) -> None:
    pending, sent = a_message(), a_message(status=Status.SENT)
    repository = InMemoryMessageRepository(pending, sent)
    cancel = ChangeMessage(repository=repository, action=OperatorAction.CANCEL)
    assert cancel.execute(message_id=pending.id).status is Status.FAILED
    with pytest.raises(InvalidTransitionError):
        cancel.execute(message_id=sent.id)


def test_a_bulk_requeue_by_filter_changes_only_failed_matches_in_batches(monkeypatch) -> None:
    monkeypatch.setattr("core_domain.use_cases.change_messages.BATCH", 2)
    failed = [a_message(status=Status.FAILED, last_error=f"HTTP 50{n}") for n in range(5)]
    repository = InMemoryMessageRepository(*failed, a_message(), a_message(status=Status.SENT))
    change = ChangeMessages(repository=repository)
    dry = change.execute(action=OperatorAction.REQUEUE, last_error_contains="http 5", dry_run=True)
    assert (dry.matched, dry.changed) == (5, 0)
    assert all(repository.messages[m.id].status is Status.FAILED for m in failed)
    report = change.execute(action=OperatorAction.REQUEUE, last_error_contains="HTTP 50")
    assert (report.matched, report.changed) == (5, 5)
    assert {repository.messages[m.id].status for m in failed} == {Status.PENDING}
    assert change.execute(action=OperatorAction.CANCEL, status="pending").changed == 6


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"status": "SENT"}, "status"), ({"ids": []}, "ids"), ({"phone_number": "12"}, "phoneNumber")],
)
def test_a_bulk_change_refuses_a_bad_filter(fields, field) -> None:
    change = ChangeMessages(repository=InMemoryMessageRepository())
    with pytest.raises(DomainValidationError) as caught:
        change.execute(action=OperatorAction.REQUEUE, **fields)
    assert caught.value.field == field
