"""`prune`: remove what has outlived its retention now, or (--dry-run) count it."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core_domain.errors import StorageUnavailableError
from messaging.bootstrap import prune_expired


class Command(BaseCommand):
    help = (
        "Remove SENT and FAILED messages (with their attempts) older than MESSAGE_RETENTION, "
        "idempotency keys older than IDEMPOTENCY_KEY_TTL and dispatcher rows silent for a day, "
        "in batches of 1,000; PENDING and SENDING messages are never removed. Dispatchers do "
        "this by themselves every minute; one process prunes at a time."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be removed, remove nothing"
        )

    def handle(self, *args, **options) -> None:
        try:
            report = prune_expired().execute(dry_run=options["dry_run"])
        except StorageUnavailableError as exc:
            raise CommandError(f"DATABASE_URL: {exc}") from None
        if report.is_skipped:
            raise CommandError("another process is pruning right now; try again shortly")
        verb = "would remove" if options["dry_run"] else "removed"
        self.stdout.write(f"prune: {verb} {report}")
