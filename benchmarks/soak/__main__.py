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
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks.soak.fleet import Fleet
from benchmarks.soak.receiver import FlakyReceiver
from benchmarks.support.procs import RESULTS, ROOT
from benchmarks.support.scratch import scratch_database_url, seed


def finished_count() -> tuple[int, int, int]:
    from messaging import models

    counts = dict(
        models.Message.objects.values_list("status").annotate(n=models.models.Count("id"))
    )
    return counts.get("SENT", 0), counts.get("FAILED", 0), sum(counts.values())


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
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.soak", description=__doc__.splitlines()[0]
    )
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
