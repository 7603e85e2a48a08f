"""Everything the OpenAPI document says beyond the code: shared error responses and headers,
examples, descriptions, the API-key scheme and the postprocessing hooks (SPECTACULAR_SETTINGS)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from core_domain.use_cases.create_message import MAX_IDEMPOTENCY_KEY_LENGTH
from core_domain.use_cases.create_messages import DEFAULT_MAX_BATCH
from messaging.serializers import ErrorSerializer


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Registered on import (MessagingConfig.ready)."""

    target_class = "messaging.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Authorization: Bearer <API_KEY> (any configured key)",
        }


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """Error responses for the schema; every one has the JSON error body."""
    described = {
        400: "Invalid input (see `details`)",
        401: "Missing or wrong API key",
        404: "No message with this id",
        409: "Conflicts with the message's current state",
        413: "Request body too large",
        415: "Body is not application/json",
        429: "Rate limit exceeded (see Retry-After)",
        503: "The database is unavailable (see Retry-After)",
    }
    return {code: OpenApiResponse(ErrorSerializer, description=described[code]) for code in codes}


COMMON_ERRORS = (401, 429, 503)  # possible on every /api/v1 call
ERROR_HEADERS = [  # response headers of the error responses, for every /api/v1 operation
    OpenApiParameter(
        "WWW-Authenticate", str, OpenApiParameter.HEADER, response=[401], required=True,
        description="`Bearer`",
    ),
    OpenApiParameter(
        "Retry-After", int, OpenApiParameter.HEADER, response=[429, 503], required=True,
        description="Seconds to wait before trying again",
    ),
]  # fmt: skip
TOTAL_COUNT = OpenApiParameter(
    "X-Total-Count", int, OpenApiParameter.HEADER, response=[200], required=True,
    description="How many messages match the filters, on all pages",
)  # fmt: skip
NEXT_PAGE = OpenApiParameter(
    "Link", str, OpenApiParameter.HEADER, response=[200],
    description='`<url>; rel="next"` while more messages follow: the same query with '
    "`before=<cursor>`, a keyset page that costs the same however deep it is",
)  # fmt: skip
LOCATION = OpenApiParameter(
    "Location", str, OpenApiParameter.HEADER, response=[200, 201], required=True,
    description="The message's URL path",
)  # fmt: skip
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    # core_domain's rule (printable ASCII, not blank once trimmed) as a JSON Schema pattern
    {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_IDEMPOTENCY_KEY_LENGTH,
        "pattern": r"^[!-~](?:[ -~]*[!-~])?$",
    },
    OpenApiParameter.HEADER,
    description="Repeat a create safely: the same key and body return the first message. "
    f"1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable characters.",
)
MESSAGE_ID = OpenApiParameter(
    "id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The message's id"
)
BULK_REQUEST = {  # raw, for the item limits; the component is the one `create` documents
    "type": "array",
    "items": {"$ref": "#/components/schemas/MessageCreateRequest"},
    "minItems": 1,
    "maxItems": DEFAULT_MAX_BATCH,
}
BULK_OPERATION_ID = "api_v1_messages_bulk_create"


def require_bulk_body(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    """Postprocessing hook: the bulk array is a required body, but drf-spectacular documents
    every raw request schema as optional."""
    for operations in result["paths"].values():
        for operation in operations.values():
            if operation.get("operationId") == BULK_OPERATION_ID:
                operation["requestBody"]["required"] = True
    return result


SCRAPE = """# HELP message_dispatcher_messages_created_total Messages accepted through the API
# TYPE message_dispatcher_messages_created_total counter
message_dispatcher_messages_created_total 120.0
"""


def add_metrics(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    """Postprocessing hook: `/metrics` is a plain Django view (Prometheus text, not JSON), which
    drf-spectacular does not see; it is described here."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    result["paths"]["/metrics"] = {
        "get": {
            "operationId": "metrics_retrieve",
            "summary": "Prometheus metrics",
            "description": DESCRIPTIONS["metrics"],
            "tags": ["metrics"],
            "security": [{"ApiKeyAuth": []}, {}],
            "responses": {
                "200": {
                    "description": "Prometheus text exposition format",
                    "content": {
                        "text/plain": {
                            "schema": {"type": "string"},
                            "examples": {"Scrape": {"value": SCRAPE}},
                        }
                    },
                },
                "401": {"description": "Missing or wrong API key", "content": error},
            },
        }
    }
    return result


_MESSAGE = {
    "id": "5b0d7c9e-3f0a-4a8e-9a51-1d3c2b7e8f10",
    "phoneNumber": "+905551234567",
    "content": "Hello, this is a test message!",
    "status": "PENDING",
    "externalId": None,
    "retryCount": 0,
    "lastError": None,
    "createdAt": "2026-11-29T08:00:00.000000Z",
    "updatedAt": "2026-11-29T08:00:00.000000Z",
    "sentAt": None,
    "nextAttemptAt": "2026-11-29T08:00:00.000000Z",
    "sendAt": None,
    "expiresAt": None,
}
_SENT = {
    **_MESSAGE,
    "status": "SENT",
    "externalId": "67f1a0b2-94c3-4f1e-8d2a-0c5b9e7d3a11",
    "updatedAt": "2026-11-29T08:02:00.120000Z",
    "sentAt": "2026-11-29T08:02:00.120000Z",
    "nextAttemptAt": None,
}


def response(name: str, value: object) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True)


MESSAGE = response("A new message", _MESSAGE)
MESSAGES = response("A page of messages", [_SENT, _MESSAGE])
SENT_MESSAGE = response("A delivered message", _SENT)
REQUEUED = response("Requeued", {**_MESSAGE, "lastError": None, "retryCount": 0})
CANCELLED = response(
    "Cancelled", {**_MESSAGE, "status": "FAILED", "lastError": "Cancelled by an operator"}
)
CHANGE_FILTER = OpenApiExample(
    "The webhook's 503s of last night",
    value={"lastErrorContains": "HTTP 503", "createdAfter": "2026-11-28T22:00:00Z",
           "createdBefore": "2026-11-29T06:00:00Z", "dryRun": True},
    request_only=True,
)  # fmt: skip
CHANGE_REPORT = response("A dry run", {"matched": 1234, "changed": 0})
CIRCUIT_CLOSED = response(
    "Closed by hand", {"message": "Circuit closed: sending resumes", "status": "closed"}
)
ATTEMPTS = response(
    "A retry, then a delivery",
    [
        {"attemptNumber": 1, "startedAt": "2026-11-29T08:00:00.010000Z", "durationMs": 31,
         "statusCode": 503, "outcome": "retry_scheduled", "error": "HTTP 503",
         "responseExcerpt": '{"message":"busy"}'},
        {"attemptNumber": 2, "startedAt": "2026-11-29T08:00:01.020000Z", "durationMs": 12,
         "statusCode": 202, "outcome": "delivered", "error": None,
         "responseExcerpt": '{"message":"Accepted","messageId":"67f1a0b2"}'},
    ],
)  # fmt: skip
PROCESS_RESULT = response(
    "One batch",
    {"processedCount": 2, "successCount": 1, "failedCount": 1, "retryScheduledCount": 0,
     "errors": ["5b0d7c9e-3f0a-4a8e-9a51-1d3c2b7e8f10: HTTP 400 (not retryable)"]},
)  # fmt: skip
PROCESSING_STATUS = response(
    "Idle between ticks",
    {"isProcessing": False, "lastProcessedAt": "2026-11-29T08:02:00.120000Z",
     "pendingCount": 3, "sendingCount": 0, "sentCount": 120, "failedCount": 1,
     "processedToday": 120, "failedToday": 1, "nextProcessingAt": "2026-11-29T08:04:00.000000Z"},
)  # fmt: skip
SCHEDULER_STARTED = response(
    "Started", {"message": "Scheduler started for every dispatcher", "status": "started"}
)
SCHEDULER_STOPPED = response(
    "Stopped", {"message": "Scheduler stopped for every dispatcher", "status": "stopped"}
)
SCHEDULER_STATUS = response(
    "Two dispatchers",
    {"isRunning": True, "isCurrentlyProcessing": False, "totalProcessed": 120,
     "totalSuccessful": 119, "totalFailed": 1, "lastProcessingTime": "2026-11-29T08:02:00.120000Z",
     "nextProcessingIn": "1m40s", "interval": "2m", "batchSize": 2,
     "workers": [{"id": "web-1-4821-a1b2", "host": "web-1", "pid": 4821,
                  "startedAt": "2026-11-29T07:00:00.000000Z",
                  "lastHeartbeat": "2026-11-29T08:02:00.130000Z", "alive": True,
                  "processed": 120}],
     "circuit": {"state": "closed", "reason": None, "since": None, "nextProbeAt": None,
                 "consecutiveFailures": 0},
     "rateLimit": {"limit": "50/s", "pausedUntil": None}},
)  # fmt: skip
HEALTH = response("Up", {"status": "ok", "uptime": "1:02:03", "version": "1.0.0"})
READY = response("Ready", {"status": "ready", "checks": {"database": "ok", "redis": "ok"}})
CREATE_EXAMPLE = OpenApiExample(
    "SMS",
    value={"phoneNumber": "+905551234567", "content": "Hello, this is a test message!"},
    request_only=True,
)
BULK_EXAMPLE = OpenApiExample(
    "Two messages",
    value=[
        {"phoneNumber": "+905551234567", "content": "First"},
        {"phoneNumber": "+1 (555) 010-0000", "content": "Second"},
    ],
    request_only=True,
)

DESCRIPTIONS = {
    "create": "Stores a PENDING message, due now; a dispatcher delivers it on its next tick. "
    "Spaces, '-', '(' and ')' are removed from the phone number. With an `Idempotency-Key`, "
    "a repeat of the same request returns the first message (200) and creates nothing.",
    "list": "Messages newest first (`createdAt`, then `id`, descending), filtered by status "
    "(any case) and phone number; the total is in `X-Total-Count`. Two ways to page: "
    "`limit`/`offset` (as the Go service; a deep offset reads every row before it), or keyset "
    'pages for walking everything: follow the `Link: <...>; rel="next"` header, whose URL '
    "carries `before=<createdAt in µs>,<id>` of the last message, until no Link comes back.",
    "retrieve": "One message with its delivery state.",
    "bulk": "Validates every item first; stores all of them or none. Validation details are "
    "keyed by item index.",
    "attempts": "Every webhook call made for the message, with its outcome and response excerpt.",
    "retry": "Makes a FAILED message PENDING and due now, with `retryCount` 0; its attempt "
    "history stays. 409 when the message is not FAILED.",
    "cancel": 'Marks a PENDING message FAILED with lastError "Cancelled by an operator", so no '
    "dispatcher sends it. 409 when the message is not PENDING.",
    "process": "Claims and delivers one batch in this request, whatever the scheduler switch "
    "says, and reports what happened.",
    "processing_status": "Counts by status, messages SENT/FAILED since 00:00 UTC, and when the "
    "next tick is due.",
    "switch": "Flips the switch in the database that every dispatcher reads each tick. 409 when "
    "it is already in that state.",
    "scheduler_status": "The switch, totals over all dispatchers, and each dispatcher's "
    "heartbeat; `alive` means a heartbeat within max(3 × interval, 30 s). `circuit`: the "
    "webhook's circuit breaker (`open` after WEBHOOK_CIRCUIT_FAILURES retryable failures in a "
    "row or one 410: nobody sends, one probe per cooldown); `rateLimit`: the fleet's send rate "
    "and the pause a receiver's Retry-After asked for.",
    "change": "Requeue (FAILED → PENDING, due now, retryCount 0, attempts kept) or cancel "
    '(PENDING → FAILED, "Cancelled by an operator") every message the filter selects: all the '
    "conditions given must hold, and the action only ever changes the status it applies to. "
    "It works through the matches a thousand at a time, so a million-row requeue holds no "
    "long lock. `dryRun` counts and changes nothing. Answers `{matched, changed}`.",
    "circuit_close": "Closes an open circuit by hand: every dispatcher sends again at full "
    "pace. 409 when it is closed.",
    "metrics": "Counters, latency histograms and queue gauges in the Prometheus text format. "
    "Needs the API key unless METRICS_PUBLIC is true; not rate limited.",
    "health": "Liveness: answers while the process runs. No API key needed.",
    "ready": "Readiness: 200 when PostgreSQL (and Redis, when configured) answer, else 503 "
    "naming the failing part. No API key needed.",
}
