"""The bundled fast webhook receiver: asyncio, HTTP/1.1 keep-alive, answers 202 with a messageId.

Appends `<unix time> <Idempotency-Key>` per request to --log (written every 0.1 s), like the nginx
receiver's access log, so both are read the same way. --delay-ms holds every answer that long
(the slow-receiver benchmark) without blocking other connections.
Usage: python -m benchmarks.receiver_server --port 9999 --log keys.log [--delay-ms 20]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time

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


class Receiver:
    """Shared state: the answer counter, the key log and the delay."""

    def __init__(self, *, delay: float, log_path: str) -> None:
        self.delay, self.log_path = delay, log_path
        self.lines: list[bytes] = []
        self.answered = 0

    def answer(self, transport: asyncio.Transport, key: bytes) -> None:
        self.answered += 1
        self.lines.append(b"%.6f %s\n" % (time.time(), key or b"-"))
        body = b'{"message":"Accepted","messageId":"m%d"}' % self.answered
        response = (
            b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        if self.delay:
            asyncio.get_running_loop().call_later(self.delay, transport.write, response)
        else:
            transport.write(response)

    def flush(self) -> None:
        if self.lines:
            lines, self.lines = self.lines, []
            with open(self.log_path, "ab") as log:
                log.writelines(lines)


class _Connection(asyncio.Protocol):
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

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
            self.receiver.answer(self.transport, _header(head, lowered, _KEY))

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
    args = parser.parse_args()
    receiver = Receiver(delay=args.delay_ms / 1000, log_path=args.log)
    asyncio.run(serve(port=args.port, receiver=receiver))


if __name__ == "__main__":
    main()
