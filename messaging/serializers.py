"""DRF serializers of messages, query parameters and errors: request shapes in, domain objects
out, camelCase on the wire. The shared strict fields live here too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core_domain.delivery import AttemptOutcome
from core_domain.message import EXPIRED_ERROR, Message, Status
from core_domain.schedule import MAX_AHEAD
from core_domain.use_cases.list_messages import DEFAULT_LIMIT, MAX_LIMIT
from core_domain.values import (
    CONTENT_AS_SENT_MAX_LENGTH,
    CONTROL_CHARACTERS,
    DEFAULT_CONTENT_MAX_LENGTH,
    PAGE_CURSOR_PATTERN,
    PHONE_AS_SENT_MAX_LENGTH,
    PHONE_AS_SENT_PATTERN,
)

# The domain's rules as JSON Schema, for the OpenAPI document: clients and the API fuzzer learn
# exactly what is accepted. The domain still judges every request.
PHONE_SCHEMA = {
    "type": "string",
    "pattern": PHONE_AS_SENT_PATTERN,
    "maxLength": PHONE_AS_SENT_MAX_LENGTH,
}


@extend_schema_field(PHONE_SCHEMA)
class PhoneNumberField(serializers.CharField):
    """A phone number as sent; the domain normalises and judges it."""


def content_pattern(max_length: int) -> str:
    """Content as the domain judges it: once surrounding whitespace is trimmed, 1 to
    `max_length` characters, no control character but a newline. The limit is part of the
    pattern because JSON Schema's maxLength would count the whitespace that is trimmed."""
    edge = rf"[^\s{CONTROL_CHARACTERS}]"
    text = (
        edge
        if max_length == 1
        else rf"{edge}(?:[^{CONTROL_CHARACTERS}]{{0,{max_length - 2}}}{edge})?"
    )
    return rf"^\s*{text}\s*$"


class StrictCharField(serializers.CharField):
    """A JSON string only: DRF's CharField would quietly turn a number into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class MessageCreateSerializer(serializers.Serializer):
    """Shape only; the domain's value objects judge the phone number and the content."""

    phoneNumber = StrictCharField(  # noqa: N815 - the wire name
        source="phone_number",
        allow_blank=True,
        trim_whitespace=False,
        max_length=PHONE_AS_SENT_MAX_LENGTH,
        help_text="E.164 phone number; spaces, '-', '(' and ')' are removed.",
    )
    content = StrictCharField(
        allow_blank=True,
        trim_whitespace=False,
        max_length=CONTENT_AS_SENT_MAX_LENGTH,  # the domain's own limit is far lower
        help_text="Message text: trimmed, not blank, at most "
        f"{DEFAULT_CONTENT_MAX_LENGTH} characters (configurable).",
    )
    sendAt = serializers.DateTimeField(  # noqa: N815
        source="send_at",
        required=False,
        allow_null=True,
        help_text=f"ISO 8601; not sent before then (at most {MAX_AHEAD.days} days ahead).",
    )
    expiresAt = serializers.DateTimeField(  # noqa: N815
        source="expires_at",
        required=False,
        allow_null=True,
        help_text=f"ISO 8601, after sendAt and now, at most {MAX_AHEAD.days} days ahead; never "
        f'sent after then: it ends FAILED, "{EXPIRED_ERROR}".',
    )


class MessageCreateSchema(OpenApiSerializerExtension):
    """Documents what the domain accepts, not the looser shape check above.

    Blank text passes the shape check only so that the domain words the error; it is never
    accepted. The content limit is configurable, so it is read when the document is generated.
    """

    target_class = MessageCreateSerializer

    def map_serializer(self, auto_schema, direction):
        schema = super().map_serializer(auto_schema, direction)
        content = content_pattern(settings.DISPATCHER["content_max_length"])
        rules = {
            "phoneNumber": PHONE_SCHEMA,
            "content": {
                "type": "string",
                "pattern": content,
                "maxLength": CONTENT_AS_SENT_MAX_LENGTH,
            },
        }
        for name, rule in rules.items():  # keeps the descriptions, drops the blank alternative
            schema["properties"][name] = {
                "description": schema["properties"][name]["description"],
                **rule,
            }
        return schema


class MessageSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    phoneNumber = serializers.CharField(source="phone_number")  # noqa: N815
    content = serializers.CharField()
    status = serializers.ChoiceField(choices=[status.value for status in Status])
    externalId = serializers.CharField(source="external_id", allow_null=True)  # noqa: N815
    retryCount = serializers.IntegerField(source="retry_count")  # noqa: N815
    lastError = serializers.CharField(source="last_error", allow_null=True)  # noqa: N815
    createdAt = serializers.DateTimeField(source="created_at")  # noqa: N815
    updatedAt = serializers.DateTimeField(source="updated_at")  # noqa: N815
    sentAt = serializers.DateTimeField(source="sent_at", allow_null=True)  # noqa: N815
    nextAttemptAt = serializers.DateTimeField(source="next_attempt_at", allow_null=True)  # noqa: N815
    sendAt = serializers.DateTimeField(source="send_at", allow_null=True)  # noqa: N815
    expiresAt = serializers.DateTimeField(source="expires_at", allow_null=True)  # noqa: N815

    def to_representation(self, message: Message) -> dict[str, Any]:
        """Written out directly: the same JSON as the fields above, at a fraction of the cost
        of DRF's field-by-field path (it matters for pages and bulk answers)."""
        return {
            "id": str(message.id),
            "phoneNumber": message.phone_number,
            "content": message.content,
            "status": message.status.value,
            "externalId": message.external_id,
            "retryCount": message.retry_count,
            "lastError": message.last_error,
            "createdAt": _iso(message.created_at),
            "updatedAt": _iso(message.updated_at),
            "sentAt": _iso(message.sent_at),
            "nextAttemptAt": _iso(message.next_attempt),
            "sendAt": _iso(message.send_at),
            "expiresAt": _iso(message.expires_at),
        }


def _iso(moment: datetime | None) -> str | None:
    """As DRF's DateTimeField writes it with USE_TZ and UTC: ISO 8601 with a Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class AttemptSerializer(serializers.Serializer):
    attemptNumber = serializers.IntegerField(source="attempt_number")  # noqa: N815
    startedAt = serializers.DateTimeField(source="started_at")  # noqa: N815
    durationMs = serializers.IntegerField(source="duration_ms")  # noqa: N815
    statusCode = serializers.IntegerField(source="status_code", allow_null=True)  # noqa: N815
    outcome = serializers.ChoiceField(choices=[outcome.value for outcome in AttemptOutcome])
    error = serializers.CharField(allow_null=True)
    responseExcerpt = serializers.CharField(source="response_excerpt")  # noqa: N815


def _letters_any_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" for c in word)


def any_case(word: str) -> str:
    """A JSON Schema pattern for `word` in any case (JSON Schema regexes have no flags)."""
    return f"^{_letters_any_case(word)}$"


STATUS_NAMES = [status.value for status in Status]
# Without regex flags so every engine reads it; `\Z` keeps "SENT\n" out (the document shows `$`).
STATUS_PATTERN = rf"^(?:{'|'.join(_letters_any_case(name) for name in STATUS_NAMES)})\Z"
MAX_OFFSET = 2**63 - 1  # PostgreSQL's bigint: a larger OFFSET is a database error


def _one_of(names: list[str]) -> str:
    return f"{', '.join(names[:-1])} or {names[-1]}"


class QueryParametersSerializer(serializers.Serializer):
    """Query parameters: an empty value (`?status=`) is an error, not a parameter left out."""

    def validate(self, attrs):
        empty = [name for name in self.fields if self.initial_data.get(name) == ""]
        if empty:
            raise serializers.ValidationError({name: ["Must not be empty."] for name in empty})
        return attrs


class MessageListQuerySerializer(QueryParametersSerializer):
    limit = serializers.IntegerField(
        required=False,
        default=DEFAULT_LIMIT,
        min_value=1,
        max_value=MAX_LIMIT,
        help_text=f"1-{MAX_LIMIT}, default {DEFAULT_LIMIT}",
    )
    offset = serializers.IntegerField(
        required=False, default=0, min_value=0, max_value=MAX_OFFSET, help_text="0 or more"
    )
    status = serializers.RegexField(
        STATUS_PATTERN,
        required=False,
        trim_whitespace=False,
        error_messages={"invalid": f"status must be one of {_one_of(STATUS_NAMES)}"},
        help_text=f"{_one_of(STATUS_NAMES)} (any case)",
    )
    phoneNumber = PhoneNumberField(  # noqa: N815
        required=False, max_length=PHONE_AS_SENT_MAX_LENGTH, help_text="exact phone number"
    )
    before = serializers.RegexField(
        PAGE_CURSOR_PATTERN,
        required=False,
        trim_whitespace=False,
        error_messages={"invalid": "before must be a cursor taken from a Link header"},
        help_text="keyset cursor `<createdAt in µs>,<id>` from the previous page's Link "
        "header: the messages after it (offset then counts from it); for walking everything",
    )


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="HTTP reason phrase")
    message = serializers.CharField(help_text="what went wrong, for a person")
    details = serializers.DictField(
        help_text="field (or bulk item index) → list of messages; {} when there are none"
    )


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    uptime = serializers.CharField()
    version = serializers.CharField()


class ReadinessSerializer(serializers.Serializer):
    status = serializers.CharField()
    checks = serializers.DictField(child=serializers.CharField())


class UnreadySerializer(ErrorSerializer, ReadinessSerializer):
    """503 from readiness: the error body, `details` naming each failing check."""


class StrictBooleanField(serializers.BooleanField):
    """A JSON true or false only: DRF's BooleanField would also take 1, "yes" or "on"."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictUUIDField(serializers.UUIDField):
    """A UUID written as a JSON string only: DRF's UUIDField would also turn 0 (or false) into
    a UUID."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)
