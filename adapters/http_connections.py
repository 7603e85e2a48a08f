"""urllib3 connections and pools that report to the call deadline and discard spent connections.

- Every socket a call uses is watched by its CallDeadline: a new one as soon as it is connected
  (`_new_conn`, so the TLS handshake and a proxy's CONNECT are covered too) and a pooled one when
  a request starts on it.
- The response class tells the deadline whether any byte of an answer arrived (the one resend
  of a dropped keep-alive connection depends on it) and turns a header section that the
  deadline cut short into a timeout instead of a short but valid-looking answer.
- When a response ends, anything already there after it (data after the body, a body longer
  than its Content-Length, a body after a 204) means the next answer on that connection could
  be misread as another message's: such a connection is closed, never pooled. urllib3 also
  drops an idle connection that became readable when it is checked out of the pool.
"""

from __future__ import annotations

import functools
import http.client
import socket
import ssl
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from adapters.http_deadline import current_call


class _EndCheckedResponse(http.client.HTTPResponse):
    def __init__(
        self, sock: socket.socket, *args: Any, connection: HTTPConnection, **kwargs: Any
    ) -> None:
        super().__init__(sock, *args, **kwargs)
        self._sock = sock
        self._connection = connection

    def _read_status(self) -> Any:
        call = current_call()
        if call is not None and self.fp.peek(1):  # waits just as the readline that follows
            call.is_answered = True
        return super()._read_status()

    def begin(self) -> None:
        super().begin()
        call = current_call()
        if call is not None and call.is_fired:
            # The shutdown ends the header section as if it were complete.
            raise TimeoutError("the header section was still arriving at the deadline")

    def _close_conn(self) -> None:
        has_more = self.fp is not None and _has_bytes_waiting(self.fp, self._sock)
        super()._close_conn()
        if has_more:
            self._connection.close()


def _has_bytes_waiting(fp: Any, sock: socket.socket) -> bool:
    """Whether bytes are already there: in the reader's buffer, or in the socket."""
    try:
        timeout = sock.gettimeout()
        sock.settimeout(0)  # look, never wait
        try:
            return bool(fp.peek(1))  # b"" for nothing yet, and for the end of the stream
        finally:
            sock.settimeout(timeout)
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    except (OSError, ValueError):  # a socket that cannot even be asked is not reused either
        return True


class _DeadlineAware:
    """Mixed into urllib3's connections (see the module docstring)."""

    _is_socket_new = False  # connected for this request rather than taken from the pool

    @property
    def response_class(self) -> Any:
        return functools.partial(_EndCheckedResponse, connection=self)

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        self._is_socket_new = True
        call = current_call()
        if call is not None:
            call.watch(sock)
        return sock

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        call = current_call()
        if call is not None:
            call.is_connected = True

    def request(self, *args: Any, **kwargs: Any) -> None:
        call, sock = current_call(), getattr(self, "sock", None)
        if call is not None and sock is not None and not self._is_socket_new:
            call.is_reused = call.is_connected = True
            call.watch(sock)
        try:
            super().request(*args, **kwargs)  # type: ignore[misc]
        finally:
            self._is_socket_new = False


class _DeadlineHTTPConnection(_DeadlineAware, HTTPConnection):
    pass


class _DeadlineHTTPSConnection(_DeadlineAware, HTTPSConnection):
    pass


class _ReleaseChecked:
    """Mixed into urllib3's pools: a connection whose call ran out of time is never pooled."""

    def _put_conn(self, conn: HTTPConnection | None) -> None:
        call = current_call()
        if conn is not None and call is not None and not call.release():
            conn.close()  # the watchdog may have shut its socket down
        super()._put_conn(conn)  # type: ignore[misc]


class DeadlineHTTPConnectionPool(_ReleaseChecked, HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class DeadlineHTTPSConnectionPool(_ReleaseChecked, HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


POOL_CLASSES = {"http": DeadlineHTTPConnectionPool, "https": DeadlineHTTPSConnectionPool}
