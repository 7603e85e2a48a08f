"""WebhookSender over HTTP with requests: one pooled keep-alive session, failures as outcomes."""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import hmac
import http.client
import json
import logging
import os
import socket
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import backoff
import requests
from requests import exceptions as requests_errors
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3 import exceptions as urllib3_errors

from core_domain.delivery import DeliveryOutcome
from core_domain.message import Message

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
EXCERPT_BYTES = 1024
MAX_EXTERNAL_ID_LENGTH = 255  # the column that stores it
_CHUNK_BYTES = 64 * 1024
_SECRET_PREFIX = "whsec_"
_PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "all_proxy"})
_CALL_ERRORS = (requests.RequestException, urllib3_errors.HTTPError, OSError)
_BODY_ERRORS = (urllib3_errors.HTTPError, http.client.HTTPException, OSError)
_DROPPED = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)
_REQUEST_OPTIONS: dict[str, Any] = {"allow_redirects": False, "stream": True}


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


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """What a requests error wraps: causes, contexts, args and urllib3's `reason`."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if not isinstance(current, requests.RequestException):  # those are OSErrors too
            yield current
        linked = (current.__cause__, current.__context__, getattr(current, "reason", None))
        pending.extend(e for e in (*linked, *current.args) if isinstance(e, BaseException))


def _tls_error(error: BaseException) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS error: certificate verify failed ({error.verify_message})"
    reason = str(getattr(error, "reason", None) or "handshake failed")
    return "TLS error: " + reason.lower().replace("_", " ")


_Kinds = type[BaseException] | tuple[type[BaseException], ...]
_KNOWN_ERRORS: tuple[tuple[_Kinds, str], ...] = (  # first match wins
    (requests.ConnectTimeout, "timed out after {after} (connect)"),
    ((requests.ReadTimeout, urllib3_errors.ReadTimeoutError, TimeoutError),
        "timed out after {after} (read)"),
    ((requests_errors.InvalidURL, requests_errors.MissingSchema, requests_errors.InvalidSchema),
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
    causes = [exc, *_causes(exc)]
    tls = next((c for c in causes if isinstance(c, ssl.SSLError)), None)
    if tls is not None or isinstance(exc, requests_errors.SSLError):
        return _tls_error(tls or exc)
    for kinds, text in _KNOWN_ERRORS:
        if any(isinstance(cause, kinds) for cause in causes):
            return text.format(after=f"{timeout.total_seconds():g}s")
    found = next((c for c in causes[1:] if isinstance(c, OSError) and c.strerror), None)
    return f"network error: {found.strerror}" if found else f"request failed ({type(exc).__name__})"


def _is_stale_connection(exc: Exception) -> bool:
    """The connection dropped after the request went out and before any status line came back."""
    kinds = {type(cause) for cause in _causes(exc)}
    aborted = any(issubclass(kind, urllib3_errors.ProtocolError) for kind in kinds)
    return aborted and any(issubclass(kind, _DROPPED) for kind in kinds)


def _log_stale_retry(details: dict[str, Any]) -> None:
    extra = {"message_id": details["kwargs"]["headers"]["Idempotency-Key"]}
    logger.debug("connection dropped before a response; trying once more", extra=extra)


def _proxy_configured() -> bool:
    return any(value for name, value in os.environ.items() if name.lower() in _PROXY_VARIABLES)


def _session(pool_size: int) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    # Calls are stateless: no cookie from one answer rides along with other messages, and a jar
    # that is never written is safe to share between the dispatcher's threads.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    # trust_env costs a proxy/no_proxy lookup per request (and lets ~/.netrc replace our
    # Authorization header); keep it only when a proxy is configured, but honour a CA bundle.
    session.trust_env = _proxy_configured()
    if not session.trust_env:
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        session.verify = bundle or True
    return session


def _prepared_template(url: str) -> requests.PreparedRequest | None:
    try:
        return requests.Request("POST", url).prepare()
    except requests.RequestException:
        return None


class RequestsWebhookSender:
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
        self._url = url
        self._timeout = timeout
        self._timeouts = (timeout.total_seconds(), timeout.total_seconds())
        self._signing_key = signing_key(signing_secret) if signing_secret else b""
        self._headers = {"Content-Type": "application/json"}
        self._headers["User-Agent"] = f"message-dispatcher/{version}"
        if auth_token:
            self._headers["Authorization"] = f"Bearer {auth_token}"
        self._session = _session(pool_size)
        self._secrets = [value for value in (auth_token, signing_secret) if value]
        # The fast path: copy one prepared request per call and hand it straight to the pooled
        # adapter, skipping Session's per-call header/cookie merging and environment lookups.
        # Plain http needs no CA bundle (a bundle path costs a stat() per call in requests).
        self._adapter = self._session.get_adapter("http://")
        self._verify = self._session.verify if url.lower().startswith("https://") else True
        self._template = _prepared_template(url)

    @classmethod
    def from_conf(
        cls, conf: dict[str, Any], *, version: str, pool_size: int
    ) -> RequestsWebhookSender:
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
        started_at, clock = datetime.now(UTC), time.monotonic()
        try:
            response = self._post(body=body, headers=self._request_headers(message_id, body=body))
        except _CALL_ERRORS as exc:
            error = describe_error(exc, timeout=self._timeout)
            logger.debug("webhook call failed: %s", error, extra={"message_id": message_id})
            return DeliveryOutcome(started_at=started_at, duration=_since(clock), error=error)
        with response:
            return self._outcome(
                response, message_id=message_id, started_at=started_at, clock=clock
            )

    def close(self) -> None:
        self._session.close()

    def _redacted(self, text: str) -> str:
        """A receiver that echoes our request must not put our credentials into lastError."""
        for value in self._secrets:
            text = text.replace(value, "[redacted]")
        return text

    def __enter__(self) -> RequestsWebhookSender:
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

    # A pooled keep-alive connection the server closed while it sat idle fails as soon as it is
    # reused, before the request could have been handled: one immediate retry on a fresh
    # connection hides that race. Timeouts, refusals and TLS errors are never retried here;
    # real retries are scheduled through the database by RetryPolicy.
    @backoff.on_exception(
        backoff.constant,
        requests.ConnectionError,
        interval=0,
        jitter=None,
        max_tries=2,
        giveup=lambda exc: not _is_stale_connection(exc),
        on_backoff=_log_stale_retry,
        logger=None,
    )
    def _post(self, *, body: bytes, headers: dict[str, str]) -> requests.Response:
        if self._session.trust_env or self._template is None:
            # Proxies from the environment, or a URL requests refuses: the full Session path
            # resolves the one and reports the other.
            return self._session.post(
                self._url, data=body, headers=headers, timeout=self._timeouts, **_REQUEST_OPTIONS
            )
        request = self._template.copy()
        request.headers = CaseInsensitiveDict(headers)
        request.headers["Content-Length"] = str(len(body))
        request.body = body
        return self._adapter.send(
            request, stream=True, timeout=self._timeouts, verify=self._verify, cert=None
        )

    def _outcome(
        self, response: requests.Response, *, message_id: str, started_at: datetime, clock: float
    ) -> DeliveryOutcome:
        body = self._read_body(response, message_id=message_id)
        status = response.status_code
        found_id = external_id(body) if 200 <= status < 300 else None
        if 200 <= status < 300 and found_id is None:
            text = "webhook accepted message %s with HTTP %s but without a messageId"
            logger.warning(text, message_id, status, extra={"message_id": message_id})
        retry_after = parse_retry_after(response.headers.get("Retry-After"), now=datetime.now(UTC))
        return DeliveryOutcome(
            started_at=started_at,
            duration=_since(clock),
            status_code=status,
            external_id=found_id,
            retry_after=retry_after,
            response_excerpt=self._redacted(excerpt(body)),
        )

    def _read_body(self, response: requests.Response, *, message_id: str) -> bytes:
        """Up to 1 MiB, read within one timeout: a dripping body is cut, its status still counts."""
        deadline = time.monotonic() + self._timeout.total_seconds()
        body = bytearray()
        try:
            while len(body) <= MAX_BODY_BYTES and time.monotonic() < deadline:
                chunk = response.raw.read1(
                    min(_CHUNK_BYTES, MAX_BODY_BYTES + 1 - len(body)), decode_content=True
                )
                if not chunk:
                    return bytes(body)
                body += chunk
            problem = "over 1 MiB" if len(body) > MAX_BODY_BYTES else "still arriving at timeout"
        except _BODY_ERRORS as exc:
            problem = describe_error(exc, timeout=self._timeout)
        kept = min(len(body), MAX_BODY_BYTES)
        text = "webhook response body for message %s cut at %d bytes: %s"
        logger.warning(text, message_id, kept, problem, extra={"message_id": message_id})
        return bytes(body[:kept])


def _since(clock: float) -> timedelta:
    return timedelta(seconds=time.monotonic() - clock)
