"""The soak's webhook receiver: a loopback server that fails some calls and answers late."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FlakyReceiver(ThreadingHTTPServer):
    """Answers 202 with a messageId, or 500 for `fail_rate` of calls; counts 2xx per key."""

    daemon_threads = True

    def __init__(self, *, fail_rate: float, latency_ms: tuple[int, int], seed: int) -> None:
        self.fail_rate, self.latency_ms = fail_rate, latency_ms
        self.accepted: Counter[str] = Counter()
        self.calls = 0
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        super().__init__(("127.0.0.1", 0), _FlakyHandler)

    def handle_error(self, request: object, client_address: object) -> None:
        """A killed dispatcher's connections reset: expected here, not worth a traceback."""

    def decide(self) -> tuple[bool, float]:
        with self._lock:
            self.calls += 1
            return self._rng.random() < self.fail_rate, self._rng.uniform(*self.latency_ms) / 1000


class _FlakyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FlakyReceiver

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fails, delay = self.server.decide()
        time.sleep(delay)  # the receiver's latency, which is what this run simulates
        key = self.headers.get("Idempotency-Key", "")
        status, body = (500, b'{"message":"flaky"}') if fails else (202, b'{"messageId":"x"}')
        if not fails:
            with self.server._lock:
                self.server.accepted[key] += 1
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass
