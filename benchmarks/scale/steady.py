"""`make bench-steady`: whether retention holds the tables' size steady under a constant load.

Usage: python -m benchmarks.scale.steady [--rate 200] [--minutes 6] [--every 30] [--dispatchers 2]
A producer creates --rate messages/s through the product's create use case (a bulk create every
0.1 s); --dispatchers `run_dispatcher --drain` processes deliver them to the receiver (nginx
answering 202 when installed) with MESSAGE_RETENTION=--retention (1m), pruning by themselves
once a minute as they always do. Every --every seconds a line shows pg_total_relation_size of
messages and delivery_attempts and the row counts. The verdict compares the growth of both over
the last third of the run with the first third: steady when the last is under 10 % of the
first. PostgreSQL reuses the space of removed rows only once VACUUM has seen it, which
autovacuum does on a normal server; with the server's autovacuum off (some test machines),
`--vacuum auto` runs VACUUM ANALYZE on both tables before each sample in its place, about as
often as autovacuum's defaults would at this rate, and says so.
Writes benchmarks/results/steady.json. Prints a table; never asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from benchmarks.scale import db as scale_db
from benchmarks.support import harness, procs
from benchmarks.support.receivers import receiver

TABLES = ("messages", "delivery_attempts")
STEADY_SHARE = 0.1  # the last third may grow by at most this share of the first third's growth
TICK = 0.1


def parser() -> argparse.ArgumentParser:
    found = argparse.ArgumentParser(
        prog="python -m benchmarks.scale.steady", description=__doc__.splitlines()[0]
    )
    add = found.add_argument
    add("--rate", type=float, default=200.0, help="messages created per second")
    add("--minutes", type=float, default=6.0, help="length of the run")
    add("--every", type=float, default=30.0, help="seconds between samples")
    add("--dispatchers", type=int, default=2)
    add("--retention", default="1m", help="MESSAGE_RETENTION of the dispatchers")
    add("--vacuum", choices=["auto", "on", "off"], default="auto",
        help="VACUUM before each sample: auto = when the server's autovacuum is off")  # fmt: skip
    add("--receiver", choices=["auto", "nginx", "python"], default="auto")
    add("--database", default="message_dispatcher_steady", help="scratch database name")
    add("--json", type=Path, default=procs.RESULTS / "steady.json")
    return found


def produce(count: int, *, start: int) -> None:
    from core_domain.use_cases.create_messages import NewMessage
    from messaging.bootstrap import use_cases

    for low in range(start, start + count, 1000):
        high = min(start + count, low + 1000)
        items = [NewMessage(phone_number=f"+90555{n % 9973:07d}", content=f"steady {n}")
                 for n in range(low, high)]  # fmt: skip
        use_cases().create_messages.execute(items=items)


def sample(seconds: float, *, produced: int, vacuum: bool) -> dict:
    if vacuum:
        harness.execute(f"VACUUM ANALYZE {', '.join(TABLES)}")
    sizes = {t: harness.execute("SELECT pg_total_relation_size(%s)", (t,))[0][0] for t in TABLES}
    [(attempts,)] = harness.execute("SELECT count(*) FROM delivery_attempts")
    dead = harness.execute(
        "SELECT coalesce(sum(n_dead_tup), 0) FROM pg_stat_user_tables WHERE relname = ANY(%s)",
        (list(TABLES),),
    )[0][0]
    return {"seconds": round(seconds, 1), "produced": produced, "counts": scale_db.kept_counts(),
            "attempts": attempts, "sizes": sizes, "dead_tuples": int(dead)}  # fmt: skip


HEADER = ("t s", "created", "PENDING", "SENDING", "SENT", "FAILED", "attempts",
          "messages MB", "attempts MB", "dead tuples")  # fmt: skip


def line(found: dict) -> str:
    counts, sizes = found["counts"], found["sizes"]
    cells = (f"{found['seconds']:.0f}", f"{found['produced']:,}",
             *(f"{counts.get(s, 0):,}" for s in ("PENDING", "SENDING", "SENT", "FAILED")),
             f"{found['attempts']:,}", f"{sizes['messages'] / 1e6:.1f}",
             f"{sizes['delivery_attempts'] / 1e6:.1f}", f"{found['dead_tuples']:,}")  # fmt: skip
    return "  ".join(c.rjust(_width(h)) for c, h in zip(cells, HEADER, strict=True))


def _width(header: str) -> int:
    return max(len(header), 9)


def run(args: argparse.Namespace, *, vacuum: bool) -> list[dict]:
    """Produce at a steady rate for the whole run; a sample every `args.every` s."""
    began, produced, samples = time.monotonic(), 0, []
    next_sample, end = began, began + args.minutes * 60
    print("  ".join(h.rjust(_width(h)) for h in HEADER), flush=True)
    while True:
        now = time.monotonic()
        due = int(args.rate * (min(now, end) - began)) - produced
        if due > 0:
            produce(due, start=produced)
            produced += due
        if now >= next_sample or now >= end:
            samples.append(sample(now - began, produced=produced, vacuum=vacuum))
            print(line(samples[-1]), flush=True)
            next_sample += args.every
        if now >= end:
            return samples
        time.sleep(TICK)


def growth(samples: list[dict], table: str | None) -> dict:
    """Growth in bytes over the first and the last third of the run (`table` None: both)."""

    def size_at(seconds: float) -> int:
        found = min(samples, key=lambda s: abs(s["seconds"] - seconds))
        return sum(v for t, v in found["sizes"].items() if table in (None, t))

    total = samples[-1]["seconds"]
    first = size_at(total / 3) - size_at(0)
    last = size_at(total) - size_at(2 * total / 3)
    return {"first_third": first, "last_third": last,
            "steady": first > 0 and last < STEADY_SHARE * first}  # fmt: skip


def verdict(samples: list[dict]) -> dict:
    found = {t: growth(samples, t) for t in TABLES}
    return {**found, "both": growth(samples, None)}


def dispatchers(args: argparse.Namespace, stack: ExitStack, url: str) -> None:
    env = procs.child_env(WEBHOOK_URL=url, MESSAGE_RETENTION=args.retention, RECEIPT_TTL="15m")
    argv = procs.manage("run_dispatcher", "--drain", "--interval", "5s", "--batch-size", "100")
    for number in range(args.dispatchers):
        stack.enter_context(procs.running(argv, env=env, log=f"steady-dispatcher-{number}.log"))


def report(args: argparse.Namespace, found: dict) -> str:
    lines = [""]
    for name, part in found["verdict"].items():
        first, last = part["first_third"] / 1e6, part["last_third"] / 1e6
        lines.append(f"{name:<17} growth: first third {first:+.2f} MB, last third {last:+.2f} MB"
                     f" -> {'steady' if part['steady'] else 'NOT steady'}")  # fmt: skip
    load = found["load_average"]
    lines.append(f"{args.rate:g} msgs/s for {args.minutes:g} min, {args.dispatchers} dispatchers, "
                 f"MESSAGE_RETENTION={args.retention}, receiver {found['receiver']}, "
                 f"load average {load[0]:.2f} -> {load[1]:.2f}")  # fmt: skip
    lines.append(found["vacuum_note"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    os.environ["LOG_LEVEL"] = "warning"
    harness.setup_django(args.database)
    autovacuum = harness.execute("SHOW autovacuum")[0][0]
    vacuum = args.vacuum == "on" or (args.vacuum == "auto" and autovacuum == "off")
    done = "VACUUM ANALYZE before each sample" if vacuum else "no VACUUM by this script"
    note = f"server autovacuum {autovacuum}; {done}"
    start_load = os.getloadavg()[0]
    with ExitStack() as stack:
        hook = stack.enter_context(receiver(args.receiver))
        dispatchers(args, stack, hook.url)
        samples = run(args, vacuum=vacuum)
    found = {"samples": samples, "verdict": verdict(samples), "receiver": hook.kind,
             "vacuum_note": note, "load_average": [start_load, os.getloadavg()[0]],
             "options": {k: str(v) for k, v in vars(args).items()}}  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(found, indent=2))
    print(report(args, found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
