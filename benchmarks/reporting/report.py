"""What the results mean: medians, the targets as ratios (met or not), the title and the notes.

A group of runs is `{"runs": [...]}`, or `{"skipped": why}` / `{"error": what}`. Targets are
ratios of medians (a figure over its baseline), reported met or not met; an informational one is
shown the same way but is no goal. Nothing here asserts anything. benchmarks/reporting/table.py
lays them out as the one table.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Target:
    """figure / baseline (medians at these paths) against `bound`; informational: never a goal."""

    id: str
    text: str
    figure: tuple[str, ...]
    baseline: tuple[str, ...]
    bound: float
    sense: str = ">="
    is_informational: bool = False


# fmt: off
TARGETS: tuple[Target, ...] = (
    Target("ceiling", ">= 1.4x requests loop 1p", ("drain", "1_process", "msgs_per_s"),
           ("ceiling", "1_process", "msgs_per_s"), 1.4),
    Target("scaling", "info: >= 1.8x drain 1p", ("drain", "2_processes", "msgs_per_s"),
           ("drain", "1_process", "msgs_per_s"), 1.8, is_informational=True),
    Target("procrastinate", ">= 5x procrastinate", ("drain", "2_processes", "msgs_per_s"),
           ("peers", "procrastinate", "msgs_per_s"), 5.0),
    Target("celery", ">= 4x Celery", ("drain", "2_processes", "msgs_per_s"),
           ("peers", "celery", "msgs_per_s"), 4.0),
    Target("slow", ">= 0.9x 64-thread loop", ("slow_receiver", "dispatcher", "msgs_per_s"),
           ("slow_receiver", "threads_64", "msgs_per_s"), 0.9),
    Target("tail", ">= 0.8x sliding window 64", ("tail", "dispatcher", "receiver_msgs_per_s"),
           ("tail", "window_64", "msgs_per_s"), 0.8),
    Target("slow200", ">= 0.8x ideal 256 / delay",
           ("slow200", "dispatcher", "receiver_msgs_per_s"), ("slow200", "ideal", "msgs_per_s"),
           0.8),
    Target("claim", "<= 1.5x p50 at small table", ("claim", "large", "p50_ms"),
           ("claim", "small", "p50_ms"), 1.5, "<="),
    Target("api_single", ">= 0.6x bare DRF INSERT", ("api", "single", "requests_per_s"),
           ("api", "baseline", "requests_per_s"), 0.6),
    Target("api_bulk", ">= 20x single-POST msgs/s", ("api", "bulk", "messages_per_s"),
           ("api", "single", "messages_per_s"), 20.0),
    Target("memory", "<= 1.1x RSS at small backlog", ("memory", "large", "peak_rss_mib"),
           ("memory", "small", "peak_rss_mib"), 1.1, "<="),
)
RUN_GROUPS = (("drain", "1_process"), ("drain", "2_processes"), ("ceiling", "1_process"),
              ("ceiling", "2_processes"), ("peers", "celery"), ("peers", "procrastinate"),
              ("slow_receiver", "threads_64"), ("slow_receiver", "dispatcher"),
              ("tail", "window_64"), ("tail", "dispatcher"), ("tail", "alone_64"),
              ("tail", "alone_256"), ("slow200", "window_256"), ("slow200", "dispatcher"),
              ("memory", "small"), ("memory", "large"))
# fmt: on


def group(results: dict, *path: str) -> dict:
    found: Any = results
    for part in path:
        found = found.get(part, {}) if isinstance(found, dict) else {}
    return found if isinstance(found, dict) else {}


def median(results: dict, *path: str) -> float | None:
    *where, key = path
    values = [r[key] for r in group(results, *where).get("runs", []) if r.get(key) is not None]
    return statistics.median(values) if values else None


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def targets(results: dict) -> list[dict[str, Any]]:
    found = []
    for target in TARGETS:
        a, b = median(results, *target.figure), median(results, *target.baseline)
        ratio = a / b if a is not None and b else None
        bound = target.bound
        met = (
            None if ratio is None else (ratio >= bound if target.sense == ">=" else ratio <= bound)
        )
        found.append({"id": target.id, "target": target.text, "figure": a, "baseline": b,
                      "ratio": ratio, "bound": bound, "met": met,
                      "informational": target.is_informational})  # fmt: skip
    found.append(integrity(results))
    return found


def integrity(results: dict) -> dict[str, Any]:
    """Zero duplicates and zero lost messages in every run of every delivering section."""
    runs = [r for path in RUN_GROUPS for r in group(results, *path).get("runs", [])]
    duplicates = sum(r.get("duplicates", 0) for r in runs)
    lost = sum(r.get("lost", 0) for r in runs)
    return {
        "id": "integrity",
        "target": "0 duplicates, 0 lost, every run",
        "runs": len(runs),
        "duplicates": duplicates,
        "lost": lost,
        "met": (duplicates == 0 and lost == 0) if runs else None,
    }


def title(results: dict) -> str:
    meta, options = results["meta"], results["meta"]["options"]
    kind = group(results, "receiver").get("kind", "-")
    return (
        f"Message Dispatcher benchmarks ({meta['started_at']}, git {meta['git']}): "
        f"{meta['cpus']} CPUs, load average {meta['load_average_at_start'][0]} at start and "
        f"{meta['load_average_at_end'][0]} at the end; N = {options['messages']:,} (sections "
        f"1-4); median of {options['repeat']} run(s); run_dispatcher --batch-size "
        f"{options['batch_size']} --concurrency {options['concurrency']}; receiver: {kind}\n"
    )


def notes(results: dict) -> list[str]:
    api, slow = group(results, "api"), group(results, "slow_receiver")
    found = [
        "How: msgs/s of run_dispatcher = SENT / (last - first sent_at) in the database; of loops "
        "and peers = distinct Idempotency-Keys / (last - first answer) at the receiver.",
        "CPU ms/msg: dispatcher, loops and peer workers from wait4 (whole life, start-up and "
        "children included); PostgreSQL = the scratch database's backends, /proc every 0.1 s "
        "(not the checkpointer, WAL writer or autovacuum); receiver = its processes, /proc.",
        f"Slow receiver: {slow.get('receiver', '-')}. Peers: jobs enqueued first (timed "
        "apart), then workers drain; ratio = our 2-process drain / the peer's drain.",
        "Claim: DjangoMessageRepository.claim_batch timed with its commit, the rows released "
        "untimed between samples; tables bulk-loaded with generate_series, then VACUUM ANALYZE.",
        f"API: gunicorn -c gunicorn.conf.py, WEB_CONCURRENCY={api.get('workers', '-')}, "
        f"GUNICORN_THREADS={api.get('threads', '-')}, --max-requests 0, RATE_LIMIT_PER_MINUTE=0; "
        f"load: {api.get('tool', '-')} with {api.get('connections', '-')} keep-alive "
        f"connections for {api.get('seconds', '-')} s per phase.",
        "Everything (receiver, PostgreSQL, clients, dispatchers, gunicorn) shares this "
        "machine's CPUs, and other work may run too: absolute figures drift, ratios are the point.",
        *_late_notes(results),
    ]
    names = ("receiver", "claim", "api", "memory", "slow_receiver", "tail", "slow200")
    sections = [(name,) for name in names]
    for path in (*sections, *RUN_GROUPS):
        found += _problem(path, group(results, *path))
    return found


def _late_notes(results: dict) -> list[str]:
    """How the tail and slow200 sections were measured, when either ran."""
    tail, slow200 = group(results, "tail"), group(results, "slow200")
    every = results["meta"]["options"].get("tail_every", "-")
    if "receiver" not in tail and "receiver" not in slow200:
        return []
    return [
        f"Tail: {tail.get('receiver', '-')}; slow200: {slow200.get('receiver', '-')}. Both "
        "sides of these two are timed at the receiver (distinct keys / first to last answer, "
        f"logged as each answer leaves). In tail, any {every} calls in a row hold exactly one "
        "slow one (the receiver counts them), so every run, either side's, ends with a slow one.",
        "Sliding window: benchmarks/support/window_sender.py, C threads with a requests.Session "
        "each in one process, a new call as soon as one ends. Receiver alone: two such processes "
        "sharing C; its CPU ms per answer bounds what it takes on one core. "
        "slow200 ideal: 256 / delay.",
    ]


def _problem(path: tuple, found: dict) -> list[str]:
    where = "/".join(path)
    if "error" in found:
        return [f"ERROR in {where}: {found['error']}"]
    if "skipped" in found:
        return [f"Skipped {where}: {found['skipped']}"]
    return []


def plan_excerpt(results: dict) -> list[str]:
    plan = group(results, "claim").get("plan")
    if not plan:
        return []
    lines = plan.splitlines()
    start = next((n for n, line in enumerate(lines) if "(cost=" in line), 0)
    rows = group(results, "claim").get("plan_rows", 0)
    return [f"Claim plan at {rows:,} rows (auto_explain, actual times):", *lines[start:]]
