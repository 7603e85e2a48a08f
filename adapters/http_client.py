"""A small HTTP/1.1 client that POSTs to one URL over pooled keep-alive connections.

A webhook call through requests spends most of its CPU in layers a webhook does not need:
session merging, urllib3's pool and response objects, e-mail style header parsing. This
client writes one prebuilt buffer per request and reads the answer with a parser that knows
what an HTTP/1.1 answer can look like: a status line, header lines, then a body framed by
Content-Length, by chunked transfer coding or by the end of the connection. gzip and deflate
bodies are decoded. Redirects are not followed and cookies are not kept. Proxies are not
spoken here; the webhook sender uses requests when one is configured.

Failures are raised as the standard exceptions (OSError kinds, ssl.SSLError,
http.client.HTTPException kinds, TimeoutError and ConnectTimeoutError below), except once the
status line has arrived: then a body that cannot be read in full is returned cut, with the
reason, because the status still counts.
"""

from __future__ import annotations

import base64
import http.client
import logging
import os
import re
import select
import socket
import ssl
import time
import zlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import backoff
import certifi

logger = logging.getLogger(__name__)

MAX_HEAD_BYTES = 64 * 1024
_RECV_BYTES = 64 * 1024
_MAX_INFORMATIONAL = 10
_NO_BODY = frozenset({204, 304})
_HOST = re.compile(r"[A-Za-z0-9._~:%-]+")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_DROPPED = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)


def _log_resend(details: dict[str, Any]) -> None:
    logger.debug("connection dropped before an answer; sending once more")


class InvalidURLError(ValueError):
    """The webhook URL cannot be used for an HTTP request."""


class ConnectTimeoutError(TimeoutError):
    """No connection (TCP and TLS handshake) within the timeout."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where to connect and what to put in the request line and the Host header."""

    tls: bool
    host: str  # ASCII, IPv6 without brackets
    port: int
    authority: str  # the Host header
    path: str  # the request target: percent-encoded path and query
    basic_auth: str  # "Basic …" from user:password in the URL, or ""

    @classmethod
    def parse(cls, url: str) -> Target:
        try:
            parts = urlsplit(url)
            port = parts.port
            host = (parts.hostname or "").encode("idna").decode("ascii")
        except (ValueError, UnicodeError) as exc:
            raise InvalidURLError("expected http(s)://host[:port]/path") from exc
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not _HOST.fullmatch(host):
            raise InvalidURLError("expected http(s)://host[:port]/path")
        tls = scheme == "https"
        default_port = 443 if tls else 80
        shown = f"[{host}]" if ":" in host else host
        path = quote(parts.path or "/", safe=_PATH_SAFE)
        if parts.query:
            path += "?" + quote(parts.query, safe=_PATH_SAFE + "?")
        basic_auth = ""
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            basic_auth = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        return cls(
            tls=tls,
            host=host,
            port=port or default_port,
            authority=shown if port in (None, default_port) else f"{shown}:{port}",
            path=path,
            basic_auth=basic_auth,
        )


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes
    cut: str | None = None  # why the body is incomplete, None when it was read in full


class KeepAliveClient:
    """POSTs to one URL; safe to share between threads (each request holds one connection).

    The timeout bounds the connection (TCP and TLS), the answer's status line and headers
    (counted from the end of sending), and the body (counted from the end of the headers).
    A connection that drops before any byte of the answer is replaced and the request sent
    once more: a keep-alive connection the server closed while idle looks exactly like that.
    """

    def __init__(self, url: str, *, timeout: float, pool_size: int, max_body: int) -> None:
        self._timeout = timeout
        self._max_body = max_body
        self._pool_size = pool_size
        self._idle: deque[_Connection] = deque()
        self._tls: ssl.SSLContext | None = None
        try:
            self._target: Target | None = Target.parse(url)
        except InvalidURLError:
            self._target = None  # every post says so, as an outcome the caller records
        if self._target is not None and self._target.tls:
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            self._tls = ssl.create_default_context(cafile=bundle or certifi.where())

    def post(self, headers: Mapping[str, str], body: bytes) -> Response:
        target = self._target
        if target is None:
            raise InvalidURLError("expected http(s)://host[:port]/path")
        lines = [f"POST {target.path} HTTP/1.1", f"Host: {target.authority}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if target.basic_auth and "Authorization" not in headers:
            lines.append(f"Authorization: {target.basic_auth}")
        lines.append(f"Content-Length: {len(body)}\r\n\r\n")
        request = "\r\n".join(lines).encode("latin-1") + body
        return self._exchange(request)

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()

    @backoff.on_exception(
        backoff.constant,
        (*_DROPPED, http.client.RemoteDisconnected),  # raised before any byte of the answer
        interval=0,
        jitter=None,
        max_tries=2,
        on_backoff=_log_resend,
        logger=None,
    )
    def _exchange(self, request: bytes) -> Response:
        connection = self._checkout()
        try:
            connection.sock.settimeout(self._timeout)
            connection.sock.sendall(request)
            response, reusable = self._read_response(connection)
        except BaseException:
            connection.close()
            raise
        if reusable and len(self._idle) < self._pool_size:
            self._idle.append(connection)
        else:
            connection.close()
        return response

    def _checkout(self) -> _Connection:
        while True:
            try:
                connection = self._idle.pop()
            except IndexError:
                return self._connect()
            if connection.is_usable():
                return connection
            connection.close()

    def _connect(self) -> _Connection:
        assert self._target is not None
        address = (self._target.host, self._target.port)
        try:
            sock = socket.create_connection(address, timeout=self._timeout)
        except TimeoutError as exc:
            raise ConnectTimeoutError("connect timed out") from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=self._target.host)
        except TimeoutError as exc:
            sock.close()
            raise ConnectTimeoutError("TLS handshake timed out") from exc
        except BaseException:
            sock.close()
            raise
        return _Connection(sock)

    def _read_response(self, connection: _Connection) -> tuple[Response, bool]:
        deadline = time.monotonic() + self._timeout
        for _ in range(_MAX_INFORMATIONAL):
            status, version, headers = connection.read_head(deadline)
            if status == 101 or not 100 <= status < 200:
                break
        else:
            raise http.client.HTTPException("too many informational answers")
        if status == 101:
            raise http.client.HTTPException("the server switched protocols")
        body, cut, framed = self._read_body(connection, status, headers)
        tokens = headers.get("connection", "").lower()
        reusable = framed and cut is None and version == b"HTTP/1.1" and "close" not in tokens
        return Response(status=status, headers=headers, body=body, cut=cut), reusable

    def _read_body(
        self, connection: _Connection, status: int, headers: dict[str, str]
    ) -> tuple[bytes, str | None, bool]:
        """The body up to max_body, why it was cut, and whether its end was found."""
        if status in _NO_BODY:
            return b"", None, True
        deadline, limit = time.monotonic() + self._timeout, self._max_body
        body, cut, framed = bytearray(), None, True
        try:
            if "chunked" in headers.get("transfer-encoding", "").lower():
                connection.read_chunked(body, limit, deadline)
            elif "content-length" in headers:
                connection.read_exactly(_content_length(headers), body, limit, deadline)
            else:
                framed = False
                connection.read_to_end(body, limit, deadline)
        except TimeoutError:
            cut = "still arriving at timeout"
        except http.client.IncompleteRead:
            cut = "response cut short"
        except (OSError, http.client.HTTPException) as exc:
            cut = _failure(exc)
        if cut is not None:
            body += connection.buffer  # what arrived of the body; the connection is not reused
        encoding = headers.get("content-encoding", "identity").lower()
        if encoding in ("gzip", "x-gzip", "deflate") and cut is None:
            body, cut = _decompress(bytes(body), limit)
        if len(body) > limit:
            cut = cut or "larger than the limit"
        return bytes(body[:limit]), cut, framed and cut is None


class _Connection:
    """One socket and the bytes read from it that are not used yet."""

    __slots__ = ("sock", "buffer")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def is_usable(self) -> bool:
        """An idle connection with something to read was closed (or spoken on) by the server."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def close(self) -> None:
        self.sock.close()

    def fill(self, deadline: float) -> bool:
        """Read what arrives before `deadline` into the buffer; False at the end of the stream."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out")
        self.sock.settimeout(remaining)
        chunk = self.sock.recv(_RECV_BYTES)
        self.buffer += chunk
        return bool(chunk)

    def read_head(self, deadline: float) -> tuple[int, bytes, dict[str, str]]:
        buffer = self.buffer
        while True:
            end, width = buffer.find(b"\r\n\r\n"), 4
            if end < 0:
                end, width = buffer.find(b"\n\n"), 2
            if end >= 0:
                break
            if len(buffer) > MAX_HEAD_BYTES:
                raise http.client.LineTooLong("the answer's header section")
            try:
                more = self.fill(deadline)
            except _DROPPED:
                if buffer:
                    raise http.client.BadStatusLine("reset inside the answer's headers") from None
                raise
            if not more:
                if buffer:
                    raise http.client.BadStatusLine("the answer ended inside its headers")
                raise http.client.RemoteDisconnected("closed without an answer")
        lines = bytes(buffer[:end]).splitlines()
        del buffer[: end + width]
        return *_status(lines[0]), _headers(lines[1:])

    def read_exactly(self, length: int, into: bytearray, limit: int, deadline: float) -> None:
        """Move `length` bytes into `into`, stopping once it holds more than `limit`."""
        wanted = min(length, limit + 1 - len(into))
        while len(self.buffer) < wanted:
            if not self.fill(deadline):
                raise http.client.IncompleteRead(bytes(self.buffer))
        into += self.buffer[:wanted]
        del self.buffer[:wanted]

    def read_to_end(self, into: bytearray, limit: int, deadline: float) -> None:
        while len(self.buffer) <= limit and self.fill(deadline):
            pass
        into += self.buffer[: limit + 1]
        self.buffer.clear()

    def read_chunked(self, into: bytearray, limit: int, deadline: float) -> None:
        while len(into) <= limit:
            size = _chunk_size(self._read_line(deadline))
            if size == 0:
                while self._read_line(deadline).strip():  # trailer fields
                    pass
                return
            self.read_exactly(size, into, limit, deadline)
            if len(into) <= limit and self._read_line(deadline).strip():
                raise http.client.HTTPException("invalid chunked encoding")

    def _read_line(self, deadline: float) -> bytes:
        while (end := self.buffer.find(b"\n")) < 0:
            if len(self.buffer) > MAX_HEAD_BYTES:
                raise http.client.LineTooLong("a chunk line")
            if not self.fill(deadline):
                raise http.client.IncompleteRead(b"")
        line = bytes(self.buffer[: end + 1])
        del self.buffer[: end + 1]
        return line


def _status(line: bytes) -> tuple[int, bytes]:
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise http.client.BadStatusLine("not an HTTP/1.x status line")
    status = int(parts[1])
    if not 100 <= status <= 999:
        raise http.client.BadStatusLine("status code out of range")
    return status, parts[0]


def _headers(lines: list[bytes]) -> dict[str, str]:
    headers: dict[str, str] = {}
    name = ""
    for line in lines:
        if line[:1] in (b" ", b"\t") and name:  # an obsolete folded continuation line
            headers[name] += " " + line.strip().decode("latin-1")
            continue
        raw_name, colon, value = line.partition(b":")
        if not colon or not raw_name or raw_name != raw_name.strip():
            raise http.client.HTTPException("invalid header line")
        name, text = raw_name.decode("latin-1").lower(), value.strip().decode("latin-1")
        headers[name] = f"{headers[name]}, {text}" if name in headers else text
    return headers


def _content_length(headers: dict[str, str]) -> int:
    values = {value.strip() for value in headers["content-length"].split(",")}
    if len(values) != 1 or not (value := values.pop()).isdigit():
        raise http.client.HTTPException("invalid Content-Length")
    return int(value)


def _chunk_size(line: bytes) -> int:
    text = line.split(b";", 1)[0].strip()
    if not _CHUNK_SIZE.fullmatch(text):
        raise http.client.HTTPException("invalid chunk size")
    return int(text, 16)


def _decompress(body: bytes, limit: int) -> tuple[bytearray | bytes, str | None]:
    for window in (zlib.MAX_WBITS | 32, -zlib.MAX_WBITS):  # gzip or zlib, then raw deflate
        try:
            return zlib.decompressobj(window).decompress(body, limit + 1), None
        except zlib.error:
            continue
    return b"", "cannot decode the response body"


def _failure(exc: BaseException) -> str:
    if isinstance(exc, _DROPPED):
        return "connection reset"
    if isinstance(exc, http.client.HTTPException):
        return f"invalid HTTP response ({exc})"
    return f"network error: {getattr(exc, 'strerror', None) or type(exc).__name__}"
