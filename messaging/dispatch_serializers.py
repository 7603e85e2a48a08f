"""DRF serializers of dispatching, the scheduler and the operator's filter-wide changes: the
views render their answers with them, so the document and the JSON cannot drift apart."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core_domain.message import Status
from core_domain.operator_changes import MAX_IDS
from core_domain.send_gate import CircuitState
from core_domain.values import (
    ERROR_FRAGMENT_MAX_LENGTH,
    PHONE_AS_SENT_MAX_LENGTH,
    format_duration,
)
from messaging.bootstrap import API_BATCH_MAX
from messaging.serializers import (
    PhoneNumberField,
    QueryParametersSerializer,
    StrictBooleanField,
    StrictCharField,
    StrictUUIDField,
    any_case,
)


@extend_schema_field(OpenApiTypes.STR)
class DurationTextField(serializers.Field):
    """A span written as configured durations are: `500ms`, `30s`, `2m`, `1h`."""

    def to_representation(self, value: timedelta) -> str:
        return format_duration(value)


class ProcessQuerySerializer(QueryParametersSerializer):
    batch_size = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=API_BATCH_MAX,  # what the API's dispatcher is built to claim at once
        help_text=f"1-{API_BATCH_MAX}, default the configured size",
    )


class ProcessingResultSerializer(serializers.Serializer):
    processedCount = serializers.IntegerField(source="processed")  # noqa: N815
    successCount = serializers.IntegerField(source="sent")  # noqa: N815
    failedCount = serializers.IntegerField(source="failed")  # noqa: N815
    retryScheduledCount = serializers.IntegerField(source="retried")  # noqa: N815
    errors = serializers.ListField(child=serializers.CharField())


class ProcessingStatusSerializer(serializers.Serializer):
    isProcessing = serializers.BooleanField(source="is_processing")  # noqa: N815
    lastProcessedAt = serializers.DateTimeField(source="last_processed_at", allow_null=True)  # noqa: N815
    pendingCount = serializers.IntegerField(source=f"counts.{Status.PENDING}")  # noqa: N815
    sendingCount = serializers.IntegerField(source=f"counts.{Status.SENDING}")  # noqa: N815
    sentCount = serializers.IntegerField(source=f"counts.{Status.SENT}")  # noqa: N815
    failedCount = serializers.IntegerField(source=f"counts.{Status.FAILED}")  # noqa: N815
    processedToday = serializers.IntegerField(source="processed_today")  # noqa: N815
    failedToday = serializers.IntegerField(source="failed_today")  # noqa: N815
    nextProcessingAt = serializers.DateTimeField(source="next_processing_at", allow_null=True)  # noqa: N815


class SchedulerActionSerializer(serializers.Serializer):
    message = serializers.CharField()
    status = serializers.ChoiceField(choices=["started", "stopped"])


class CircuitActionSerializer(serializers.Serializer):
    message = serializers.CharField()
    status = serializers.ChoiceField(choices=[CircuitState.CLOSED.value])


class ChangeFilterSerializer(QueryParametersSerializer):
    """The body of a bulk requeue or cancel: every condition given must hold."""

    applies_to = Status.FAILED  # the only status the action changes (subclasses say which)
    phoneNumber = PhoneNumberField(  # noqa: N815
        required=False, max_length=PHONE_AS_SENT_MAX_LENGTH, help_text="exact phone number"
    )
    createdAfter = serializers.DateTimeField(required=False)  # noqa: N815
    createdBefore = serializers.DateTimeField(required=False)  # noqa: N815
    lastErrorContains = StrictCharField(  # noqa: N815
        required=False,
        max_length=ERROR_FRAGMENT_MAX_LENGTH,
        help_text="a part of lastError, in any case",
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
        name = self.applies_to.value
        fields["status"] = serializers.RegexField(
            any_case(name), required=False, trim_whitespace=False,
            error_messages={"invalid": f"this action applies to {name} messages only"},
            help_text=f"{name}, in any case: the only status this action changes",
        )  # fmt: skip
        return fields


class RequeueFilterSerializer(ChangeFilterSerializer):
    applies_to = Status.FAILED


class CancelFilterSerializer(ChangeFilterSerializer):
    applies_to = Status.PENDING


class ChangeReportSerializer(serializers.Serializer):
    matched = serializers.IntegerField(help_text="messages the action applied to")
    changed = serializers.IntegerField(help_text="messages changed (0 on a dry run)")


class WorkerSerializer(serializers.Serializer):
    """One dispatcher process and its heartbeat."""

    id = serializers.CharField(source="worker.id")
    host = serializers.CharField(source="worker.host")
    pid = serializers.IntegerField(source="worker.pid")
    startedAt = serializers.DateTimeField(source="worker.started_at")  # noqa: N815
    lastHeartbeat = serializers.DateTimeField(source="worker.last_heartbeat")  # noqa: N815
    alive = serializers.BooleanField()
    processed = serializers.IntegerField(source="worker.processed")

    def to_representation(self, instance: Any) -> dict[str, Any]:
        worker, alive = instance  # the scheduler report pairs each WorkerStatus with it
        return super().to_representation({"worker": worker, "alive": alive})


class CircuitSerializer(serializers.Serializer):
    """The webhook's circuit breaker."""

    state = serializers.ChoiceField(choices=[state.value for state in CircuitState])
    reason = serializers.CharField(allow_null=True, help_text="why it opened")
    since = serializers.DateTimeField(allow_null=True, help_text="when it last changed state")
    nextProbeAt = serializers.DateTimeField(source="next_probe_at", allow_null=True)  # noqa: N815
    consecutiveFailures = serializers.IntegerField(source="failures")  # noqa: N815


class RateLimitSerializer(serializers.Serializer):
    """The fleet's send rate and the pause a receiver's Retry-After asked for."""

    limit = serializers.CharField(
        source="rate_limit", allow_null=True, help_text="WEBHOOK_RATE_LIMIT; null: none"
    )
    pausedUntil = serializers.DateTimeField(  # noqa: N815
        source="gate.paused_until",
        allow_null=True,
        help_text="sending waits until then: the receiver's Retry-After",
    )


class SchedulerStatusSerializer(serializers.Serializer):
    isRunning = serializers.BooleanField(source="is_running")  # noqa: N815
    isCurrentlyProcessing = serializers.BooleanField(source="is_currently_processing")  # noqa: N815
    totalProcessed = serializers.IntegerField(source="total_processed")  # noqa: N815
    totalSuccessful = serializers.IntegerField(source="total_successful")  # noqa: N815
    totalFailed = serializers.IntegerField(source="total_failed")  # noqa: N815
    lastProcessingTime = serializers.DateTimeField(  # noqa: N815
        source="last_processing_time", allow_null=True
    )
    nextProcessingIn = DurationTextField(source="next_processing_in", allow_null=True)  # noqa: N815
    interval = DurationTextField()
    batchSize = serializers.IntegerField(source="batch_size")  # noqa: N815
    workers = WorkerSerializer(many=True)
    circuit = CircuitSerializer(source="gate")
    rateLimit = RateLimitSerializer(source="*")  # noqa: N815
