"""WebhookSender over HTTP: SPEC §6 requests, answers and failures turned into outcomes.

Calls go straight to the receiver through adapters.http_client (pooled keep-alive
connections); when the environment configures a proxy for the webhook URL they go through
requests instead (adapters.proxy_transport).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import hmac
import http.client
import json
import logging
import socket
import ssl
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from requests import exceptions as requests_errors
from urllib3 import exceptions as urllib3_errors

from adapters.http_client import ConnectTimeoutError, InvalidURLError, KeepAliveClient, Response
from adapters.proxy_transport import RequestsTransport, causes, proxy_configured_for
from core_domain.delivery import DeliveryOutcome
from core_domain.message import Message

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
EXCERPT_BYTES = 1024
MAX_EXTERNAL_ID_LENGTH = 255  # the column that stores it
_SECRET_PREFIX = "whsec_"
_CALL_ERRORS = (
    requests.RequestException,
    urllib3_errors.HTTPError,
    http.client.HTTPException,
    InvalidURLError,
    OSError,
)
_DROPPED = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)


def signing_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret, given as `whsec_<base64>` or bare base64."""
    encoded = secret.removeprefix(_SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        key = b""
    if not key:
        raise ValueError("WEBHOOK_SIGNING_SECRET: expected whsec_<base64>")
    return key


def standard_webhooks_signature(*, key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">."""
    digest = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def parse_retry_after(value: str | None, *, now: datetime) -> timedelta | None:
    """`Retry-After` as delay-seconds or an HTTP-date, never negative; None if unusable."""
    value = (value or "").strip()
    try:
        if value.isascii() and value.isdigit():
            return timedelta(seconds=int(value))
        moment = parsedate_to_datetime(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return max(moment - now, timedelta(0))
    except (TypeError, ValueError, OverflowError):
        return None


def excerpt(body: bytes) -> str:
    """The first 1 KiB as UTF-8 text, without a character cut in half and without NUL."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = decoder.decode(body[:EXCERPT_BYTES], final=len(body) <= EXCERPT_BYTES)
    return text.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL


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


def _tls_error(error: BaseException) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS error: certificate verify failed ({error.verify_message})"
    reason = str(getattr(error, "reason", None) or "handshake failed")
    return "TLS error: " + reason.lower().replace("_", " ")


_Kinds = type[BaseException] | tuple[type[BaseException], ...]
_KNOWN_ERRORS: tuple[tuple[_Kinds, str], ...] = (  # first match wins
    ((ConnectTimeoutError, requests.ConnectTimeout), "timed out after {after} (connect)"),
    ((requests.ReadTimeout, urllib3_errors.ReadTimeoutError, TimeoutError),
        "timed out after {after} (read)"),
    ((InvalidURLError, requests_errors.InvalidURL, requests_errors.MissingSchema,
        requests_errors.InvalidSchema),
        "invalid URL: expected http(s)://host[:port]/path"),
    (requests_errors.ProxyError, "proxy error"),
    (ConnectionRefusedError, "connection refused"),
    (http.client.RemoteDisconnected, "connection closed by the server without a response"),
    (_DROPPED, "connection reset"),
    (socket.gaierror, "cannot resolve the webhook host"),
    ((http.client.IncompleteRead, urllib3_errors.IncompleteRead), "response cut short"),
    (urllib3_errors.DecodeError, "cannot decode the response body"),
    ((http.client.HTTPException, urllib3_errors.ProtocolError), "invalid HTTP response"),
)  # fmt: skip


def describe_error(exc: BaseException, *, timeout: timedelta) -> str:
    """A short description of a failed call, never quoting the URL, the token or the secret."""
    chain = [exc, *causes(exc)]
    tls = next((c for c in chain if isinstance(c, ssl.SSLError)), None)
    if tls is not None or isinstance(exc, requests_errors.SSLError):
        return _tls_error(tls or exc)
    for kinds, text in _KNOWN_ERRORS:
        if any(isinstance(cause, kinds) for cause in chain):
            return text.format(after=f"{timeout.total_seconds():g}s")
    found = next((c for c in chain[1:] if isinstance(c, OSError) and c.strerror), None)
    return f"network error: {found.strerror}" if found else f"request failed ({type(exc).__name__})"


class HttpWebhookSender:
    """POSTs each message to the webhook (SPEC §6). Safe to share between threads.

    `send` never raises for a network or HTTP failure: it returns the facts as a DeliveryOutcome
    and RetryPolicy judges them. Redirects are not followed. Close it (or use `with`) when done.
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
    ) -> None:
        if timeout <= timedelta(0) or pool_size < 1:
            raise ValueError("the webhook timeout and pool size must be positive")
        if not (auth_token.isascii() and auth_token.isprintable()):
            raise ValueError("WEBHOOK_AUTH_TOKEN: expected printable ASCII characters")
        self._timeout = timeout
        self._signing_key = signing_key(signing_secret) if signing_secret else b""
        self._headers = {"Content-Type": "application/json"}
        self._headers["User-Agent"] = f"message-dispatcher/{version}"
        if auth_token:
            self._headers["Authorization"] = f"Bearer {auth_token}"
        self._secrets = [value for value in (auth_token, signing_secret) if value]
        transport = RequestsTransport if proxy_configured_for(url) else KeepAliveClient
        self._transport = transport(
            url, timeout=timeout.total_seconds(), pool_size=pool_size, max_body=MAX_BODY_BYTES
        )

    @classmethod
    def from_conf(cls, conf: dict[str, Any], *, version: str, pool_size: int) -> HttpWebhookSender:
        """From `settings.DISPATCHER["webhook"]`: url, auth_token, timeout, signing_secret."""
        return cls(
            url=conf["url"],
            timeout=conf["timeout"],
            auth_token=conf.get("auth_token") or "",
            signing_secret=conf.get("signing_secret") or "",
            version=version,
            pool_size=pool_size,
        )

    def send(self, message: Message) -> DeliveryOutcome:
        message_id = str(message.id)
        content = {"to": message.phone_number, "content": message.content}
        body = json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()
        clock = time.monotonic()
        try:
            response = self._transport.post(self._request_headers(message_id, body=body), body)
        except _CALL_ERRORS as exc:
            error = describe_error(exc, timeout=self._timeout)
            logger.debug("webhook call failed: %s", error, extra={"message_id": message_id})
            return DeliveryOutcome(duration=_since(clock), error=error)
        return self._outcome(response, message_id=message_id, clock=clock)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> HttpWebhookSender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _redacted(self, text: str) -> str:
        """A receiver that echoes our request must not put our credentials into lastError."""
        for value in self._secrets:
            text = text.replace(value, "[redacted]")
        return text

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

    def _outcome(self, response: Response, *, message_id: str, clock: float) -> DeliveryOutcome:
        body, status = response.body, response.status
        if response.cut is not None:
            text = "webhook response body for message %s cut at %d bytes: %s"
            extra = {"message_id": message_id}
            logger.warning(text, message_id, len(body), response.cut, extra=extra)
        found_id = external_id(body) if 200 <= status < 300 else None
        if 200 <= status < 300 and found_id is None:
            text = "webhook accepted message %s with HTTP %s but without a messageId"
            logger.warning(text, message_id, status, extra={"message_id": message_id})
        retry_after = parse_retry_after(response.headers.get("retry-after"), now=datetime.now(UTC))
        return DeliveryOutcome(
            duration=_since(clock),
            status_code=status,
            external_id=found_id,
            retry_after=retry_after,
            response_excerpt=self._redacted(excerpt(body)),
        )


def _since(clock: float) -> timedelta:
    return timedelta(seconds=time.monotonic() - clock)
