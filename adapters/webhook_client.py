"""WebhookSender over HTTP: SPEC §6 requests, and answers and failures turned into outcomes.

The HTTP work is adapters.http_transport (requests' HTTPAdapter under one hard deadline per
call); this module builds the request, reads the answer and keeps secrets out of what it
reports (adapters.webhook_redaction).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from adapters.http_transport import Answer, InvalidWebhookURLError, WebhookTransport
from adapters.webhook_errors import INVALID_URL
from adapters.webhook_redaction import Redaction, redact_library_logs
from adapters.webhook_signing import signing_key, standard_webhooks_signature
from core_domain.delivery import DeliveryOutcome
from core_domain.message import Message

__all__ = ["HttpWebhookSender", "parse_retry_after", "signing_key", "standard_webhooks_signature"]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
MAX_EXTERNAL_ID_LENGTH = 255  # the column that stores it


def parse_retry_after(value: str | None, *, now: datetime) -> timedelta | None:
    """`Retry-After` as delay-seconds or an HTTP-date, never negative; None if unusable."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        if value.isascii() and value.isdigit():
            return timedelta(seconds=int(value))
        moment = parsedate_to_datetime(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return max(moment - now, timedelta(0))
    except (TypeError, ValueError, OverflowError):
        return None


def external_id(body: bytes) -> str | None:
    """`messageId` from a JSON object body (a number is turned into text), else None."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    value = document.get("messageId") if isinstance(document, dict) else None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value)
    usable = text.isprintable() and 0 < len(text) <= MAX_EXTERNAL_ID_LENGTH
    return text if usable else None


class HttpWebhookSender:
    """POSTs each message to the webhook (SPEC §6). Safe to share between threads.

    `send` never raises for anything a receiver or the network does: it returns the facts as a
    DeliveryOutcome, within `timeout` for the whole call, and RetryPolicy judges them. Redirects
    are not followed and cookies are not kept. `proxies` (requests' form, {"https": url}) and
    `ca_bundle` come from the settings; the environment is never read here. Close it (or use
    `with`) when done.
    """

    def __init__(
        self,
        *,
        url: str,
        timeout: timedelta,
        auth_token: str = "",
        signing_secret: str = "",
        version: str = "1.0.0",
        pool_size: int = 64,
        proxies: Mapping[str, str] | None = None,
        ca_bundle: str = "",
    ) -> None:
        if timeout <= timedelta(0) or pool_size < 1:
            raise ValueError("the webhook timeout and pool size must be positive")
        if not (auth_token.isascii() and auth_token.isprintable()):
            raise ValueError("WEBHOOK_AUTH_TOKEN: expected printable ASCII characters")
        self._signing_key = signing_key(signing_secret) if signing_secret else b""
        self._redaction = Redaction.for_webhook(
            url=url, auth_token=auth_token, signing_secret=signing_secret
        )
        redact_library_logs(self._redaction)
        try:
            self._transport: WebhookTransport | None = WebhookTransport(
                url,
                timeout=timeout.total_seconds(),
                pool_size=pool_size,
                proxies=proxies or {},
                ca_bundle=ca_bundle,
                max_body=MAX_BODY_BYTES,
            )
        except InvalidWebhookURLError:
            self._transport = None  # every send says so, as an outcome the caller records
        self._headers = {"Content-Type": "application/json"}
        self._headers["User-Agent"] = f"message-dispatcher/{version}"
        # The token wins over credentials in the URL, which are sent as Basic otherwise.
        basic = self._transport.url_authorization if self._transport else ""
        if auth_token or basic:
            self._headers["Authorization"] = f"Bearer {auth_token}" if auth_token else basic

    @classmethod
    def from_conf(cls, conf: dict[str, Any], *, version: str, pool_size: int) -> HttpWebhookSender:
        """From `settings.DISPATCHER`: webhook_url, webhook_timeout, webhook_auth_token,
        webhook_signing_secret, webhook_proxies, webhook_ca_bundle."""
        return cls(
            url=conf["webhook_url"],
            timeout=conf["webhook_timeout"],
            auth_token=conf.get("webhook_auth_token") or "",
            signing_secret=conf.get("webhook_signing_secret") or "",
            version=version,
            pool_size=pool_size,
            proxies=conf.get("webhook_proxies") or {},
            ca_bundle=conf.get("webhook_ca_bundle") or "",
        )

    def send(self, message: Message) -> DeliveryOutcome:
        message_id = str(message.id)
        content = {"to": message.phone_number, "content": message.content}
        body = json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()
        clock = time.monotonic()
        if self._transport is None:
            return self._failed(INVALID_URL, message_id=message_id, clock=clock)
        answer = self._transport.post(self._request_headers(message_id, body=body), body)
        if answer.status is None:
            return self._failed(answer.error or "no answer", message_id=message_id, clock=clock)
        return self._outcome(answer, message_id=message_id, clock=clock)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def __enter__(self) -> HttpWebhookSender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _request_headers(self, message_id: str, *, body: bytes) -> dict[str, str]:
        headers = {**self._headers, "Idempotency-Key": message_id}
        if self._signing_key:
            timestamp = int(time.time())
            headers["webhook-id"] = message_id
            headers["webhook-timestamp"] = str(timestamp)
            headers["webhook-signature"] = standard_webhooks_signature(
                key=self._signing_key, webhook_id=message_id, timestamp=timestamp, body=body
            )
        return headers

    def _failed(self, error: str, *, message_id: str, clock: float) -> DeliveryOutcome:
        error = self._redaction.apply(error)
        logger.debug("webhook call failed: %s", error, extra={"message_id": message_id})
        return DeliveryOutcome(duration=_since(clock), error=error)

    def _outcome(self, answer: Answer, *, message_id: str, clock: float) -> DeliveryOutcome:
        body, status = answer.body, answer.status or 0
        extra = {"message_id": message_id}
        if answer.cut is not None:
            text = "webhook response body for message %s cut at %d bytes: %s"
            logger.warning(text, message_id, len(body), answer.cut, extra=extra)
        found_id = external_id(body) if 200 <= status < 300 else None
        if 200 <= status < 300 and found_id is None:
            text = "webhook accepted message %s with HTTP %s but without a messageId"
            logger.warning(text, message_id, status, extra=extra)
        retry_after = parse_retry_after(answer.headers.get("retry-after"), now=datetime.now(UTC))
        return DeliveryOutcome(
            duration=_since(clock),
            status_code=status,
            external_id=found_id,
            retry_after=retry_after,
            response_excerpt=self._redaction.excerpt(body),
        )


def _since(clock: float) -> timedelta:
    return timedelta(seconds=time.monotonic() - clock)
