"""`make bench-scale`: the API, the claim and retention at millions of rows, as tables.

Usage: python -m benchmarks.scale [--rows 5000000] [--sections fill,reads,prune] [--keep]
       python -m benchmarks.scale --rows 50000000 --keep \
           --compare benchmarks/results/scale-5000000.json   (reads within 1.5x of the 5M run)
       python -m benchmarks.scale --quick   (5,000 rows, a smoke run of every section)
`fill` fills the scratch database by SQL (benchmarks/scale/fill.py); `reads` times every read
endpoint and a claim at --baseline-rows in a second scratch database, then at --rows
(benchmarks/scale/reads.py); `prune` removes about 1,000,000 of the oldest rows and samples
claims beside a draining dispatcher (benchmarks/scale/prune.py). The prune changes the data,
so it runs last, and a later run on the same database uses what is left (and says how much).
Writes benchmarks/results/scale-<rows>.json. Prints tables; never asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.run import environment
from benchmarks.scale import db as scale_db
from benchmarks.scale import fill as scale_fill
from benchmarks.scale import prune as scale_prune
from benchmarks.scale import reads as scale_reads
from benchmarks.scale import report as scale_report
from benchmarks.support import harness
from benchmarks.support.options import section_names
from benchmarks.support.procs import RESULTS
from benchmarks.support.progress import say, section

SECTIONS = ("fill", "reads", "prune")
BYTES_PER_ROW = 900  # about 680 measured at 5M rows (indexes, attempts, keys); room on top
QUICK = {"rows": 5_000, "baseline_rows": 1_000, "samples": 10, "warm_up": 2, "window": 3.0,
         "chunk": 5_000}  # fmt: skip


def _count(text: str) -> int:
    return int(text.replace("_", "").replace(",", ""))


def parser() -> argparse.ArgumentParser:
    found = argparse.ArgumentParser(
        prog="python -m benchmarks.scale", description=__doc__.splitlines()[0]
    )
    add = found.add_argument
    add("--rows", type=_count, default=5_000_000, help="messages in the large database")
    add("--baseline-rows", type=_count, default=10_000, help="messages in the baseline database")
    add("--sections", type=section_names(SECTIONS), default=SECTIONS, help=",".join(SECTIONS))
    add("--keep", action="store_true", help="reuse a complete fill of --rows rows if there is one")
    add("--quick", action="store_true", help="5,000 rows, 10 samples: a smoke run")
    add("--chunk", type=_count, default=500_000, help="rows per INSERT of the fill")
    add("--samples", type=int, default=50, help="timed calls per endpoint")
    add("--warm-up", type=int, default=5, help="untimed calls per endpoint first")
    add("--prune-rows", type=_count, default=1_000_000, help="how many rows the prunes expire")
    add("--window", type=float, default=20.0, help="seconds of claim samples without the prune")
    add("--receiver", choices=["auto", "nginx", "python"], default="auto")
    add("--compare", type=Path, help="an earlier scale-<rows>.json to hold reads to (<= 1.5x)")
    add("--database", default="message_dispatcher_scale", help="the large scratch database")
    add("--json", type=Path, help="default benchmarks/results/scale-<rows>.json")
    add("--drop", action="store_true", help="drop both scratch databases at the end")
    return found


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    args = parser().parse_args(argv)
    if args.quick:
        vars(args).update(QUICK)
    args.json = args.json or RESULTS / f"scale-{args.rows}.json"
    args.baseline_database = f"{args.database}_baseline"
    return args


def check_disk(rows: int) -> None:
    """Refuse a fill the PostgreSQL data directory has no room for (when it is on this host)."""
    from django.db import DatabaseError

    need = rows * BYTES_PER_ROW
    try:
        directory = harness.execute("SHOW data_directory")[0][0]
    except DatabaseError:  # not ours to see: no check
        return
    if not os.path.isdir(directory):
        return
    free = shutil.disk_usage(directory).free
    if need > free:
        raise SystemExit(f"fill: about {need / 1e9:.1f} GB needed, {free / 1e9:.1f} GB free")
    say(f"fill: about {need / 1e9:.1f} GB needed, {free / 1e9:.1f} GB free")


def prepare_large(args: argparse.Namespace) -> dict:
    """The large database, filled (or reused) as asked; what its fill recorded."""
    marker = scale_db.read_marker()
    if "fill" not in args.sections or (args.keep and marker and marker["rows"] == args.rows):
        if marker is None:
            raise SystemExit(f"{args.database} holds no complete fill: run the fill section")
        say(f"fill: reusing {args.database}, filled with {marker['rows']:,} rows")
        return {**marker, "reused": True, **now_held()}
    scale_db.use(args.database, fresh=True)
    check_disk(args.rows)
    return {**scale_fill.fill(args.rows, chunk=args.chunk), "reused": False, **now_held()}


def now_held() -> dict:
    """What the current database holds now (an earlier prune may have removed some)."""
    counts = scale_db.kept_counts()
    return {"rows_now": sum(counts.values()), "counts_now": counts,
            "size_bytes_now": scale_db.size_bytes()}  # fmt: skip


def reads(args: argparse.Namespace, *, token: str, rows: int) -> dict:
    timing = {"token": token, "warm_up": args.warm_up, "samples": args.samples}
    scale_db.use(args.baseline_database, fresh=True)
    scale_fill.fill(args.baseline_rows, chunk=args.chunk)
    say(f"reads: {args.baseline_rows:,} rows (baseline)")
    baseline = scale_reads.measure(args.baseline_rows, name="scale-baseline", **timing)
    scale_db.use(args.database, fresh=False)
    say(f"reads: {rows:,} rows")
    return {"baseline": baseline, "large": scale_reads.measure(rows, name="scale", **timing)}


def prune(args: argparse.Namespace) -> dict:
    scale_db.use(args.database, fresh=False)
    return scale_prune.measure(cap=args.prune_rows, window=args.window,
                               receiver_choice=args.receiver)  # fmt: skip


def meta(args: argparse.Namespace) -> dict:
    found = environment(args)
    found["options"] = {k: str(v) for k, v in vars(args).items()}
    found["autovacuum"] = harness.execute("SHOW autovacuum")[0][0]
    return found


def run_sections(args: argparse.Namespace, results: dict, *, token: str) -> None:
    results["fill"] = prepare_large(args)
    rows = results["fill"]["rows_now"]
    if "reads" in args.sections:
        section(results, "reads", lambda: reads(args, token=token, rows=rows))
    if "prune" in args.sections:
        section(results, "prune", lambda: prune(args))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ["LOG_LEVEL"] = "warning"
    scale_db.setup(args.database, fresh=False)
    from django.conf import settings

    results: dict = {"meta": meta(args)}
    started = time.monotonic()
    run_sections(args, results, token=settings.DISPATCHER["api_key"][0])
    results["meta"]["seconds"] = round(time.monotonic() - started)
    results["meta"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["meta"]["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, default=str))
    compare = json.loads(args.compare.read_text()) if args.compare else None
    print(scale_report.render(results, compare=compare))
    print(f"\nJSON: {args.json}; process logs: benchmarks/results/bench-logs/")
    if args.drop:
        scale_db.drop_all(args.database, args.baseline_database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
