"""The results as ONE table (medians, every run, targets as ratios beside them) and as JSON.

A group of runs is `{"runs": [...]}`, or `{"skipped": why}` / `{"error": what}`. Targets are
ratios of medians, reported met or not met; nothing here asserts anything.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

# id, text shown in the target column, numerator, denominator (path..., key), bound, sense
TARGETS: tuple[tuple[str, str, tuple, tuple, float, str], ...] = (
    (
        "ceiling",
        ">= 1.0x requests loop 1p",
        ("drain", "1_process", "msgs_per_s"),
        ("ceiling", "1_process", "msgs_per_s"),
        1.0,
        ">=",
    ),
    (
        "scaling",
        ">= 1.8x drain 1p",
        ("drain", "2_processes", "msgs_per_s"),
        ("drain", "1_process", "msgs_per_s"),
        1.8,
        ">=",
    ),
    (
        "procrastinate",
        "drain 2p >= 5x this",
        ("drain", "2_processes", "msgs_per_s"),
        ("peers", "procrastinate", "msgs_per_s"),
        5.0,
        ">=",
    ),
    (
        "celery",
        "drain 2p >= 4x this",
        ("drain", "2_processes", "msgs_per_s"),
        ("peers", "celery", "msgs_per_s"),
        4.0,
        ">=",
    ),
    (
        "slow",
        ">= 0.9x 64-thread loop",
        ("slow_receiver", "dispatcher", "msgs_per_s"),
        ("slow_receiver", "threads_64", "msgs_per_s"),
        0.9,
        ">=",
    ),
    (
        "claim",
        "<= 1.5x p50 at small table",
        ("claim", "large", "p50_ms"),
        ("claim", "small", "p50_ms"),
        1.5,
        "<=",
    ),
    (
        "api_single",
        ">= 0.6x bare DRF INSERT",
        ("api", "single", "requests_per_s"),
        ("api", "baseline", "requests_per_s"),
        0.6,
        ">=",
    ),
    (
        "api_bulk",
        ">= 20x single-POST msgs/s",
        ("api", "bulk", "messages_per_s"),
        ("api", "single", "messages_per_s"),
        20.0,
        ">=",
    ),
    (
        "memory",
        "<= 1.1x RSS at small backlog",
        ("memory", "large", "peak_rss_mib"),
        ("memory", "small", "peak_rss_mib"),
        1.1,
        "<=",
    ),
)
RUN_GROUPS = (
    ("drain", "1_process"),
    ("drain", "2_processes"),
    ("ceiling", "1_process"),
    ("ceiling", "2_processes"),
    ("peers", "celery"),
    ("peers", "procrastinate"),
    ("slow_receiver", "threads_64"),
    ("slow_receiver", "dispatcher"),
    ("memory", "small"),
    ("memory", "large"),
)


@dataclass(frozen=True, slots=True)
class Row:
    section: str
    label: str
    value: str
    runs: str = ""
    target: str = ""
    ratio: str = ""
    met: str = ""


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
    for ident, text, top, bottom, bound, sense in TARGETS:
        a, b = median(results, *top), median(results, *bottom)
        ratio = a / b if a is not None and b else None
        met = None if ratio is None else (ratio >= bound if sense == ">=" else ratio <= bound)
        found.append({"id": ident, "target": text, "ratio": ratio, "bound": bound, "met": met})
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


def metric(section: str, label: str, results: dict, path: tuple, target: dict | None = None) -> Row:
    *where, key = path
    found = group(results, *where)
    if "skipped" in found or "error" in found:
        why = found.get("skipped") or found.get("error")
        return Row(section, label, "skipped" if "skipped" in found else "ERROR", str(why)[:48])
    runs = " ".join(fmt(r.get(key)) for r in found.get("runs", []))
    row = Row(section, label, fmt(median(results, *path)), runs)
    if target is None:
        return row
    met = {True: "met", False: "NOT MET", None: "-"}[target["met"]]
    ratio = "-" if target["ratio"] is None else f"{target['ratio']:.2f}x"
    return Row(row.section, label, row.value, row.runs, target["target"], ratio, met)


def render(rows: list[Row], *, title: str) -> str:
    header = Row("#", "measurement", "median", "runs", "target", "ratio", "met")
    table = [header, *rows]
    widths = [max(len(getattr(r, f)) for r in table) for f in Row.__slots__]
    lines = [title]
    for number, row in enumerate(table):
        cells = [getattr(row, f) for f in Row.__slots__]
        lines.append(
            "  ".join(
                c.rjust(w) if i == 2 else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def combined(section: str, label: str, results: dict, where: tuple, keys: tuple) -> Row:
    """Several medians of one group in one cell, `a / b / c`."""
    found = group(results, *where)
    if "runs" not in found:
        return Row(section, label, "-")
    return Row(section, label, " / ".join(fmt(median(results, *where, key)) for key in keys))


def special_rows(results: dict) -> tuple[Row, Row]:
    claim, check = group(results, "claim"), integrity(results)
    used = {True: "yes", False: "NO"}.get(claim.get("index_used"), "-")
    plan = Row("5", f"EXPLAIN at {claim.get('plan_rows', 0):,} rows: messages_claimable used", used)
    counts = f"{check['duplicates']} / {check['lost']}"
    met = {True: "met", False: "NOT MET", None: "-"}[check["met"]]
    label = f"duplicates / lost, summed over {check['runs']} delivering runs"
    return plan, Row("*", label, counts, "", check["target"], "", met)


CPU = ("cpu_ms_per_msg_dispatcher", "cpu_ms_per_msg_postgres", "cpu_ms_per_msg_receiver")
LATENCY = ("p50_ms", "p99_ms")
# kind (m: one median, c: several in one cell), section, label, path, target id or keys
ROW_SPECS: tuple[tuple[str, str, str, tuple, Any], ...] = (
    (
        "m",
        "0",
        "receiver capacity, answers/s (2 pipelining clients)",
        ("receiver", "capacity", "answers_per_s"),
        None,
    ),
    (
        "m",
        "1",
        "drain 1 process: msgs/s (first->last sentAt)",
        ("drain", "1_process", "msgs_per_s"),
        "ceiling",
    ),
    ("c", "1", "  CPU ms/msg: dispatcher / PostgreSQL / receiver", ("drain", "1_process"), CPU),
    ("m", "1", "drain 2 processes: msgs/s", ("drain", "2_processes", "msgs_per_s"), "scaling"),
    ("c", "1", "  CPU ms/msg: dispatcher / PostgreSQL / receiver", ("drain", "2_processes"), CPU),
    ("m", "2", "requests loop 1 process: msgs/s", ("ceiling", "1_process", "msgs_per_s"), None),
    (
        "c",
        "2",
        "  CPU ms/msg: client / receiver",
        ("ceiling", "1_process"),
        ("cpu_ms_per_msg_client", "cpu_ms_per_msg_receiver"),
    ),
    ("m", "2", "requests loop 2 processes: msgs/s", ("ceiling", "2_processes", "msgs_per_s"), None),
    ("m", "3", "Celery, prefork 2: drain msgs/s", ("peers", "celery", "msgs_per_s"), "celery"),
    ("m", "3", "  enqueue msgs/s", ("peers", "celery", "enqueue_msgs_per_s"), None),
    (
        "c",
        "3",
        "  CPU ms/msg: workers / receiver",
        ("peers", "celery"),
        ("cpu_ms_per_msg_workers", "cpu_ms_per_msg_receiver"),
    ),
    (
        "m",
        "3",
        "procrastinate, 2 workers x 8: drain msgs/s",
        ("peers", "procrastinate", "msgs_per_s"),
        "procrastinate",
    ),
    ("m", "3", "  enqueue msgs/s", ("peers", "procrastinate", "enqueue_msgs_per_s"), None),
    (
        "c",
        "3",
        "  CPU ms/msg: workers / PostgreSQL",
        ("peers", "procrastinate"),
        ("cpu_ms_per_msg_workers", "cpu_ms_per_msg_postgres"),
    ),
    (
        "m",
        "4",
        "slow receiver 20 ms: 64-thread requests loop msgs/s",
        ("slow_receiver", "threads_64", "msgs_per_s"),
        None,
    ),
    (
        "m",
        "4",
        "slow receiver 20 ms: dispatcher -c 64 msgs/s",
        ("slow_receiver", "dispatcher", "msgs_per_s"),
        "slow",
    ),
    ("m", "5", "claim 100 of {small} rows (1% due): p50 ms", ("claim", "small", "p50_ms"), None),
    ("m", "5", "  p95 ms", ("claim", "small", "p95_ms"), None),
    ("m", "5", "claim 100 of {large} rows (1% due): p50 ms", ("claim", "large", "p50_ms"), "claim"),
    ("m", "5", "  p95 ms", ("claim", "large", "p95_ms"), None),
    ("plan", "5", "", (), None),
    ("m", "6", "bare DRF INSERT: requests/s", ("api", "baseline", "requests_per_s"), None),
    ("c", "6", "  latency p50 / p99 ms", ("api", "baseline"), LATENCY),
    (
        "m",
        "6",
        "POST /api/v1/messages: requests/s",
        ("api", "single", "requests_per_s"),
        "api_single",
    ),
    ("c", "6", "  latency p50 / p99 ms", ("api", "single"), LATENCY),
    ("m", "6", "  messages inserted/s", ("api", "single", "messages_per_s"), None),
    (
        "m",
        "6",
        "POST /api/v1/messages/bulk x1000: requests/s",
        ("api", "bulk", "requests_per_s"),
        None,
    ),
    ("c", "6", "  latency p50 / p99 ms", ("api", "bulk"), LATENCY),
    ("m", "6", "  messages inserted/s", ("api", "bulk", "messages_per_s"), "api_bulk"),
    (
        "m",
        "7",
        "dispatcher peak RSS after {few} messages: MiB",
        ("memory", "small", "peak_rss_mib"),
        None,
    ),
    (
        "m",
        "7",
        "dispatcher peak RSS after {many} messages: MiB",
        ("memory", "large", "peak_rss_mib"),
        "memory",
    ),
    ("check", "*", "", (), None),
)


def _sizes(results: dict) -> dict[str, Any]:
    claim, memory = group(results, "claim"), group(results, "memory")
    return {
        "small": f"{group(claim, 'small').get('rows', 0):,}",
        "large": f"{group(claim, 'large').get('rows', 0):,}",
        "few": f"{group(memory, 'small').get('messages', 0):,}",
        "many": f"{group(memory, 'large').get('messages', 0):,}",
    }


def rows(results: dict) -> list[Row]:
    by_id = {t["id"]: t for t in targets(results)}
    names, (plan, check) = _sizes(results), special_rows(results)
    found = []
    for kind, section, label, path, extra in ROW_SPECS:
        if kind == "m":
            found.append(metric(section, label.format(**names), results, path, by_id.get(extra)))
        elif kind == "c":
            found.append(combined(section, label, results, path, extra))
        else:
            found.append(plan if kind == "plan" else check)
    return found


def title(results: dict) -> str:
    meta, options = results["meta"], results["meta"]["options"]
    kind = group(results, "receiver").get("kind", "-")
    return (
        f"Message Dispatcher benchmarks ({meta['started_at']}, git {meta['git']}): "
        f"{meta['cpus']} CPUs, load average {meta['load_average_at_start'][0]} at start and "
        f"{meta['load_average_at_end'][0]} at the end; N = {options['messages']:,}; median of "
        f"{options['repeat']} run(s); run_dispatcher --batch-size {options['batch_size']} "
        f"--concurrency {options['concurrency']}; receiver: {kind}\n"
    )


def notes(results: dict) -> list[str]:
    api, slow = group(results, "api"), group(results, "slow_receiver")
    found = [
        "How: msgs/s of run_dispatcher = SENT / (last - first sent_at) in the database; of loops "
        "and peers = distinct Idempotency-Keys / (last - first arrival) at the receiver.",
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
    ]
    sections = [(name,) for name in ("receiver", "claim", "api", "memory", "slow_receiver")]
    for path in (*sections, *RUN_GROUPS):
        found += _problem(path, group(results, *path))
    return found


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
