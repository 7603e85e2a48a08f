"""Loopback receivers that answer with exact bytes and exact timing, for the HTTP stack's tests.

    server = RawServer(b"HTTP/1.1 202 Accepted\\r\\nContent-Length: 0\\r\\n\\r\\n", CLOSE, ...)

Each request is read whole; then the next scripted answer is played: bytes are sent as they are
(one sendall) and the connection stays open for the next request, CLOSE closes it after the
previous answer, and the helpers below stall, drip, hang up or reset as a receiver could.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
from collections import deque
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, BinaryIO

from adapters.webhook_client import HttpWebhookSender

# An action gets the connection, the request it answers and the server's stop event, and
# says whether the connection stays open for another request.
Action = Callable[[socket.socket, bytes, threading.Event], bool]
CLOSE = b""  # in a script: close the connection after the previous answer


def answer(status: str, body: bytes = b"", *, head: bytes = b"") -> bytes:
    """An HTTP/1.1 answer with Content-Length, `head` holding any further header lines."""
    length = b"Content-Length: %d\r\n" % len(body)
    return b"HTTP/1.1 " + status.encode() + b"\r\n" + head + length + b"\r\n" + body


def accepted(message_id: str) -> bytes:
    return answer("202 Accepted", b'{"messageId":"%s"}' % message_id.encode())


@contextlib.contextmanager
def serving(
    *answers: bytes | Action,
    path: str = "/hook",
    userinfo: str = "",
    scheme: str = "http",
    tls: ssl.SSLContext | None = None,
    **sender_options: Any,
) -> Iterator[tuple[RawServer, HttpWebhookSender]]:
    """A RawServer playing `answers` and a sender posting to it (2 s timeout unless given)."""
    server = RawServer(*answers, tls=tls)
    url = server.url(path, scheme=scheme)
    if userinfo:
        url = url.replace("//", f"//{userinfo}@", 1)
    sender_options.setdefault("timeout", timedelta(seconds=2))
    try:
        with HttpWebhookSender(url=url, **sender_options) as sender:
            yield server, sender
    finally:
        server.close()


class LoopbackServer:
    """Accepts TCP connections on 127.0.0.1 and serves each in its own thread."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.connections = 0
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "/hook", *, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.stop.set()
        self._listener.close()
        with self._lock:
            still_open = list(self._open)
        for sock in still_open:
            _shut(sock)

    def serve(self, sock: socket.socket, number: int) -> None:
        raise NotImplementedError

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._open.add(sock)
                number = self.connections
            threading.Thread(target=self._serve, args=(sock, number), daemon=True).start()

    def _serve(self, sock: socket.socket, number: int) -> None:
        try:
            with sock:
                self.serve(sock, number)
        except (OSError, ValueError):
            pass  # the client went away: part of the script
        finally:
            with self._lock:
                self._open.discard(sock)


class RawServer(LoopbackServer):
    """Plays a script of answers (bytes, CLOSE or actions) to the requests, in order."""

    def __init__(
        self, *answers: bytes | Action, tls: ssl.SSLContext | None = None, tls_after: float = 0.0
    ) -> None:
        self._answers = deque(answers)
        self._tls, self._tls_after = tls, tls_after  # a handshake that starts `tls_after` s late
        self.requests: list[tuple[int, bytes]] = []  # (connection number, request bytes)
        super().__init__()

    def requests_holding(self, text: str) -> list[int]:
        """The connection numbers of the requests that contain `text`."""
        return [number for number, request in self.requests if text.encode() in request]

    def serve(self, sock: socket.socket, number: int) -> None:
        if self._tls is not None:
            if self.stop.wait(self._tls_after):
                return
            sock = self._tls.wrap_socket(sock, server_side=True)
        with sock, sock.makefile("rb") as stream:
            while request := read_request(stream):
                self.requests.append((number, request))
                with self._lock:  # an answer and its CLOSE are taken together
                    answer = self._answers.popleft() if self._answers else CLOSE
                    is_closing = bool(self._answers) and self._answers[0] == CLOSE
                    if is_closing:
                        self._answers.popleft()
                if callable(answer):
                    if not answer(sock, request, self.stop):
                        return
                    continue
                sock.sendall(answer)
                if is_closing or answer == CLOSE:
                    return


def read_request(stream: BinaryIO) -> bytes:
    """One request, head and Content-Length body; b"" when the connection ended first."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = stream.readline()
        if not line:
            return b""
        head += line
    fields = [line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line]
    length = sum(int(value) for name, value in fields if name.lower() == b"content-length")
    return head + stream.read(length)


def drip(head: bytes, tail: bytes = b"", *, after: float = 0.0, every: float = 0.3) -> Action:
    """Wait `after` seconds, send `head`, then `tail` one byte every `every` seconds."""

    def act(sock: socket.socket, request: bytes, stop: threading.Event) -> bool:
        if stop.wait(after):
            return False
        sock.sendall(head)
        for index in range(len(tail)):
            if stop.wait(every):
                break
            sock.sendall(tail[index : index + 1])
        return False

    return act


def hang_up(*, after: float = 0.0) -> Action:
    """Read the request, then close the connection `after` seconds later without a byte."""

    def act(sock: socket.socket, request: bytes, stop: threading.Event) -> bool:
        stop.wait(after)
        return False

    return act


def never_answer(sock: socket.socket, request: bytes, stop: threading.Event) -> bool:
    """Read the request, then say nothing until the client leaves."""
    wait_for_the_client_to_leave(sock, stop)
    return False


def reset_after(data: bytes, *, pause: float) -> Action:
    """Send `data`, and `pause` seconds later drop the connection with a TCP reset."""

    def act(sock: socket.socket, request: bytes, stop: threading.Event) -> bool:
        sock.sendall(data)
        stop.wait(pause)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False

    return act


def echo(sock: socket.socket, request: bytes, stop: threading.Event) -> bool:
    """Answer 500 with the request itself as the body, as some receivers do."""
    sock.sendall(b"HTTP/1.1 500 Echo\r\nContent-Length: %d\r\n\r\n%s" % (len(request), request))
    return True


def wait_for_the_client_to_leave(sock: socket.socket, stop: threading.Event) -> None:
    sock.settimeout(0.05)  # not select(): these tests also run with descriptors above 1,024
    while not stop.is_set():
        try:
            if not sock.recv(65536):
                return
        except TimeoutError:
            continue


class StalledTlsServer(LoopbackServer):
    """Accepts TCP and reads the ClientHello; then either says nothing or drips a TLS record
    that never completes, one byte every 0.3 s, so that no single read ever times out."""

    def __init__(self, *, drips: bool) -> None:
        self._drips = drips
        super().__init__()

    def serve(self, sock: socket.socket, number: int) -> None:
        sock.recv(65536)
        if not self._drips:
            wait_for_the_client_to_leave(sock, self.stop)
            return
        sock.sendall(b"\x16\x03\x03\x40\x00")  # a handshake record of 16 KiB is coming...
        while not self.stop.wait(0.3):
            sock.sendall(b"\x00")


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
