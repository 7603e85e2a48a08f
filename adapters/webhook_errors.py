"""Short human descriptions of failed webhook calls, from whatever requests and urllib3 raised."""

from __future__ import annotations

import http.client
import socket
import ssl

import requests
from requests import exceptions as requests_errors
from urllib3 import exceptions as urllib3_errors

INVALID_URL = "invalid URL: expected http(s)://host[:port]/path"
STILL_ARRIVING = "still arriving at timeout"
DROPPED = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)


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


def is_timeout(exc: BaseException) -> bool:
    """Whether a socket operation ran out of time (a refused connection is urllib3's
    NewConnectionError, which is a ConnectTimeoutError too)."""
    return any(
        isinstance(cause, (TimeoutError, requests.Timeout, urllib3_errors.TimeoutError))
        and not isinstance(cause, urllib3_errors.NewConnectionError)
        for cause in [exc, *causes(exc)]
    )


def timed_out(*, timeout: float, is_connected: bool) -> str:
    """The error of a call that the deadline ended (connect covers the TLS handshake)."""
    return f"timed out after {timeout:g}s ({'read' if is_connected else 'connect'})"


def _tls_error(error: BaseException) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS error: certificate verify failed ({error.verify_message})"
    reason = str(getattr(error, "reason", None) or "handshake failed")
    return "TLS error: " + reason.lower().replace("_", " ")


_Kinds = type[BaseException] | tuple[type[BaseException], ...]
_KNOWN_ERRORS: tuple[tuple[_Kinds, str], ...] = (  # first match wins
    # Not urllib3's ConnectTimeoutError: its NewConnectionError (a refused connection) is one.
    (requests.ConnectTimeout, "timed out after {after} (connect)"),
    ((requests.ReadTimeout, urllib3_errors.ReadTimeoutError, TimeoutError),
        "timed out after {after} (read)"),
    ((requests_errors.ProxyError, requests_errors.InvalidProxyURL), "proxy error"),
    ((requests_errors.InvalidURL, requests_errors.MissingSchema, requests_errors.InvalidSchema,
        urllib3_errors.LocationValueError), INVALID_URL),
    (ConnectionRefusedError, "connection refused"),
    (http.client.RemoteDisconnected, "connection closed by the server without a response"),
    (DROPPED, "connection reset"),
    (socket.gaierror, "cannot resolve the webhook host"),
    ((http.client.IncompleteRead, urllib3_errors.IncompleteRead), "response cut short"),
    (urllib3_errors.DecodeError, "cannot decode the response body"),
    ((http.client.HTTPException, urllib3_errors.ProtocolError, urllib3_errors.HTTPError,
        requests_errors.InvalidHeader, requests_errors.ContentDecodingError,
        requests_errors.ChunkedEncodingError), "invalid HTTP response"),
)  # fmt: skip


def describe_error(exc: BaseException, *, timeout: float) -> str:
    """A short description of a failed call, never quoting the URL, a header or the answer."""
    chain = [exc, *causes(exc)]
    tls = next((c for c in chain if isinstance(c, ssl.SSLError)), None)
    if tls is not None or isinstance(exc, requests_errors.SSLError):
        return _tls_error(tls or exc)
    for kinds, text in _KNOWN_ERRORS:
        if any(isinstance(cause, kinds) for cause in chain):
            return text.format(after=f"{timeout:g}s")
    found = next((c for c in chain[1:] if isinstance(c, OSError) and c.strerror), None)
    return f"network error: {found.strerror}" if found else f"request failed ({type(exc).__name__})"


def describe_cut(exc: BaseException) -> str:
    """Why a body stopped before its end, once the status line and headers had arrived."""
    chain = [exc, *causes(exc)]
    if any(isinstance(cause, (TimeoutError, urllib3_errors.ReadTimeoutError)) for cause in chain):
        return STILL_ARRIVING
    return describe_error(exc, timeout=0)
