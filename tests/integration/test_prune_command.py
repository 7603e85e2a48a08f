"""`manage.py prune`: what it removes, what --dry-run reports, and that it keeps work in flight."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from core_domain.message import Status
from messaging import models
from messaging.bootstrap import message_repository
from tests.fakes import a_message

pytestmark = pytest.mark.django_db(transaction=True)


def prune(*args: str) -> str:
    out = StringIO()
    call_command("prune", *args, stdout=out)
    return out.getvalue().strip()


def test_prune_removes_finished_messages_past_retention_and_dry_run_only_counts() -> None:
    old = datetime.now(UTC) - timedelta(days=31)
    repository = message_repository()
    repository.add(
        [a_message(status=Status.SENT, created_at=old, updated_at=old) for _ in range(3)]
        + [a_message(status=Status.PENDING, created_at=old, updated_at=old, next_attempt_at=old)]
        + [a_message(status=Status.FAILED, updated_at=datetime.now(UTC))]  # finished now: kept
    )
    assert prune("--dry-run") == (
        "prune: would remove messages 3, attempts 0, idempotency keys 0, workers 0"
    )
    assert models.Message.objects.count() == 5
    assert prune() == "prune: removed messages 3, attempts 0, idempotency keys 0, workers 0"
    statuses = sorted(models.Message.objects.values_list("status", flat=True))
    assert statuses == ["FAILED", "PENDING"]
    assert repository.count_by_status()[Status.SENT] == 0
