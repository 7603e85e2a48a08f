"""`make soak`: many messages, several dispatchers, a flaky receiver, regular SIGKILLs, skewed
host clocks and a PostgreSQL restart.

Creates a scratch database beside the configured one, seeds N messages, runs D dispatchers
(the first S of them with their wall clock 5 minutes ahead or behind, through libfaketime)
against a loopback receiver that fails 10% of calls at random with 5-50 ms latency, kills one
dispatcher every K seconds and starts a new one, restarts the PostgreSQL server once (stopped
and started, not only its connections cut), then reconciles: created = sent + failed, no
message lost, duplicates counted (only messages in flight at a kill or at the restart may
repeat), and the peak RSS of each dispatcher at the start and the end of its life. Exits 1 on
any lost message or any duplicate that was not in flight.
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
    slot: int = 0  # its place in the fleet: a replacement keeps the clock of the one it replaces

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


LIBFAKETIME = next(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"), None)
SKEWS = ("+5m", "-5m")


def skewed(env: dict[str, str], number: int) -> dict[str, str]:
    """`env` with this host's wall clock moved (monotonic clock untouched), alternating."""
    if LIBFAKETIME is None:
        raise SystemExit("soak: skewed dispatchers need Debian's faketime (or --skewed 0)")
    return {**env, "LD_PRELOAD": str(LIBFAKETIME), "FAKETIME": SKEWS[number % 2],
            "FAKETIME_DONT_FAKE_MONOTONIC": "1"}  # fmt: skip


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

    def __init__(self, *, env: dict[str, str], logs: Path, skewed: int) -> None:
        self.env, self.logs, self.skewed = env, logs, skewed
        self.running: list[Dispatcher] = []
        self.retired: list[Dispatcher] = []
        self.in_flight_at_kills: set[str] = set()
        self.kills = 0

    def start(self, *, slot: int) -> None:
        """Start the dispatcher of `slot` (0..D-1); the first `skewed` slots run skewed."""
        number = len(self.running) + len(self.retired)
        env = skewed(self.env, slot) if slot < self.skewed else self.env
        dispatcher = spawn(env, self.logs, number)
        dispatcher.slot = slot
        self.running.append(dispatcher)

    def kill_one_and_replace(self) -> None:
        victim = self.running.pop(0)
        self.in_flight_at_kills |= in_flight(victim)
        victim.popen.send_signal(signal.SIGKILL)
        victim.popen.wait()
        self.in_flight_at_kills |= in_flight(victim)  # claims that landed during the kill
        self.retired.append(victim)
        self.kills += 1
        self.start(slot=victim.slot)

    def stop(self) -> None:
        for dispatcher in self.running:
            dispatcher.sample()
            dispatcher.popen.send_signal(signal.SIGTERM)
            dispatcher.popen.wait(timeout=60)
        self.retired.extend(self.running)
        self.running = []


def all_sending() -> set[str]:
    from messaging import models

    rows = models.Message.objects.filter(status="SENDING").values_list("id", flat=True)
    return {str(i) for i in rows}


def restart_postgres(command: str, fleet: Fleet) -> None:
    """Stop and start the server; what was in flight then may be delivered twice."""
    from django.db import connection

    fleet.in_flight_at_kills |= all_sending()
    connection.close()
    print(f"soak: restarting PostgreSQL ({command})", flush=True)
    subprocess.run(command, shell=True, check=True, timeout=120)


def drive(args: argparse.Namespace, fleet: Fleet) -> float:
    """Run until every message is SENT or FAILED (or the timeout); returns the seconds taken."""
    from django.db import Error as DatabaseError
    from django.db import connection

    for slot in range(args.dispatchers):
        fleet.start(slot=slot)
    started = last_kill = time.monotonic()
    restart_at = started + args.restart_after if args.restart_command else None
    while time.monotonic() - started < args.timeout:
        try:
            sent, failed, total = finished_count()
            if sent + failed == total:
                break
            if restart_at is not None and time.monotonic() >= restart_at:
                restart_postgres(args.restart_command, fleet)
                restart_at = None
            if time.monotonic() - last_kill >= args.kill_every:
                fleet.kill_one_and_replace()
                last_kill = time.monotonic()
        except DatabaseError as exc:  # the restart: the dispatchers wait it out, and so do we
            print(f"soak: database unavailable ({type(exc).__name__}); waiting", flush=True)
            connection.close()
        for dispatcher in fleet.running:
            dispatcher.sample()
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
        "in_flight_at_kills_and_restart": len(fleet.in_flight_at_kills), "kills": fleet.kills,
        "skewed_dispatchers": fleet.skewed,
        "webhook_calls": receiver.calls, "seconds": round(elapsed, 1),
        "messages_per_second": round(total / elapsed, 1) if elapsed else 0.0,
        "dispatcher_rss_kb_start_max": max((life[0] for life in lives), default=0),
        "dispatcher_rss_kb_end_max": max((life[-1] for life in lives), default=0),
    }  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, object]:
    receiver = FlakyReceiver(fail_rate=args.fail_rate, latency_ms=args.latency_ms, seed=args.seed)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    env = {**os.environ, "WEBHOOK_URL": f"http://127.0.0.1:{receiver.server_address[1]}/",
           "WEBHOOK_MAX_RETRIES": "5", "WEBHOOK_BACKOFF_BASE": "200ms", "WEBHOOK_BACKOFF_MAX": "2s",
           "WEBHOOK_TIMEOUT": "2s", "WEBHOOK_LEASE": "10s", "LOG_LEVEL": "warning"}  # fmt: skip
    logs = RESULTS / "soak-logs"
    logs.mkdir(parents=True, exist_ok=True)
    fleet = Fleet(env=env, logs=logs, skewed=min(args.skewed, args.dispatchers))
    try:
        elapsed = drive(args, fleet)
    finally:
        fleet.stop()
        receiver.shutdown()
    return reconcile(receiver, fleet, elapsed)


def _pair(text: str) -> tuple[int, int]:
    low, high = (int(part) for part in text.split(","))
    return low, high


def _restart_command() -> str:
    """How to restart this machine's PostgreSQL: the embedded one under .data/, else the
    Debian cluster (as .ci/run starts it)."""
    if not os.environ.get("DATABASE_URL"):
        import pgserver  # the embedded server's own binaries

        pg_ctl = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_ctl"
        return f"{pg_ctl} -D {ROOT / '.data' / 'postgres'} -w restart -m fast"
    clusters = sorted(Path("/etc/postgresql").glob("*/main"))
    if clusters:
        return f"pg_ctlcluster --skip-systemctl-redirect {clusters[-1].parent.name} main restart"
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--dispatchers", type=int, default=3)
    parser.add_argument("--kill-every", type=float, default=30.0, help="seconds")
    parser.add_argument("--fail-rate", type=float, default=0.1)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", default="message_dispatcher_soak")
    parser.add_argument("--latency-ms", type=_pair, default=(5, 50), help="LOW,HIGH per call")
    parser.add_argument(
        "--skewed", type=int, default=1, help="dispatchers whose clock is 5 min off (+, -, +, ...)"
    )
    parser.add_argument(
        "--restart-command",
        default=_restart_command(),
        help="stops and starts PostgreSQL once ('' for none)",
    )
    parser.add_argument("--restart-after", type=float, default=60.0, help="seconds into the run")
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
