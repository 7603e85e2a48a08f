"""DRF serializers: request shapes in, domain objects out, camelCase on the wire."""

from __future__ import annotations

from rest_framework import serializers


class MessageCreateSerializer(serializers.Serializer):
    """Shape only; the domain's value objects judge the phone number and the content."""

    phoneNumber = serializers.CharField(  # noqa: N815 - the wire name
        source="phone_number",
        allow_blank=True,
        trim_whitespace=False,
        max_length=64,
        help_text="E.164 phone number; spaces, '-', '(' and ')' are removed.",
    )
    content = serializers.CharField(
        allow_blank=True,
        trim_whitespace=False,
        max_length=10_000,
        help_text="Message text: not blank, at most 160 characters (configurable).",
    )


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

    def to_representation(self, message):
        data = super().to_representation(message)
        if data["status"] in ("SENT", "FAILED"):
            data["nextAttemptAt"] = None  # nothing more will be attempted
        return data


class AttemptSerializer(serializers.Serializer):
    attemptNumber = serializers.IntegerField(source="attempt_number")  # noqa: N815
    startedAt = serializers.DateTimeField(source="started_at")  # noqa: N815
    durationMs = serializers.IntegerField(source="duration_ms")  # noqa: N815
    statusCode = serializers.IntegerField(source="status_code", allow_null=True)  # noqa: N815
    outcome = serializers.ChoiceField(choices=["delivered", "retry_scheduled", "failed"])
    error = serializers.CharField(allow_null=True)
    responseExcerpt = serializers.CharField(source="response_excerpt")  # noqa: N815


class MessageListQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(required=False, default=20, help_text="1-100, default 20")
    offset = serializers.IntegerField(required=False, default=0, help_text="0 or more")
    status = serializers.CharField(
        required=False, help_text="PENDING, SENDING, SENT or FAILED (any case)"
    )
    phoneNumber = serializers.CharField(required=False, help_text="exact phone number")  # noqa: N815


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="HTTP reason phrase")
    message = serializers.CharField(help_text="what went wrong, for a person")
    details = serializers.DictField(
        required=False, help_text="field (or bulk item index) → list of messages"
    )


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    uptime = serializers.CharField()
    version = serializers.CharField()


class ReadinessSerializer(serializers.Serializer):
    status = serializers.CharField()
    checks = serializers.DictField(child=serializers.CharField())


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


class WorkerSerializer(serializers.Serializer):
    id = serializers.CharField()
    host = serializers.CharField()
    pid = serializers.IntegerField()
    startedAt = serializers.DateTimeField()  # noqa: N815
    lastHeartbeat = serializers.DateTimeField()  # noqa: N815
    alive = serializers.BooleanField()
    processed = serializers.IntegerField()


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
