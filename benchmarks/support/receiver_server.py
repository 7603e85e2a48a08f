"""The bundled webhook receiver: asyncio, HTTP/1.1 keep-alive, answers 202 with a messageId.

Appends `<unix time> <Idempotency-Key>` per request to --log (written every 0.1 s) when its
answer goes out, like the nginx receiver's access log, so both are read the same way.
--delay-ms holds every answer that long (the slow-receiver sections); --tail-every N with
--tail-ms holds every Nth answer (counted over the receiver's life) that long instead, the
heavy-tailed receiver. Delays never block other connections: each answer is a timer.
Usage: python -m benchmarks.support.receiver_server --port 9999 --log keys.log [--delay-ms 20]
       [--tail-every 100 --tail-ms 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from collections import deque
from dataclasses import dataclass

FLUSH_SECONDS = 0.1
_KEY = b"\r\nidempotency-key:"
_LENGTH = b"\r\ncontent-length:"


def _header(head: bytes, lowered: bytes, name: bytes) -> bytes:
    start = lowered.find(name)
    if start < 0:
        return b""
    start += len(name)
    end = lowered.find(b"\r\n", start)
    return head[start : end if end >= 0 else len(head)].strip()


@dataclass(frozen=True, slots=True)
class Latency:
    """How long answer number n waits: `tail` seconds for every `every`-th, else `delay`."""

    delay: float = 0.0
    tail: float = 0.0
    every: int = 0

    def of(self, number: int) -> float:
        return self.tail if self.every and number % self.every == 0 else self.delay


class Receiver:
    """Shared state: the answer counter, the key log and the latency."""

    def __init__(self, *, latency: Latency, log_path: str) -> None:
        self.latency, self.log_path = latency, log_path
        self.lines: list[bytes] = []
        self.answered = 0

    def answer(self) -> tuple[bytes, float]:
        """The next answer and how long to hold it."""
        self.answered += 1
        body = b'{"message":"Accepted","messageId":"m%d"}' % self.answered
        response = (
            b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        return response, self.latency.of(self.answered)

    def log(self, key: bytes) -> None:
        self.lines.append(b"%.6f %s\n" % (time.time(), key or b"-"))

    def flush(self) -> None:
        if self.lines:
            lines, self.lines = self.lines, []
            with open(self.log_path, "ab") as log:
                log.writelines(lines)


class _Connection(asyncio.Protocol):
    """One keep-alive connection; answers leave in request order even when delays differ."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.pending: deque[list] = deque()  # [response, key, is_ready], oldest first

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            lowered = head.lower()
            total = end + 4 + int(_header(head, lowered, _LENGTH) or 0)
            if len(self.buffer) < total:
                return
            del self.buffer[:total]
            self._respond(_header(head, lowered, _KEY))

    def _respond(self, key: bytes) -> None:
        response, delay = self.receiver.answer()
        entry = [response, key, False]
        self.pending.append(entry)
        if delay:
            asyncio.get_running_loop().call_later(delay, self._ready, entry)
        else:
            self._ready(entry)

    def _ready(self, entry: list) -> None:
        entry[2] = True
        # A pipelining client must get its answers in order, so a late one holds later ones.
        while self.pending and self.pending[0][2]:
            response, key, _ = self.pending.popleft()
            self.receiver.log(key)
            if self.transport is not None:
                self.transport.write(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(*, port: int, receiver: Receiver) -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    server = await loop.create_server(
        lambda: _Connection(receiver), "127.0.0.1", port, reuse_address=True, backlog=2048
    )
    async with server:
        while not stopping.is_set():
            try:
                await asyncio.wait_for(stopping.wait(), FLUSH_SECONDS)
            except TimeoutError:
                pass
            receiver.flush()
    receiver.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--tail-ms", type=float, default=0.0)
    parser.add_argument("--tail-every", type=int, default=0, help="0: no tail")
    args = parser.parse_args()
    latency = Latency(args.delay_ms / 1000, args.tail_ms / 1000, args.tail_every)
    receiver = Receiver(latency=latency, log_path=args.log)
    asyncio.run(serve(port=args.port, receiver=receiver))


if __name__ == "__main__":
    main()
