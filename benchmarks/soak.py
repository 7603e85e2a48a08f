"""`make soak`: many messages, several dispatchers, a flaky receiver and regular SIGKILLs.

Creates a scratch database beside the configured one, seeds N messages, runs D dispatchers
against a loopback receiver that fails 10% of calls at random with 5-50 ms latency, kills one
dispatcher every K seconds and starts a new one, then reconciles: created = sent + failed,
no message lost, duplicates counted (only messages in flight at a kill may repeat), and the
peak RSS of each dispatcher at the start and the end of its life. Exits 1 on any lost message.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WARM_UP_SECONDS = 5.0


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


@dataclass
class Dispatcher:
    """One dispatcher process and the RSS samples of its life (kB)."""

    popen: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)
    rss: list[int] = field(default_factory=list)

    def sample(self) -> None:
        if time.monotonic() - self.started < WARM_UP_SECONDS:
            return  # the interpreter is still importing; the first sample is the warm process
        try:
            status = Path(f"/proc/{self.popen.pid}/status").read_text()
        except OSError:
            return
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                self.rss.append(int(line.split()[1]))


def scratch_database_url(name: str) -> str:
    """The configured (or embedded) PostgreSQL, with a fresh database `name` on it."""
    import psycopg

    base = os.environ.get("DATABASE_URL")
    if not base:
        from dispatcher_project.embedded_postgres import embedded_database_url

        base = embedded_database_url(ROOT / ".data" / "postgres")
    parts = urlsplit(base)
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def seed(count: int) -> None:
    from core_domain.use_cases.create_messages import NewMessage
    from messaging.bootstrap import use_cases

    for start in range(0, count, 1000):
        items = [
            NewMessage(phone_number=f"+90555{n % 10_000_000:07d}", content=f"soak {n}")
            for n in range(start, min(count, start + 1000))
        ]
        use_cases().create_messages.execute(items=items)


def spawn(env: dict[str, str], logs: Path, number: int) -> Dispatcher:
    log = (logs / f"dispatcher-{number}.log").open("w")
    argv = [sys.executable, "manage.py", "run_dispatcher", "--drain", "--interval", "1s",
            "--batch-size", "50", "--concurrency", "8"]  # fmt: skip
    return Dispatcher(subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=log))


def finished_count() -> tuple[int, int, int]:
    from messaging import models

    counts = dict(
        models.Message.objects.values_list("status").annotate(n=models.models.Count("id"))
    )
    return counts.get("SENT", 0), counts.get("FAILED", 0), sum(counts.values())


def in_flight(dispatcher: Dispatcher) -> set[str]:
    """Messages the dispatcher holds (SENDING, locked by its worker id host-pid-xxxx)."""
    from messaging import models

    prefix = f"{socket.gethostname()}-{dispatcher.popen.pid}-"
    rows = models.Message.objects.filter(status="SENDING", locked_by__startswith=prefix)
    return {str(i) for i in rows.values_list("id", flat=True)}


class Fleet:
    """The dispatcher processes of the run: started, killed and replaced, all remembered."""

    def __init__(self, *, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.running: list[Dispatcher] = []
        self.retired: list[Dispatcher] = []
        self.in_flight_at_kills: set[str] = set()
        self.kills = 0

    def start(self) -> None:
        number = len(self.running) + len(self.retired)
        self.running.append(spawn(self.env, self.logs, number))

    def kill_one_and_replace(self) -> None:
        victim = self.running.pop(0)
        self.in_flight_at_kills |= in_flight(victim)
        victim.popen.send_signal(signal.SIGKILL)
        victim.popen.wait()
        self.in_flight_at_kills |= in_flight(victim)  # claims that landed during the kill
        self.retired.append(victim)
        self.kills += 1
        self.start()

    def stop(self) -> None:
        for dispatcher in self.running:
            dispatcher.sample()
            dispatcher.popen.send_signal(signal.SIGTERM)
            dispatcher.popen.wait(timeout=60)
        self.retired.extend(self.running)
        self.running = []


def drive(args: argparse.Namespace, fleet: Fleet) -> float:
    """Run until every message is SENT or FAILED (or the timeout); returns the seconds taken."""
    for _ in range(args.dispatchers):
        fleet.start()
    started = last_kill = time.monotonic()
    while time.monotonic() - started < args.timeout:
        sent, failed, total = finished_count()
        if sent + failed == total:
            break
        for dispatcher in fleet.running:
            dispatcher.sample()
        if time.monotonic() - last_kill >= args.kill_every:
            fleet.kill_one_and_replace()
            last_kill = time.monotonic()
        time.sleep(1)
    elapsed = time.monotonic() - started
    fleet.stop()
    return elapsed


def reconcile(receiver: FlakyReceiver, fleet: Fleet, elapsed: float) -> dict[str, object]:
    from messaging import models

    sent, failed, total = finished_count()
    sent_ids = models.Message.objects.filter(status="SENT").values_list("id", flat=True)
    duplicated = {key for key, n in receiver.accepted.items() if n > 1}
    lives = [d.rss for d in fleet.retired if len(d.rss) >= 2]
    return {
        "created": total, "sent": sent, "failed": failed, "lost": total - sent - failed,
        "sent_but_never_accepted": len({str(i) for i in sent_ids} - set(receiver.accepted)),
        "duplicates": len(duplicated),
        "duplicates_not_in_flight_at_a_kill": len(duplicated - fleet.in_flight_at_kills),
        "in_flight_at_kills": len(fleet.in_flight_at_kills), "kills": fleet.kills,
        "webhook_calls": receiver.calls, "seconds": round(elapsed, 1),
        "messages_per_second": round(total / elapsed, 1) if elapsed else 0.0,
        "dispatcher_rss_kb_start_max": max((life[0] for life in lives), default=0),
        "dispatcher_rss_kb_end_max": max((life[-1] for life in lives), default=0),
    }  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, object]:
    receiver = FlakyReceiver(fail_rate=args.fail_rate, latency_ms=(5, 50), seed=args.seed)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    env = {**os.environ, "WEBHOOK_URL": f"http://127.0.0.1:{receiver.server_address[1]}/",
           "WEBHOOK_MAX_RETRIES": "5", "WEBHOOK_BACKOFF_BASE": "200ms", "WEBHOOK_BACKOFF_MAX": "2s",
           "WEBHOOK_TIMEOUT": "2s", "WEBHOOK_LEASE": "10s", "LOG_LEVEL": "warning"}  # fmt: skip
    logs = RESULTS / "soak-logs"
    logs.mkdir(parents=True, exist_ok=True)
    fleet = Fleet(env=env, logs=logs)
    try:
        elapsed = drive(args, fleet)
    finally:
        fleet.stop()
        receiver.shutdown()
    return reconcile(receiver, fleet, elapsed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--dispatchers", type=int, default=3)
    parser.add_argument("--kill-every", type=float, default=30.0, help="seconds")
    parser.add_argument("--fail-rate", type=float, default=0.1)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", default="message_dispatcher_soak")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))  # run as a script, only benchmarks/ is on the path
    os.environ["DATABASE_URL"] = scratch_database_url(args.database)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dispatcher_project.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    seed(args.messages)
    report = run(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps(report, indent=2))
    width = max(map(len, report))
    print("\nsoak reconciliation")
    for name, value in report.items():
        print(f"  {name:<{width}}  {value}")
    ok = (
        report["lost"] == 0
        and report["sent_but_never_accepted"] == 0
        and report["duplicates_not_in_flight_at_a_kill"] == 0
    )
    print("RESULT:", "OK: created = sent + failed" if ok else "FAILED: see the table above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
