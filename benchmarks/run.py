"""`make bench`: the dispatcher's throughput, latency and memory against peers, as one table.

Usage: python -m benchmarks.run [--quick] [--messages 20000] [--repeat 3] [--sections ...]
       python -m benchmarks.run --sections tail,slow200   (the late-receiver sections alone)
Writes benchmarks/results/bench.json (every run, medians and targets); each process it starts
logs to benchmarks/results/bench-logs/. Never asserts a time: targets are ratios, met or not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.reporting import report, table
from benchmarks.sections import phases
from benchmarks.sections.phases import SECTIONS
from benchmarks.support import harness, procs
from benchmarks.support.options import section_names
from benchmarks.support.procs import ROOT

QUICK = {"messages": 300, "repeat": 1, "api_seconds": 2.0, "claim_rows": (10_000, 50_000),
         "claim_samples": 10, "memory_messages": 1_000, "blast": 1.0,
         "tail_messages": 200, "tail_ms": 200.0, "slow200_messages": 200,
         "slow200_ms": 20.0}  # fmt: skip


def _pair(text: str) -> tuple[int, int]:
    small, large = (int(part.replace("_", "")) for part in text.split(","))
    return small, large


def parser() -> argparse.ArgumentParser:
    found = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.splitlines()[0]
    )
    add = found.add_argument
    add("--quick", action="store_true", help="tiny N, 1 repetition, 2 s API phases (smoke test)")
    add("--messages", type=int, default=20_000, help="N for drain, loops, peers, slow")
    add("--repeat", type=int, default=3, help="runs per figure (the table shows medians)")
    add("--concurrency", type=int, default=8, help="run_dispatcher --concurrency (fast receiver)")
    add("--batch-size", type=int, default=100)
    add("--receiver", choices=["auto", "nginx", "python"], default="auto")
    add("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    add("--slow-ms", type=float, default=20.0, help="the slow receiver's delay per answer")
    add("--tail-messages", type=int, default=5_000, help="N for the tail section")
    add("--tail-fast-ms", type=float, default=5.0, help="the heavy-tailed receiver's usual delay")
    add("--tail-ms", type=float, default=2_000.0, help="its delay for 1 call in --tail-every")
    add("--tail-every", type=int, default=100)
    add("--slow200-messages", type=int, default=10_000, help="N for the slow200 section")
    add("--slow200-ms", type=float, default=200.0, help="the slow200 receiver's delay")
    add("--claim-rows", type=_pair, default=(10_000, 1_000_000), help="SMALL,LARGE")
    add("--claim-samples", type=int, default=50, help="timed claims per run")
    add("--api-seconds", type=float, default=20.0)
    add("--api-workers", type=int, default=2, help="WEB_CONCURRENCY")
    add("--api-threads", type=int, default=4, help="GUNICORN_THREADS")
    add("--api-connections", type=int, default=16)
    add("--memory-messages", type=int, default=100_000, help="the large backlog (small: 1,000)")
    add("--sections", type=section_names(SECTIONS), default=SECTIONS, help=",".join(SECTIONS))
    add("--database", default="message_dispatcher_bench", help="scratch database name")
    add("--json", type=Path, default=procs.RESULTS / "bench.json")
    return found


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    args = parser().parse_args(argv)
    args.blast = 3.0
    if args.quick:
        vars(args).update(QUICK)
    large = args.memory_messages
    args.memory_messages = (min(1_000, large // 5) if args.quick else min(1_000, large), large)
    return args


def environment(args: argparse.Namespace) -> dict[str, object]:
    git = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, text=True,
                         capture_output=True, timeout=30)  # fmt: skip
    return {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "postgresql": harness.execute("SHOW server_version")[0][0],
        "git": git.stdout.strip(),
        "options": dict(vars(args)),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ["LOG_LEVEL"] = "warning"
    harness.setup_django(args.database)
    from django.conf import settings

    results: dict = {"meta": environment(args)}
    started = time.monotonic()
    phases.run_all(args, results, token=settings.DISPATCHER["api_key"][0])
    results["meta"]["seconds"] = round(time.monotonic() - started)
    results["meta"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["targets"] = report.targets(results)
    results["notes"] = report.notes(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, default=str))
    print(table.render(table.rows(results), title=report.title(results)))
    print("\n".join(["", *results["notes"], "", *report.plan_excerpt(results)]))
    print(f"\nJSON: {args.json}; process logs: {procs.LOGS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
