"""A stand-in for the real webhook: answers POSTs the way it does, for demos and tests."""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024


class DemoWebhookHandler(BaseHTTPRequestHandler):
    """202 `{"message": "Accepted", "messageId": <uuid4>}` for `{"to", "content"}` JSON."""

    protocol_version = "HTTP/1.1"  # keep-alive, so every answer carries a Content-Length
    timeout = 60  # idle keep-alive connections are closed after a minute
    server: DemoWebhookServer

    def do_POST(self) -> None:
        status, answer = self._judge()
        if status == 202 and self.server.latency:
            self.server.stopping.wait(self.server.latency.total_seconds())
        if status == 202 and self.server.should_fail():
            status, answer = 500, {"message": "Simulated failure"}
        self._reply(status, answer=answer)
        logger.info(
            "%s %s -> %d (Idempotency-Key %s)",
            self.command,
            self.path,
            status,
            self.headers.get("Idempotency-Key", "-"),
        )

    def _judge(self) -> tuple[int, dict[str, Any]]:
        """Read the body and check it is the dispatcher's JSON."""
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            return 411, {"message": "A Content-Length header is required"}
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True  # the unread body would corrupt the next request
            return 413, {"message": f"The body is over {MAX_BODY_BYTES} bytes"}
        try:
            document = json.loads(self.rfile.read(int(length)))
        except ValueError:
            return 400, {"message": "The body is not JSON"}
        fields = ("to", "content")
        if not isinstance(document, dict) or not all(
            isinstance(document.get(f), str) for f in fields
        ):
            return 400, {"message": 'Expected a JSON object with string "to" and "content"'}
        return 202, {"message": "Accepted", "messageId": str(uuid.uuid4())}

    def _reply(self, status: int, *, answer: dict[str, Any]) -> None:
        body = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """http.server's own lines (bad request lines, timeouts) go to logging, quietly."""
        logger.debug("%s %s", self.address_string(), format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Requests are logged by do_POST, with their Idempotency-Key."""


class DemoWebhookServer(ThreadingHTTPServer):
    """Threaded HTTP/1.1 server; `fail_rate` of the valid requests get a 500 instead of a 202."""

    daemon_threads = True  # an idle keep-alive connection must not keep the process alive

    def __init__(
        self,
        address: tuple[str, int],
        *,
        fail_rate: float = 0.0,
        latency: timedelta = timedelta(0),
        rng: random.Random | None = None,
    ) -> None:
        if not 0.0 <= fail_rate <= 1.0:
            raise ValueError(f"fail_rate must be between 0 and 1, got {fail_rate}")
        if latency < timedelta(0):
            raise ValueError("latency must not be negative")
        self.fail_rate = fail_rate
        self.latency = latency
        self.stopping = threading.Event()
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        super().__init__(address, DemoWebhookHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def should_fail(self) -> bool:
        with self._rng_lock:
            return self._rng.random() < self.fail_rate

    def stop(self) -> None:
        """Stop serving (call from another thread than serve_forever's) and close the socket."""
        self.stopping.set()
        self.shutdown()
        self.server_close()
