"""DRF serializers: request shapes in, domain objects out, camelCase on the wire."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core_domain.message import Message, Status
from core_domain.operator_changes import MAX_IDS
from core_domain.values import PAGE_CURSOR_PATTERN

# The domain's rules (core_domain.values) as JSON Schema, for the OpenAPI document: clients and
# the API fuzzer learn exactly what is accepted. The domain still judges every request.
_SEPARATORS = r"[\s()-]*"
# 10-15 characters once separators are removed: an optional '+', then digits not starting with 0.
PHONE_PATTERN = (
    rf"^{_SEPARATORS}(?:\+{_SEPARATORS}[1-9](?:{_SEPARATORS}[0-9]){{8,13}}"
    rf"|[1-9](?:{_SEPARATORS}[0-9]){{9,14}}){_SEPARATORS}$"
)
PHONE_MAX_LENGTH = 64
PHONE_SCHEMA = {"type": "string", "pattern": PHONE_PATTERN, "maxLength": PHONE_MAX_LENGTH}


@extend_schema_field(PHONE_SCHEMA)
class PhoneNumberField(serializers.CharField):
    """A phone number as sent; the domain normalises and judges it."""


_CONTROL = r"\x00-\x09\x0b-\x1f\x7f-\x9f"  # every control character but a newline
CONTENT_GUARD_LENGTH = 10_000


def content_pattern(max_length: int) -> str:
    """Content as the domain judges it: once surrounding whitespace is trimmed, 1 to
    `max_length` characters, no control character but a newline. The limit is part of the
    pattern because JSON Schema's maxLength would count the whitespace that is trimmed."""
    edge = rf"[^\s{_CONTROL}]"
    text = edge if max_length == 1 else rf"{edge}(?:[^{_CONTROL}]{{0,{max_length - 2}}}{edge})?"
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
        max_length=PHONE_MAX_LENGTH,
        help_text="E.164 phone number; spaces, '-', '(' and ')' are removed.",
    )
    content = StrictCharField(
        allow_blank=True,
        trim_whitespace=False,
        max_length=CONTENT_GUARD_LENGTH,  # the domain's own limit is far lower
        help_text="Message text: trimmed, not blank, at most 160 characters (configurable).",
    )
    sendAt = serializers.DateTimeField(  # noqa: N815
        source="send_at",
        required=False,
        allow_null=True,
        help_text="ISO 8601; not sent before then (at most a year ahead).",
    )
    expiresAt = serializers.DateTimeField(  # noqa: N815
        source="expires_at",
        required=False,
        allow_null=True,
        help_text="ISO 8601, after sendAt and now, at most a year ahead; never sent after "
        'then: it ends FAILED, "expired before delivery".',
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
            "content": {"type": "string", "pattern": content, "maxLength": CONTENT_GUARD_LENGTH},
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
    status = serializers.ChoiceField(choices=["PENDING", "SENDING", "SENT", "FAILED"])
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
        is_final = message.status in (Status.SENT, Status.FAILED)  # nothing more is attempted
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
            "nextAttemptAt": None if is_final else _iso(message.next_attempt_at),
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
    outcome = serializers.ChoiceField(choices=["delivered", "retry_scheduled", "failed"])
    error = serializers.CharField(allow_null=True)
    responseExcerpt = serializers.CharField(source="response_excerpt")  # noqa: N815


STATUS_PATTERN = (
    r"^(?:[Pp][Ee][Nn][Dd][Ii][Nn][Gg]|[Ss][Ee][Nn][Dd][Ii][Nn][Gg]|[Ss][Ee][Nn][Tt]"
    r"|[Ff][Aa][Ii][Ll][Ee][Dd])\Z"
)  # any case, without regex flags so every engine reads it; the document shows `\Z` as `$`
MAX_OFFSET = 2**63 - 1  # PostgreSQL's bigint: a larger OFFSET is a database error


class QueryParametersSerializer(serializers.Serializer):
    """Query parameters: an empty value (`?status=`) is an error, not a parameter left out."""

    def validate(self, attrs):
        empty = [name for name in self.fields if self.initial_data.get(name) == ""]
        if empty:
            raise serializers.ValidationError({name: ["Must not be empty."] for name in empty})
        return attrs


class MessageListQuerySerializer(QueryParametersSerializer):
    limit = serializers.IntegerField(
        required=False, default=20, min_value=1, max_value=100, help_text="1-100, default 20"
    )
    offset = serializers.IntegerField(
        required=False, default=0, min_value=0, max_value=MAX_OFFSET, help_text="0 or more"
    )
    status = serializers.RegexField(
        STATUS_PATTERN,
        required=False,
        trim_whitespace=False,
        error_messages={"invalid": "status must be one of PENDING, SENDING, SENT or FAILED"},
        help_text="PENDING, SENDING, SENT or FAILED (any case)",
    )
    phoneNumber = PhoneNumberField(  # noqa: N815
        required=False, max_length=PHONE_MAX_LENGTH, help_text="exact phone number"
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


class ProcessingResultSerializer(serializers.Serializer):
    processedCount = serializers.IntegerField()  # noqa: N815
    successCount = serializers.IntegerField()  # noqa: N815
    failedCount = serializers.IntegerField()  # noqa: N815
    retryScheduledCount = serializers.IntegerField()  # noqa: N815
    errors = serializers.ListField(child=serializers.CharField())


class ProcessingStatusSerializer(serializers.Serializer):
    isProcessing = serializers.BooleanField()  # noqa: N815
    lastProcessedAt = serializers.DateTimeField(allow_null=True)  # noqa: N815
    pendingCount = serializers.IntegerField()  # noqa: N815
    sendingCount = serializers.IntegerField()  # noqa: N815
    sentCount = serializers.IntegerField()  # noqa: N815
    failedCount = serializers.IntegerField()  # noqa: N815
    processedToday = serializers.IntegerField()  # noqa: N815
    failedToday = serializers.IntegerField()  # noqa: N815
    nextProcessingAt = serializers.DateTimeField(allow_null=True)  # noqa: N815


class SchedulerActionSerializer(serializers.Serializer):
    message = serializers.CharField()
    status = serializers.ChoiceField(choices=["started", "stopped"])


class CircuitActionSerializer(serializers.Serializer):
    message = serializers.CharField()
    status = serializers.ChoiceField(choices=["closed"])


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


def _any_case(word: str) -> str:
    """A JSON Schema pattern for `word` in any case (JSON Schema regexes have no flags)."""
    return "^" + "".join(f"[{c.upper()}{c.lower()}]" for c in word) + "$"


class ChangeFilterSerializer(QueryParametersSerializer):
    """The body of a bulk requeue or cancel: every condition given must hold."""

    applies_to = "FAILED"  # the only status the action changes (subclasses say which)
    phoneNumber = PhoneNumberField(  # noqa: N815
        required=False, max_length=PHONE_MAX_LENGTH, help_text="exact phone number"
    )
    createdAfter = serializers.DateTimeField(required=False)  # noqa: N815
    createdBefore = serializers.DateTimeField(required=False)  # noqa: N815
    lastErrorContains = StrictCharField(  # noqa: N815
        required=False, max_length=200, help_text="a part of lastError, in any case"
    )
    ids = serializers.ListField(
        child=StrictUUIDField(), required=False, min_length=1, max_length=MAX_IDS,
        help_text=f"at most {MAX_IDS} message ids",
    )  # fmt: skip
    dryRun = StrictBooleanField(  # noqa: N815
        required=False, default=False, help_text="count what would change, change nothing"
    )

    def get_fields(self):
        fields = super().get_fields()
        fields["status"] = serializers.RegexField(
            _any_case(self.applies_to), required=False, trim_whitespace=False,
            error_messages={"invalid": f"this action applies to {self.applies_to} messages only"},
            help_text=f"{self.applies_to}, in any case: the only status this action changes",
        )  # fmt: skip
        return fields


class RequeueFilterSerializer(ChangeFilterSerializer):
    applies_to = "FAILED"


class CancelFilterSerializer(ChangeFilterSerializer):
    applies_to = "PENDING"


class ChangeReportSerializer(serializers.Serializer):
    matched = serializers.IntegerField(help_text="messages the action applied to")
    changed = serializers.IntegerField(help_text="messages changed (0 on a dry run)")


class WorkerSerializer(serializers.Serializer):
    id = serializers.CharField()
    host = serializers.CharField()
    pid = serializers.IntegerField()
    startedAt = serializers.DateTimeField()  # noqa: N815
    lastHeartbeat = serializers.DateTimeField()  # noqa: N815
    alive = serializers.BooleanField()
    processed = serializers.IntegerField()


class CircuitSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=["closed", "open", "half_open"])
    reason = serializers.CharField(allow_null=True, help_text="why it opened")
    since = serializers.DateTimeField(allow_null=True, help_text="when it last changed state")
    nextProbeAt = serializers.DateTimeField(allow_null=True)  # noqa: N815
    consecutiveFailures = serializers.IntegerField()  # noqa: N815


class RateLimitSerializer(serializers.Serializer):
    limit = serializers.CharField(allow_null=True, help_text="WEBHOOK_RATE_LIMIT; null: none")
    pausedUntil = serializers.DateTimeField(  # noqa: N815
        allow_null=True, help_text="sending waits until then: the receiver's Retry-After"
    )


class SchedulerStatusSerializer(serializers.Serializer):
    isRunning = serializers.BooleanField()  # noqa: N815
    isCurrentlyProcessing = serializers.BooleanField()  # noqa: N815
    totalProcessed = serializers.IntegerField()  # noqa: N815
    totalSuccessful = serializers.IntegerField()  # noqa: N815
    totalFailed = serializers.IntegerField()  # noqa: N815
    lastProcessingTime = serializers.DateTimeField(allow_null=True)  # noqa: N815
    nextProcessingIn = serializers.CharField(allow_null=True)  # noqa: N815
    interval = serializers.CharField()
    batchSize = serializers.IntegerField()  # noqa: N815
    workers = WorkerSerializer(many=True)
    circuit = CircuitSerializer()
    rateLimit = RateLimitSerializer()  # noqa: N815
