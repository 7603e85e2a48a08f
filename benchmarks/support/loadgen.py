"""The Python load generator, used when wrk is not installed: keep-alive POSTs for N seconds.

Each of `--threads` threads holds one http.client connection and POSTs the body back to back
until the time is up, timing every request. Run several processes to use several cores; each
writes {"requests", "non_2xx", "errors", "seconds", "latencies_ms"} as JSON to `--out`.
Usage: python -m benchmarks.support.loadgen --url URL --body-file F --token T --seconds 20 --out F
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit


class Tally:
    """What the threads of one process saw; each thread appends under the lock at its end."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.non_2xx = 0
        self.errors = 0


def hammer(url: str, *, body: bytes, headers: dict[str, str], until: float, tally: Tally) -> None:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    latencies, non_2xx, errors = [], 0, 0
    while time.monotonic() < until:
        started = time.perf_counter()
        try:
            conn.request("POST", parts.path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            continue
        latencies.append((time.perf_counter() - started) * 1000)
        non_2xx += not 200 <= response.status < 300
    conn.close()
    with tally.lock:
        tally.latencies += latencies
        tally.non_2xx += non_2xx
        tally.errors += errors


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--body-file", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--out", required=True)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    body = Path(args.body_file).read_bytes()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {args.token}"}
    tally, started = Tally(), time.monotonic()
    work = {"body": body, "headers": headers, "until": started + args.seconds, "tally": tally}
    threads = [
        threading.Thread(target=hammer, args=(args.url,), kwargs=work) for _ in range(args.threads)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=args.seconds + 60)
    result = {
        "requests": len(tally.latencies),
        "non_2xx": tally.non_2xx,
        "errors": tally.errors,
        "seconds": time.monotonic() - started,
        "latencies_ms": tally.latencies,
    }
    Path(args.out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
