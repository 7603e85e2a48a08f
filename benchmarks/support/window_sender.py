"""The sliding-window sender: exactly C requests calls in flight, a new one as soon as one ends.

The ceiling for a dispatcher at `--concurrency C`, with no database: C threads, each with its
own `requests.Session`, take the next payload from one shared queue the moment their call ends,
so a slow answer holds one slot, never a batch. Bodies and headers are shaped like the
dispatcher's webhook calls (benchmarks/support/client_loop.py's payloads, JSON, User-Agent,
Idempotency-Key). Prints one JSON line: {"sent", "ok", "seconds"}.
Usage: python -m benchmarks.support.window_sender --url URL --count N --concurrency C
"""

from __future__ import annotations

import argparse
import json
import queue
import threading
import time

import requests

from benchmarks.support.client_loop import payloads

USER_AGENT = "message-dispatcher/1.0.0"


def send_until_empty(url: str, work: queue.SimpleQueue, *, deadline: float) -> int:
    """One slot of the window: POST the next payload until none is left; the 2xx count."""
    ok = 0
    with requests.Session() as session:
        while time.monotonic() < deadline:
            try:
                body, key = work.get_nowait()
            except queue.Empty:
                break
            headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                       "Idempotency-Key": key}  # fmt: skip
            response = session.post(url, data=body, headers=headers, timeout=30)
            ok += 200 <= response.status_code < 300
    return ok


def run(url: str, *, count: int, concurrency: int, timeout: float) -> dict[str, float]:
    work: queue.SimpleQueue = queue.SimpleQueue()
    for item in payloads(count):
        work.put(item)
    counts: list[int] = []
    deadline, started = time.monotonic() + timeout, time.monotonic()

    def slot() -> None:
        counts.append(send_until_empty(url, work, deadline=deadline))

    threads = [threading.Thread(target=slot) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"sent": count, "ok": sum(counts), "seconds": time.monotonic() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    found = run(args.url, count=args.count, concurrency=args.concurrency, timeout=args.timeout)
    print(json.dumps(found))


if __name__ == "__main__":
    main()
