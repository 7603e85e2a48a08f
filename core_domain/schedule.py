"""When a message may be sent: not before `sendAt`, never after `expiresAt` (SPEC §10)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core_domain.errors import DomainValidationError

MAX_AHEAD = timedelta(days=365)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A client's schedule for one message; both ends optional."""

    send_at: datetime | None = None
    expires_at: datetime | None = None

    @classmethod
    def parse(
        cls, *, send_at: datetime | None, expires_at: datetime | None, now: datetime
    ) -> Schedule:
        """Raises DomainValidationError (field sendAt or expiresAt): expiresAt must come after
        sendAt and after now, and neither may be more than a year ahead."""
        send_at, expires_at = _utc(send_at), _utc(expires_at)
        problems: dict[str, list[str]] = {}
        if send_at is not None and send_at > now + MAX_AHEAD:
            problems["sendAt"] = ["sendAt must be at most a year ahead"]
        if expires_at is not None:
            if expires_at <= now:
                problems["expiresAt"] = ["expiresAt must be in the future"]
            elif send_at is not None and expires_at <= send_at:
                problems["expiresAt"] = ["expiresAt must be after sendAt"]
            elif expires_at > now + MAX_AHEAD:
                problems["expiresAt"] = ["expiresAt must be at most a year ahead"]
        if problems:
            field, messages = next(iter(problems.items()))
            raise DomainValidationError(messages[0], field=field, errors=problems)
        return cls(send_at=send_at, expires_at=expires_at)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
