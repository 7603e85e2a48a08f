"""Tables: messages, their delivery attempts, idempotency keys, scheduler switch, workers."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

STATUSES = ("PENDING", "SENDING", "SENT", "FAILED")
OUTCOMES = ("delivered", "retry_scheduled", "failed")


class Message(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    phone_number = models.CharField(max_length=16)
    content = models.TextField()
    status = models.CharField(max_length=8, choices=[(s, s.title()) for s in STATUSES])
    external_id = models.CharField(max_length=255, null=True, blank=True)
    retry_count = models.IntegerField(default=0)
    attempt_count = models.IntegerField(default=0)
    last_error = models.TextField(null=True, blank=True)
    next_attempt_at = models.DateTimeField()
    locked_by = models.CharField(max_length=255, null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    # The claim that holds a SENDING message; its result is written only under this token.
    claim_token = models.BigIntegerField(null=True, blank=True)
    send_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "messages"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=STATUSES), name="messages_status_valid"),
            models.CheckConstraint(
                condition=Q(retry_count__gte=0, attempt_count__gte=0),
                name="messages_counts_not_negative",
            ),
            models.CheckConstraint(
                condition=~Q(status="SENDING")
                | Q(
                    locked_by__isnull=False,
                    lease_expires_at__isnull=False,
                    claim_token__isnull=False,
                ),
                name="messages_sending_is_leased",
            ),
        ]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="messages_newest_first"),
            models.Index(fields=["status", "-created_at", "-id"], name="messages_by_status"),
            models.Index(fields=["phone_number", "-created_at", "-id"], name="messages_by_phone"),
            # Serves the claim: due PENDING rows and SENDING rows whose lease ran out, both
            # ordered by next_attempt_at (a claim sets it to the lease expiry).
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["PENDING", "SENDING"]),
                name="messages_claimable",
            ),
            # Serves retention: finished messages, oldest change first.
            models.Index(
                fields=["updated_at"],
                condition=Q(status__in=["SENT", "FAILED"]),
                name="messages_prunable",
            ),
            models.Index(
                fields=["external_id"],
                condition=Q(external_id__isnull=False),
                name="messages_by_external_id",
            ),
            # Serves the sweep of messages past their expiresAt (only rows that have one).
            models.Index(
                fields=["expires_at"],
                condition=Q(status__in=["PENDING", "SENDING"], expires_at__isnull=False),
                name="messages_expiring",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} to {self.phone_number} ({self.status})"


class DeliveryAttempt(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attempts")
    attempt_number = models.IntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.IntegerField()
    status_code = models.IntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=[(o, o) for o in OUTCOMES])
    error = models.TextField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True, default="")

    class Meta:
        db_table = "delivery_attempts"
        ordering = ["message", "attempt_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "attempt_number"], name="delivery_attempts_unique_number"
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=OUTCOMES), name="delivery_attempts_outcome_valid"
            ),
            models.CheckConstraint(
                condition=Q(attempt_number__gte=1, duration_ms__gte=0),
                name="delivery_attempts_counts_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"attempt {self.attempt_number} of {self.message_id}: {self.outcome}"


class SlottedCount(models.Model):
    """A counter kept by triggers in up to 16 rows (slots, by server process) per key, so
    concurrent writers rarely wait for one another; the value is the sum of the slots. The
    key columns are the subclass's; the unique constraint on key + slot is what the
    triggers' upserts land on."""

    slot = models.SmallIntegerField()
    count = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class StatusCount(SlottedCount):
    """Messages per status, kept exact by the triggers on `messages` in the transaction that
    changes a status."""

    status = models.CharField(max_length=8)

    class Meta:
        db_table = "message_status_counts"
        constraints = [
            models.UniqueConstraint(fields=["status", "slot"], name="message_status_counts_key")
        ]


class DailyCount(SlottedCount):
    """Messages that became SENT or FAILED on a day (UTC), kept like StatusCount."""

    day = models.DateField()
    status = models.CharField(max_length=8)

    class Meta:
        db_table = "message_daily_counts"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "status", "slot"], name="message_daily_counts_key"
            )
        ]


class DeliveryMinute(SlottedCount):
    """Attempts written in one minute, by outcome (delivered, retry_scheduled, failed), kept
    by a trigger on delivery_attempts; what the dashboard charts without reading attempts."""

    minute = models.DateTimeField()
    outcome = models.CharField(max_length=16)

    class Meta:
        db_table = "delivery_minutes"
        constraints = [
            models.UniqueConstraint(
                fields=["minute", "outcome", "slot"], name="delivery_minutes_key"
            )
        ]


class LatencyMinute(SlottedCount):
    """A histogram per minute of delivery latency (created to SENT, kind `delivery`) and of
    webhook calls (kind `call`): bucket b counts the times in [2^(b/2), 2^((b+1)/2)) ms."""

    minute = models.DateTimeField()
    kind = models.CharField(max_length=8)
    bucket = models.SmallIntegerField()

    class Meta:
        db_table = "latency_minutes"
        constraints = [
            models.UniqueConstraint(
                fields=["minute", "kind", "bucket", "slot"], name="latency_minutes_key"
            )
        ]


class IdempotencyKey(models.Model):
    key = models.CharField(max_length=255, primary_key=True)
    fingerprint = models.CharField(max_length=64)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(db_default=Now())  # the database's clock: the TTL's

    class Meta:
        db_table = "idempotency_keys"
        indexes = [models.Index(fields=["created_at"], name="idempotency_keys_by_age")]


class SchedulerState(models.Model):
    """A single row: the cluster-wide on/off switch every dispatcher obeys."""

    id = models.SmallIntegerField(primary_key=True, default=1)
    is_running = models.BooleanField(default=True)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "scheduler_state"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="scheduler_state_single_row")]


class SendGateState(models.Model):
    """A single row: the fleet's send-rate bucket, the receiver's pause and the circuit
    breaker (core_domain.send_gate), changed under its row lock."""

    id = models.SmallIntegerField(primary_key=True, default=1)
    tokens = models.FloatField(default=1.0)
    refilled_at = models.DateTimeField(db_default=Now())
    paused_until = models.DateTimeField(null=True, blank=True)
    circuit_state = models.CharField(max_length=9, default="closed")
    circuit_reason = models.TextField(null=True, blank=True)
    circuit_since = models.DateTimeField(null=True, blank=True)
    next_probe_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.IntegerField(default=0)
    cooldown = models.DurationField(null=True, blank=True)
    probe_deadline = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "send_gate"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="send_gate_single_row"),
            models.CheckConstraint(
                condition=Q(circuit_state__in=["closed", "open", "half_open"]),
                name="send_gate_circuit_state_valid",
            ),
        ]


class Worker(models.Model):
    """One dispatcher process and its last heartbeat."""

    id = models.CharField(max_length=255, primary_key=True)
    host = models.CharField(max_length=255)
    pid = models.IntegerField()
    started_at = models.DateTimeField()
    last_heartbeat = models.DateTimeField()
    is_processing = models.BooleanField(default=False)
    processed = models.BigIntegerField(default=0)
    succeeded = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)
    last_processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "dispatcher_workers"
        ordering = ["started_at"]
