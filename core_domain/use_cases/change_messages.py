"""Operator actions in bulk: requeue FAILED messages or cancel PENDING ones, by a filter or ids."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core_domain.errors import DomainValidationError
from core_domain.message import MessageId
from core_domain.operator_changes import MAX_IDS, ChangeReport, OperatorAction, Selection
from core_domain.ports import MessageRepository
from core_domain.values import PhoneNumber

BATCH = 1000  # messages per statement: each one is short, however many match


class ChangeMessages:
    """Apply `action` to every message the filter selects that it applies to (FAILED for a
    requeue, PENDING for a cancel), a batch at a time, so no statement holds many rows for
    long. `dry_run` only counts. Raises DomainValidationError for a bad filter."""

    def __init__(self, *, repository: MessageRepository) -> None:
        self._repository = repository

    def execute(
        self,
        *,
        action: OperatorAction,
        status: str | None = None,
        phone_number: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        last_error_contains: str | None = None,
        ids: Sequence[MessageId] | None = None,
        dry_run: bool = False,
    ) -> ChangeReport:
        _check_status(action, status)
        if ids is not None and not 1 <= len(ids) <= MAX_IDS:
            raise DomainValidationError(f"ids holds 1 to {MAX_IDS} message ids", field="ids")
        selection = Selection(
            phone_number=PhoneNumber.parse(phone_number).value if phone_number else None,
            created_after=created_after,
            created_before=created_before,
            last_error_contains=last_error_contains or None,
            ids=tuple(ids) if ids is not None else None,
        )
        report, after = ChangeReport(), None
        while True:
            batch = self._repository.change_batch(
                action=action, selection=selection, dry_run=dry_run, after=after, limit=BATCH
            )
            report.matched += batch.matched
            report.changed += batch.changed
            if batch.next is None:
                return report
            after = batch.next


def _check_status(action: OperatorAction, status: str | None) -> None:
    if status is not None and status.strip().upper() != action.applies_to.value:
        raise DomainValidationError(
            f"{action.value} applies to {action.applies_to.value} messages only", field="status"
        )
