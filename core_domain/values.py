"""Value objects that carry a business rule: phone numbers, content, durations, page cursors."""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core_domain.errors import DomainValidationError
from core_domain.schedule import Schedule

PHONE_SEPARATORS = r"\s()-"  # removed from a phone number (a regex character class's body)
_PHONE_SEPARATORS = re.compile(rf"[{PHONE_SEPARATORS}]")
_E164 = re.compile(r"^\+?[1-9][0-9]{1,14}$")  # ASCII digits: \d also admits ٩ and ९
CONTROL_CHARACTERS = r"\x00-\x09\x0b-\x1f\x7f-\x9f"  # every one but a newline; a class body
_FORBIDDEN_CONTROL = re.compile(rf"[{CONTROL_CHARACTERS}]")
DEFAULT_CONTENT_MAX_LENGTH = 160
# The longest inputs read at all: anything longer is refused before it is parsed. Far above
# the rules themselves (15 characters once separators go; the configurable content limit).
PHONE_AS_SENT_MAX_LENGTH = 64
CONTENT_AS_SENT_MAX_LENGTH = 10_000
ERROR_FRAGMENT_MAX_LENGTH = 200  # a filter's part of lastError (SPEC §5 bulk requeue/cancel)


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A phone number in its stored form: separators removed, a leading `+` kept."""

    value: str

    MIN_LENGTH = 10
    MAX_LENGTH = 15

    @classmethod
    def parse(cls, raw: str, *, field: str = "phoneNumber") -> PhoneNumber:
        if not isinstance(raw, str) or not raw.strip():
            raise DomainValidationError("Phone number is required", field=field)
        normalised = _PHONE_SEPARATORS.sub("", raw)
        if not cls.MIN_LENGTH <= len(normalised) <= cls.MAX_LENGTH:
            raise DomainValidationError(
                f"Phone number must be {cls.MIN_LENGTH} to {cls.MAX_LENGTH} characters long "
                f"once spaces, '-', '(' and ')' are removed (got {len(normalised)})",
                field=field,
            )
        if not _E164.match(normalised):
            raise DomainValidationError(
                "Phone number must be digits with an optional leading '+', "
                "and must not start with 0 (E.164, e.g. +905551234567)",
                field=field,
            )
        return cls(normalised)

    def __str__(self) -> str:
        return self.value


def _phone_as_sent_pattern() -> str:
    """The PhoneNumber rule as one regex over the number as sent, separators and all, for
    JSON Schema: once they are removed, an optional '+' and digits not starting with 0,
    MIN_LENGTH to MAX_LENGTH characters in all."""
    sep = rf"[{PHONE_SEPARATORS}]*"
    low, high = PhoneNumber.MIN_LENGTH, PhoneNumber.MAX_LENGTH
    with_plus = rf"\+{sep}[1-9](?:{sep}[0-9]){{{low - 2},{high - 2}}}"
    without = rf"[1-9](?:{sep}[0-9]){{{low - 1},{high - 1}}}"
    return rf"^{sep}(?:{with_plus}|{without}){sep}$"


PHONE_AS_SENT_PATTERN = _phone_as_sent_pattern()


@dataclass(frozen=True, slots=True)
class Content:
    """Message text: trimmed, NFC-normalised, not blank, at most `max_length` characters."""

    value: str

    @classmethod
    def parse(
        cls, raw: str, *, max_length: int = DEFAULT_CONTENT_MAX_LENGTH, field: str = "content"
    ) -> Content:
        if not isinstance(raw, str):
            raise DomainValidationError("Content must be a string", field=field)
        text = unicodedata.normalize("NFC", raw).strip()
        if not text:
            raise DomainValidationError("Content must not be blank", field=field)
        if _FORBIDDEN_CONTROL.search(text):
            raise DomainValidationError(
                "Content must not contain control characters (a newline is allowed)", field=field
            )
        if len(text) > max_length:
            raise DomainValidationError(
                f"Content must be at most {max_length} characters (got {len(text)})", field=field
            )
        return cls(text)

    def __str__(self) -> str:
        return self.value


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> timedelta:
    """Parse `500ms`, `30s`, `2m`, `1h`, `30d` or a sequence like `1m30s`; raise ValueError
    otherwise."""
    compact = str(text).strip().lower()
    if not compact or _DURATION_PART.sub("", compact):
        raise ValueError(f"not a duration: {text!r}")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(compact))
    return timedelta(seconds=seconds)


def format_duration(span: timedelta) -> str:
    """The shortest of `500ms`, `30s`, `2m`, `1h`, `30d` that states `span` exactly."""
    ms = round(span.total_seconds() * 1000)
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def parse_message_fields(
    *,
    phone_number: str,
    content: str,
    content_max_length: int,
    send_at: datetime | None = None,
    expires_at: datetime | None = None,
    now: datetime,
) -> tuple[PhoneNumber, Content, Schedule]:
    """The fields of a new message, checked together.

    Raises one DomainValidationError whose `errors` lists every field that is wrong.
    """
    problems: dict[str, list[str]] = {}
    phone = text = schedule = None
    try:
        phone = PhoneNumber.parse(phone_number)
    except DomainValidationError as exc:
        problems[exc.field] = [exc.message]
    try:
        text = Content.parse(content, max_length=content_max_length)
    except DomainValidationError as exc:
        problems[exc.field] = [exc.message]
    try:
        schedule = Schedule.parse(send_at=send_at, expires_at=expires_at, now=now)
    except DomainValidationError as exc:
        problems.update(exc.errors)
    if phone is None or text is None or schedule is None:
        field, messages = next(iter(problems.items()))
        raise DomainValidationError(messages[0], field=field, errors=problems)
    return phone, text, schedule


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PAGE_CURSOR_PATTERN = (
    r"^[0-9]{1,16},[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_PAGE_CURSOR = re.compile(PAGE_CURSOR_PATTERN)


@dataclass(frozen=True, slots=True)
class PageCursor:
    """Where a keyset page ends: the last message's `createdAt` (microseconds since 1970, UTC)
    and `id`, written `<micros>,<uuid>`. The next page holds what sorts after it (older, then
    lower id)."""

    created_at: datetime
    message_id: uuid.UUID

    @classmethod
    def parse(cls, raw: str, *, field: str = "before") -> PageCursor:
        if not _PAGE_CURSOR.match(raw):
            raise DomainValidationError(
                f"{field} must be a cursor like 1764576000000000,<message id>: take it from "
                "the Link header of the previous page",
                field=field,
            )
        micros, identifier = raw.split(",")
        created_at = _EPOCH + timedelta(microseconds=int(micros))
        return cls(created_at=created_at, message_id=uuid.UUID(identifier))

    def __str__(self) -> str:
        micros = (self.created_at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros},{self.message_id}"
