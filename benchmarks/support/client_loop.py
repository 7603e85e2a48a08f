"""Client-side loads on a receiver: the plain requests loop (the ceiling) and a raw blast.

- `loop`: POST `--count` payloads shaped like the dispatcher's (`{"to", "content"}` JSON with an
  Idempotency-Key) with one `requests.Session` in one thread, or with `--threads` threads, each
  with its own Session (the slow-receiver comparison).
- `blast`: pipelined raw HTTP/1.1 on one socket for `--seconds`: the receiver's own capacity.
Prints one JSON line: {"sent", "ok", "seconds"}.
Usage: python -m benchmarks.support.client_loop loop --url URL --count N [--threads T]
"""

from __future__ import annotations

import argparse
import json
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import requests

PIPELINE_DEPTH = 64
_MARKER = b"HTTP/1.1 "


def payloads(count: int) -> list[tuple[bytes, str]]:
    """`count` bodies and Idempotency-Keys (UUIDs, like message ids)."""
    return [
        (
            json.dumps({"to": f"+90555{n:07d}", "content": f"bench {n}"}).encode(),
            str(uuid.uuid4()),
        )
        for n in range(count)
    ]


def post_all(url: str, work: list[tuple[bytes, str]], *, deadline: float) -> int:
    """The plain loop: one Session, one POST after another; returns the 2xx count."""
    ok = 0
    with requests.Session() as session:
        for body, key in work:
            if time.monotonic() > deadline:
                break
            headers = {"Content-Type": "application/json", "Idempotency-Key": key}
            response = session.post(url, data=body, headers=headers, timeout=30)
            ok += 200 <= response.status_code < 300
    return ok


def run_loop(args: argparse.Namespace) -> dict[str, float]:
    work = payloads(args.count)
    deadline = time.monotonic() + args.timeout
    started = time.monotonic()
    if args.threads == 1:
        ok = post_all(args.url, work, deadline=deadline)
    else:
        slices = [work[n :: args.threads] for n in range(args.threads)]
        with ThreadPoolExecutor(max_workers=args.threads) as pool:
            ok = sum(pool.map(lambda part: post_all(args.url, part, deadline=deadline), slices))
    return {"sent": len(work), "ok": ok, "seconds": time.monotonic() - started}


def run_blast(args: argparse.Namespace) -> dict[str, float]:
    """Pipelined requests, PIPELINE_DEPTH at a time, counting the answers that come back."""
    parts = urlsplit(args.url)
    body = b'{"to":"+905550000000","content":"capacity"}'
    request = (
        b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s"
        % (parts.path.encode(), parts.netloc.encode(), len(body), body)
    )
    answered, started = 0, time.monotonic()
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        while time.monotonic() - started < args.seconds:
            conn.sendall(request * PIPELINE_DEPTH)
            answered += _read_answers(conn, PIPELINE_DEPTH)
    return {"sent": answered, "ok": answered, "seconds": time.monotonic() - started}


def _read_answers(conn: socket.socket, expected: int) -> int:
    seen, carry = 0, b""
    while seen < expected:
        data = conn.recv(1 << 16)
        if not data:
            break
        window = carry + data
        seen += window.count(_MARKER)
        carry = window[-(len(_MARKER) - 1) :]
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["loop", "blast"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    result = run_loop(args) if args.mode == "loop" else run_blast(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
