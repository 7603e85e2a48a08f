"""Webhook calls through requests, used only when a proxy is configured for the webhook URL.

`proxy_configured_for` reads http_proxy/https_proxy/all_proxy and no_proxy; requests then
speaks the proxy protocols (absolute-form requests for http, CONNECT for https, credentials
from the proxy URL), which the direct path (adapters.http_client) does not. Same contract
as KeepAliveClient.post: failures before the status line raise, a body that cannot be read
in full comes back cut, with the reason.
"""

from __future__ import annotations

import http.client
import logging
import os
import time
import urllib.request
from collections.abc import Mapping
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import backoff
import requests
from requests.adapters import HTTPAdapter
from urllib3 import exceptions as urllib3_errors

from adapters.http_client import Response

logger = logging.getLogger(__name__)

_CHUNK_BYTES = 64 * 1024
_DROPPED = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)
_PROXY_SCHEMES = frozenset({"http", "https", "all"})
_BODY_ERRORS = (urllib3_errors.HTTPError, http.client.HTTPException, OSError)


def proxy_configured_for(url: str) -> bool:
    """Whether the environment names a proxy for this URL's scheme that no_proxy does not skip."""
    proxies = urllib.request.getproxies_environment()
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    if not (proxies.get(parts.scheme.lower()) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass_environment(host, proxies)


def causes(exc: BaseException) -> list[BaseException]:
    """What a requests error wraps: causes, contexts, args and urllib3's `reason`."""
    seen: set[int] = set()
    found, pending = [], [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if not isinstance(current, requests.RequestException):  # those are OSErrors too
            found.append(current)
        linked = (current.__cause__, current.__context__, getattr(current, "reason", None))
        pending.extend(e for e in (*linked, *current.args) if isinstance(e, BaseException))
    return found


def _is_stale_connection(exc: Exception) -> bool:
    """The connection dropped after the request went out and before any status line came back."""
    kinds = {type(cause) for cause in causes(exc)}
    aborted = any(issubclass(kind, urllib3_errors.ProtocolError) for kind in kinds)
    return aborted and any(issubclass(kind, _DROPPED) for kind in kinds)


def _log_resend(details: dict[str, Any]) -> None:
    logger.debug("connection dropped before an answer; sending once more")


class RequestsTransport:
    """One pooled requests Session that trusts the environment's proxy settings."""

    def __init__(self, url: str, *, timeout: float, pool_size: int, max_body: int) -> None:
        self._url = url
        self._timeout = timeout
        self._max_body = max_body
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        # Calls are stateless: no cookie from one answer rides along with other messages, and a
        # jar that is never written is safe to share between the dispatcher's threads.
        self._session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        # The proxies are given explicitly rather than through trust_env, which would also let
        # ~/.netrc replace our Authorization header; a CA bundle from the environment still counts.
        self._session.trust_env = False
        proxies = urllib.request.getproxies_environment()
        self._session.proxies = {k: v for k, v in proxies.items() if k in _PROXY_SCHEMES}
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        self._session.verify = bundle or True

    # A keep-alive connection the server (or proxy) closed while idle fails as soon as it is
    # reused, before the request could have been handled: one immediate resend on a fresh
    # connection hides that race, as KeepAliveClient does.
    @backoff.on_exception(
        backoff.constant,
        requests.ConnectionError,
        interval=0,
        jitter=None,
        max_tries=2,
        giveup=lambda exc: not _is_stale_connection(exc),
        on_backoff=_log_resend,
        logger=None,
    )
    def post(self, headers: Mapping[str, str], body: bytes) -> Response:
        response = self._session.post(
            self._url,
            data=body,
            headers=dict(headers),
            timeout=(self._timeout, self._timeout),
            allow_redirects=False,
            stream=True,
        )
        with response:
            content, cut = self._read_body(response)
            found = {name.lower(): value for name, value in response.headers.items()}
            return Response(status=response.status_code, headers=found, body=content, cut=cut)

    def close(self) -> None:
        self._session.close()

    def _read_body(self, response: requests.Response) -> tuple[bytes, str | None]:
        """Up to max_body, read within one timeout: a dripping body is cut."""
        deadline, limit = time.monotonic() + self._timeout, self._max_body
        body = bytearray()
        try:
            while len(body) <= limit and time.monotonic() < deadline:
                chunk = response.raw.read1(min(_CHUNK_BYTES, limit + 1 - len(body)))
                if not chunk:
                    return bytes(body), None
                body += chunk
            cut = "larger than the limit" if len(body) > limit else "still arriving at timeout"
        except _BODY_ERRORS as exc:
            cut = f"cannot read the rest ({type(exc).__name__})"
        return bytes(body[:limit]), cut
