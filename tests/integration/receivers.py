"""A scripted loopback webhook receiver for integration and end-to-end tests, and its fixture.

    def test_something(receiver):            # fixture: a running ScriptedReceiver
        receiver.script(Reply(status=503), Reply(status=202))
        ... POST to receiver.url ...
        assert receiver.count(str(message.id)) == 2

Unscripted requests get 202 `{"message": "Accepted", "messageId": "<uuid4>"}`.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import pytest

_TLS_HANDSHAKE = b"\x16"
_PLAIN_400 = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@dataclass(frozen=True)
class Reply:
    """How the receiver answers one request.

    `action`: "answer"; "reset" reads the request, then drops the connection with a TCP reset
    and no answer; "drip" sends the body one byte every `drip_interval` seconds.
    `delay`: seconds to wait before answering. `stale_after`: after answering, keep the
    connection until the client reuses it, then drop it unread, as a server whose keep-alive
    timeout fired at that moment would.
    """

    status: int = 202
    body: bytes | str | dict[str, Any] | list[Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    action: Literal["answer", "reset", "drip"] = "answer"
    drip_interval: float = 0.05
    stale_after: bool = False

    def payload(self) -> bytes:
        if self.body is None:
            return json.dumps({"message": "Accepted", "messageId": str(uuid.uuid4())}).encode()
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    json: Any  # the body parsed as JSON, None if it is not JSON
    connection: int  # the client's port: equal for requests on one keep-alive connection
    received_at: float = 0.0  # time.monotonic() when the request had arrived

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle keep-alive connection ends on its own eventually
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as two writes: without this, Nagle's algorithm holds the
        # body until the client's delayed ACK (about 40 ms), as no real receiver does.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.receiver._opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.receiver._closed(self.connection)

    def handle_one_request(self) -> None:
        try:
            first = self.rfile.peek(1)[:1]
        except OSError:
            self.close_connection = True
            return
        if first == _TLS_HANDSHAKE:  # https to this plain server: answer as nginx or Go would
            self.wfile.write(_PLAIN_400)
            self.close_connection = True
            return
        super().handle_one_request()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `receiver.requests` instead."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        reply = self.server.receiver._record(self, body)
        try:
            self._reply(reply)
        finally:
            self.server.receiver._call_ended(self.headers.get("Idempotency-Key"))

    def _reply(self, reply: Reply) -> None:
        if reply.delay and self._hung_up_within(reply.delay):
            self.close_connection = True
            return
        if reply.action == "reset":
            self._reset()
            return
        self._answer(reply)
        if reply.stale_after:
            select.select([self.connection], [], [], self.timeout)
            self._reset()

    def _answer(self, reply: Reply) -> None:
        payload = reply.payload()
        self.send_response(reply.status)
        headers = {"Content-Type": "application/json", **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if reply.action != "drip":
            self.wfile.write(payload)
            return
        for index in range(len(payload)):
            if self._hung_up_within(reply.drip_interval):
                break
            self.wfile.write(payload[index : index + 1])
        self.close_connection = True

    def _hung_up_within(self, seconds: float) -> bool:
        """Wait `seconds`; True at once if the client hung up or the receiver is stopping, so a
        call the client gave up on ends here too (the overlap check counts open calls)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.server.receiver._stopping.is_set():
                return True
            readable, _, _ = select.select([self.connection], [], [], min(left, 0.02))
            if readable:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        return True
                except OSError:
                    return True
                return self.server.receiver._stopping.wait(left)  # bytes, not a hang-up
        return self.server.receiver._stopping.is_set()

    def _reset(self) -> None:
        """Close with SO_LINGER 0: the client gets a TCP reset, not an orderly end of stream."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.rfile.close()  # drops the makefile's reference, so close() really closes
        self.connection.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # handler threads are joined by server_close()

    allow_reuse_address = True  # a receiver may come back on the port of one that went
    # socketserver's default backlog of 5 turns the sixth simultaneous connect into a SYN
    # retried a second later, as no real receiver does.
    request_queue_size = 128

    def __init__(self, receiver: ScriptedReceiver, port: int) -> None:
        self.receiver = receiver
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer is part of the script, not a failure."""


class ScriptedReceiver:
    """A loopback HTTP/1.1 keep-alive server; answers follow the script, then `default` (202
    with a messageId unless changed). `port`: a given one (0: any free one)."""

    def __init__(self, *, port: int = 0) -> None:
        self.default = Reply()
        self._changed = threading.Condition()
        self._script: deque[Reply] = deque()
        self._requests: list[ReceivedRequest] = []
        self._connections: set[socket.socket] = set()
        self._open_calls: Counter[str | None] = Counter()
        self.overlapping: set[str | None] = set()  # keys that ever had two calls open at once
        self._stopping = threading.Event()
        self._server = _Server(self, port)
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/webhook"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # how long close() waits for the accept loop
            name="scripted-receiver",
            daemon=True,
        )

    def __enter__(self) -> ScriptedReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def script(self, *replies: Reply) -> None:
        """Queue the answers to the next requests, in order."""
        with self._changed:
            self._script.extend(replies)

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._changed:
            return list(self._requests)

    def counts(self) -> Counter[str | None]:
        """How many requests arrived per Idempotency-Key."""
        return Counter(request.idempotency_key for request in self.requests)

    def count(self, idempotency_key: str) -> int:
        return self.counts()[idempotency_key]

    def wait_for(self, count: int, *, timeout: float = 10.0) -> list[ReceivedRequest]:
        """Block until at least `count` requests arrived (or fail after `timeout` seconds)."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self._requests) >= count, timeout)
            assert arrived, f"expected {count} requests, got {len(self._requests)}"
            return list(self._requests)

    def close(self) -> None:
        """Stop serving, end every open connection and join every thread."""
        self._stopping.set()
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        with self._changed:
            open_connections = list(self._connections)
        for connection in open_connections:
            _shut(connection)
        self._server.server_close()

    def _opened(self, connection: socket.socket) -> None:
        with self._changed:
            self._connections.add(connection)
        if self._stopping.is_set():
            _shut(connection)

    def _call_ended(self, key: str | None) -> None:
        with self._changed:
            self._open_calls[key] -= 1

    def _closed(self, connection: socket.socket) -> None:
        with self._changed:
            self._connections.discard(connection)

    def _record(self, handler: _Handler, body: bytes) -> Reply:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        request = ReceivedRequest(
            method=handler.command,
            path=handler.path,
            headers={name.lower(): value for name, value in handler.headers.items()},
            body=body,
            json=parsed,
            connection=handler.client_address[1],
            received_at=time.monotonic(),
        )
        with self._changed:
            self._open_calls[request.idempotency_key] += 1
            if self._open_calls[request.idempotency_key] > 1:
                self.overlapping.add(request.idempotency_key)
            self._requests.append(request)
            self._changed.notify_all()
            return self._script.popleft() if self._script else self.default


def _shut(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by its handler


def closed_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def receiver() -> Iterator[ScriptedReceiver]:
    """A running ScriptedReceiver on 127.0.0.1, shut down after the test."""
    with ScriptedReceiver() as running:
        yield running


@pytest.fixture
def webhook(settings, receiver: ScriptedReceiver) -> Iterator[ScriptedReceiver]:
    """The API's dispatcher delivers to `receiver`, with a tiny backoff, the scheduler on."""
    from messaging.bootstrap import close_dispatchers  # Django is set up by now

    conf = settings.DISPATCHER
    settings.DISPATCHER = {
        **conf,
        "webhook_url": receiver.url,
        "webhook_timeout": timedelta(seconds=5),
        "webhook_backoff_base": timedelta(milliseconds=50),
        "scheduler_enabled": True,
        "scheduler_interval": timedelta(minutes=2),
    }
    close_dispatchers()
    yield receiver
    close_dispatchers()
