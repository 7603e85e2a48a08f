"""POSTs to the webhook URL through requests' HTTPAdapter, each call within one hard deadline.

urllib3's pools hold the connections; a pooled connection that dropped before any answer is
resent once, within the same deadline (adapters.http_deadline). The request is prepared once,
so requests' URL handling (IDNA 2008/UTS46 host names, percent-encoding) runs once; a call
only brings its headers and body. Proxies, TLS and HTTP framing are requests' and urllib3's.
There is no Session: nothing reads the environment or ~/.netrc (the proxies and the CA bundle
arrive as arguments) and no cookie jar exists. Redirects are not followed.
"""

from __future__ import annotations

import http.client
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import backoff
import requests
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest
from requests.utils import DEFAULT_CA_BUNDLE_PATH, get_auth_from_url, urldefragauth
from urllib3 import exceptions as urllib3_errors
from urllib3.util import make_headers

from adapters.http_connections import POOL_CLASSES
from adapters.http_deadline import WATCHDOG, CallDeadline, Watchdog, current_call
from adapters.webhook_errors import (
    DROPPED,
    INVALID_URL,
    STILL_ARRIVING,
    causes,
    describe_cut,
    describe_error,
    is_timeout,
    timed_out,
)

logger = logging.getLogger(__name__)

_CHUNK_BYTES = 64 * 1024
_BODY_ERRORS = (urllib3_errors.HTTPError, http.client.HTTPException, OSError)
_LIBRARY_ERRORS = (*_BODY_ERRORS, requests.RequestException)
_URL_ERRORS = (requests.RequestException, urllib3_errors.LocationValueError, ValueError)
_ACCEPT_ENCODING = make_headers(accept_encoding=True)["accept-encoding"]  # what urllib3 decodes


class InvalidWebhookURLError(ValueError):
    """The webhook URL cannot be used for an HTTP request (the message never quotes it)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What one call got: a status, headers and a body (`cut` says why it is incomplete), or
    no status and an `error`."""

    status: int | None
    headers: Mapping[str, str]
    body: bytes = b""
    cut: str | None = None
    error: str | None = None


class _OneUrlAdapter(HTTPAdapter):
    """HTTPAdapter with the deadline-aware pools, for one URL, fixed proxies and CA bundle.
    What requests works out on every send (the proxy for the URL, the pool for its key, a
    look at the CA bundle on disk, the request target) is worked out once. Its send() returns
    urllib3's response itself: requests' Response would copy the headers, guess a text
    encoding and fill a cookie jar."""

    def __init__(
        self, template: PreparedRequest, *, pool_size: int, verify: str, proxies: dict[str, str]
    ) -> None:
        super().__init__(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
        self._pool: Any = None
        self._target = super().request_url(template, proxies)
        is_https, is_dir = template.url.startswith("https://"), os.path.isdir(verify)
        self._cert_reqs = "CERT_REQUIRED" if is_https else "CERT_NONE"
        self._ca_certs = verify if is_https and not is_dir else None
        self._ca_cert_dir = verify if is_https and is_dir else None

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = POOL_CLASSES

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS pools have classes of their own
            manager.pool_classes_by_scheme = POOL_CLASSES
        return manager

    def get_connection_with_tls_context(self, *args: Any, **kwargs: Any) -> Any:
        # One URL, one key: the pool manager keeps that pool until close(). Two threads that
        # get here first both get the same pool from it.
        if self._pool is None:
            self._pool = super().get_connection_with_tls_context(*args, **kwargs)
        return self._pool

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        conn.cert_reqs, conn.ca_certs = self._cert_reqs, self._ca_certs
        conn.ca_cert_dir = self._ca_cert_dir

    def request_url(self, request: PreparedRequest, proxies: Any) -> str:
        return self._target

    def build_response(self, req: PreparedRequest, resp: Any) -> Any:
        return resp


def _prepared(url: str) -> tuple[PreparedRequest, str]:
    """The request for `url` without its userinfo, and the Basic credentials made from that."""
    try:
        template = requests.Request("POST", urldefragauth(url)).prepare()
        user, password = get_auth_from_url(url)
        if user or password:
            template.prepare_auth((user, password))
    except _URL_ERRORS:
        raise InvalidWebhookURLError(INVALID_URL) from None
    if not (template.url or "").startswith(("http://", "https://")):
        raise InvalidWebhookURLError(INVALID_URL)
    return template, template.headers.get("Authorization", "")


def _is_dropped_keep_alive(exc: Exception) -> bool:
    """The request went out on a pooled connection that broke before any byte of an answer:
    the server closed it while it was idle, so it cannot have handled the request. On a new
    connection, or once an answer began, the server may have acted on it: no resend then."""
    call = current_call()
    return (
        call is not None
        and call.is_reused
        and not call.is_answered
        and not call.is_fired
        and call.remaining() > 0
        and any(isinstance(cause, DROPPED) for cause in causes(exc))
    )


def _log_resend(details: Any) -> None:
    logger.debug("a pooled connection dropped before any answer; sending once more")


class WebhookTransport:
    """POSTs to one URL; safe to share between threads. `post` never raises for anything the
    receiver or the network does. Raises InvalidWebhookURLError for an unusable URL."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        pool_size: int,
        proxies: Mapping[str, str],
        ca_bundle: str,
        max_body: int,
        watchdog: Watchdog = WATCHDOG,
    ) -> None:
        template, self.url_authorization = _prepared(url)
        self._url = template.url
        self._timeout, self._max_body, self._watchdog = timeout, max_body, watchdog
        self._proxies = dict(proxies)
        self._verify = ca_bundle or DEFAULT_CA_BUNDLE_PATH
        self._adapter = _OneUrlAdapter(
            template, pool_size=pool_size, verify=self._verify, proxies=self._proxies
        )

    def post(self, headers: Mapping[str, str], body: bytes) -> Answer:
        call = self._watchdog.begin(self._timeout)
        try:
            answer = self._attempt(headers, body, call=call)
        except Exception as exc:  # noqa: BLE001 - whatever the library raises is an answer too
            answer = Answer(status=None, headers={}, error=self._describe(exc, call=call))
        finally:
            self._watchdog.end(call)
        if call.is_fired and answer.cut is not None:
            answer = replace(answer, cut=STILL_ARRIVING)
        return answer

    def close(self) -> None:
        self._adapter.close()

    @backoff.on_exception(
        backoff.constant,
        requests.ConnectionError,
        interval=0,
        jitter=None,
        max_tries=2,
        giveup=lambda exc: not _is_dropped_keep_alive(exc),
        on_backoff=_log_resend,
        logger=None,
    )
    def _attempt(self, headers: Mapping[str, str], body: bytes, *, call: CallDeadline) -> Answer:
        call.start_attempt()
        left = max(call.remaining(), 0.001)  # the watchdog ends the call at the deadline anyway
        request = PreparedRequest()
        request.method, request.url, request.body = "POST", self._url, body
        request.headers = {  # type: ignore[assignment]  # any mapping will do for urllib3
            "Accept-Encoding": _ACCEPT_ENCODING,
            **headers,
            "Content-Length": str(len(body)),
        }
        response = self._adapter.send(
            request, stream=True, timeout=(left, left), verify=self._verify, proxies=self._proxies
        )
        content, cut = _read_body(response, self._max_body)
        if cut is not None:  # the rest is unread: that connection cannot carry another answer
            response.close()
            response.release_conn()
        return Answer(status=response.status, headers=response.headers, body=content, cut=cut)

    def _describe(self, exc: Exception, *, call: CallDeadline) -> str:
        # Whether it was the watchdog or a socket timeout, the phase is the attempt's: urllib3
        # reports a TLS handshake that timed out as a read timeout.
        if call.is_fired or is_timeout(exc):
            return timed_out(timeout=self._timeout, is_connected=call.is_connected)
        if not isinstance(exc, _LIBRARY_ERRORS):  # the type only: its text may quote the URL
            logger.warning("webhook call failed unexpectedly (%s)", type(exc).__name__)
        return describe_error(exc, timeout=self._timeout)


def _read_body(response: Any, limit: int) -> tuple[bytes, str | None]:
    """Up to `limit` bytes of the decoded body, and why it ended early (None: read to its end)."""
    body = bytearray()
    try:
        while len(body) <= limit:
            chunk = response.read1(min(_CHUNK_BYTES, limit + 1 - len(body)), decode_content=True)
            if not chunk:
                return bytes(body), None
            body += chunk
    except _BODY_ERRORS as exc:
        return bytes(body[:limit]), describe_cut(exc)
    return bytes(body[:limit]), "larger than the limit"
