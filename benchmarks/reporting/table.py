"""The one table: a row per figure with its median, its target's baseline and ratio, every run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmarks.reporting.report import fmt, group, integrity, median, targets

CPU = ("cpu_ms_per_msg_dispatcher", "cpu_ms_per_msg_postgres", "cpu_ms_per_msg_receiver")
CLIENT = ("cpu_ms_per_msg_client", "cpu_ms_per_msg_receiver")
LATENCY = ("p50_ms", "p99_ms")
ALONE = ("msgs_per_s", "cpu_ms_per_msg_receiver")
# kind (m: one median, c: several in one cell), section, label, path, target id or keys
# fmt: off
ROW_SPECS: tuple[tuple[str, str, str, tuple, Any], ...] = (
    ("m", "0", "receiver capacity, answers/s (2 pipelining clients)",
     ("receiver", "capacity", "answers_per_s"), None),
    ("m", "1", "drain 1 process: msgs/s (first->last sentAt)",
     ("drain", "1_process", "msgs_per_s"), "ceiling"),
    ("c", "1", "  CPU ms/msg: dispatcher / PostgreSQL / receiver", ("drain", "1_process"), CPU),
    ("m", "1", "  all CPUs busy while it drained, %",
     ("drain", "1_process", "machine_cpu_busy_pct"), None),
    ("m", "1", "drain 2 processes: msgs/s", ("drain", "2_processes", "msgs_per_s"), "scaling"),
    ("c", "1", "  CPU ms/msg: dispatcher / PostgreSQL / receiver", ("drain", "2_processes"), CPU),
    ("m", "1", "  all CPUs busy while it drained, %",
     ("drain", "2_processes", "machine_cpu_busy_pct"), None),
    ("m", "2", "requests loop 1 process: msgs/s", ("ceiling", "1_process", "msgs_per_s"), None),
    ("c", "2", "  CPU ms/msg: client / receiver", ("ceiling", "1_process"), CLIENT),
    ("m", "2", "requests loop 2 processes: msgs/s", ("ceiling", "2_processes", "msgs_per_s"), None),
    ("m", "3", "Celery, prefork 2: drain msgs/s", ("peers", "celery", "msgs_per_s"), None),
    ("m", "3", "  enqueue msgs/s", ("peers", "celery", "enqueue_msgs_per_s"), None),
    ("c", "3", "  CPU ms/msg: workers / receiver", ("peers", "celery"),
     ("cpu_ms_per_msg_workers", "cpu_ms_per_msg_receiver")),
    ("m", "3", "procrastinate, 2 workers x 8: drain msgs/s",
     ("peers", "procrastinate", "msgs_per_s"), None),
    ("m", "3", "  enqueue msgs/s", ("peers", "procrastinate", "enqueue_msgs_per_s"), None),
    ("c", "3", "  CPU ms/msg: workers / PostgreSQL", ("peers", "procrastinate"),
     ("cpu_ms_per_msg_workers", "cpu_ms_per_msg_postgres")),
    ("m", "3", "drain 2 processes vs procrastinate: msgs/s", ("drain", "2_processes", "msgs_per_s"),
     "procrastinate"),
    ("m", "3", "drain 2 processes vs Celery: msgs/s", ("drain", "2_processes", "msgs_per_s"),
     "celery"),
    ("m", "4", "slow receiver 20 ms: 64-thread requests loop msgs/s",
     ("slow_receiver", "threads_64", "msgs_per_s"), None),
    ("m", "4", "slow receiver 20 ms: dispatcher -c 64 msgs/s",
     ("slow_receiver", "dispatcher", "msgs_per_s"), "slow"),
    ("m", "4b", "tail receiver {tail}: sliding-window sender C=64 msgs/s",
     ("tail", "window_64", "msgs_per_s"), None),
    ("m", "4b", "  dispatcher -c 64 -b 100, {tail_n} msgs: msgs/s at the receiver",
     ("tail", "dispatcher", "receiver_msgs_per_s"), "tail"),
    ("m", "4b", "  the same drain by sentAt: msgs/s", ("tail", "dispatcher", "msgs_per_s"), None),
    ("c", "4b", "  CPU ms/msg: dispatcher / PostgreSQL / receiver", ("tail", "dispatcher"), CPU),
    ("c", "4b", "  receiver alone, 2 senders C=64: answers/s / receiver CPU ms each",
     ("tail", "alone_64"), ALONE),
    ("c", "4b", "  receiver alone, 2 senders C=256: answers/s / receiver CPU ms each",
     ("tail", "alone_256"), ALONE),
    ("m", "4c", "{slow200_ms} ms receiver: sliding-window sender C=256 msgs/s",
     ("slow200", "window_256", "msgs_per_s"), None),
    ("m", "4c", "  dispatcher -c 256 -b 256, {slow200_n} msgs: msgs/s at the receiver",
     ("slow200", "dispatcher", "receiver_msgs_per_s"), "slow200"),
    ("m", "4c", "  the same drain by sentAt: msgs/s", ("slow200", "dispatcher", "msgs_per_s"),
     None),
    ("c", "4c", "  CPU ms/msg: dispatcher / PostgreSQL / receiver", ("slow200", "dispatcher"),
     CPU),
    ("m", "5", "claim 100 of {small} rows (1% due): p50 ms", ("claim", "small", "p50_ms"), None),
    ("m", "5", "  p95 ms", ("claim", "small", "p95_ms"), None),
    ("m", "5", "claim 100 of {large} rows (1% due): p50 ms", ("claim", "large", "p50_ms"),
     "claim"),
    ("m", "5", "  p95 ms", ("claim", "large", "p95_ms"), None),
    ("plan", "5", "", ("claim",), None),
    ("m", "6", "bare DRF INSERT: requests/s", ("api", "baseline", "requests_per_s"), None),
    ("c", "6", "  latency p50 / p99 ms", ("api", "baseline"), LATENCY),
    ("m", "6", "POST /api/v1/messages: requests/s", ("api", "single", "requests_per_s"),
     "api_single"),
    ("c", "6", "  latency p50 / p99 ms", ("api", "single"), LATENCY),
    ("m", "6", "  messages inserted/s", ("api", "single", "messages_per_s"), None),
    ("m", "6", "POST /api/v1/messages/bulk x1000: requests/s", ("api", "bulk", "requests_per_s"),
     None),
    ("c", "6", "  latency p50 / p99 ms", ("api", "bulk"), LATENCY),
    ("m", "6", "  messages inserted/s", ("api", "bulk", "messages_per_s"), "api_bulk"),
    ("m", "7", "dispatcher peak RSS after {few} messages: MiB",
     ("memory", "small", "peak_rss_mib"), None),
    ("m", "7", "dispatcher peak RSS after {many} messages: MiB",
     ("memory", "large", "peak_rss_mib"), "memory"),
    ("check", "*", "", (), None),
)
# fmt: on


@dataclass(frozen=True, slots=True)
class Row:
    section: str
    label: str
    value: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    met: str = ""
    runs: str = ""


def metric(section: str, label: str, results: dict, path: tuple, target: dict | None = None) -> Row:
    *where, key = path
    found = group(results, *where)
    if "skipped" in found or "error" in found:
        why = found.get("skipped") or found.get("error")
        value = "skipped" if "skipped" in found else "ERROR"
        return Row(section, label, value, runs=str(why)[:48])
    runs = " ".join(fmt(r.get(key)) for r in found.get("runs", []))
    value = fmt(median(results, *path))
    if target is None:
        return Row(section, label, value, runs=runs)
    met = {True: "met", False: "NOT MET", None: "-"}[target["met"]]
    met += " (info)" if target["informational"] else ""
    ratio = "-" if target["ratio"] is None else f"{target['ratio']:.2f}x"
    baseline = fmt(target["baseline"])
    return Row(section, label, value, baseline, ratio, target["target"], met, runs)


def render(rows: list[Row], *, title: str) -> str:
    header = Row("#", "measurement", "median", "baseline", "ratio", "target", "met", "runs")
    table = [header, *rows]
    widths = [max(len(getattr(r, f)) for r in table) for f in Row.__slots__]
    lines = [title]
    for number, row in enumerate(table):
        cells = [getattr(row, f) for f in Row.__slots__]
        lines.append(
            "  ".join(
                c.rjust(w) if i in (2, 3) else c.ljust(w)
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
    return plan, Row("*", label, counts, target=check["target"], met=met)


def _sizes(results: dict) -> dict[str, Any]:
    claim, memory = group(results, "claim"), group(results, "memory")
    options = results["meta"]["options"]
    tail = (
        f"{options['tail_fast_ms']:g} ms; 1 in {options['tail_every']}: {options['tail_ms']:g} ms"
    )
    return {
        "tail": f"({tail})",
        "tail_n": f"{options['tail_messages']:,}",
        "slow200_ms": f"{options['slow200_ms']:g}",
        "slow200_n": f"{options['slow200_messages']:,}",
        "small": f"{group(claim, 'small').get('rows', 0):,}",
        "large": f"{group(claim, 'large').get('rows', 0):,}",
        "few": f"{group(memory, 'small').get('messages', 0):,}",
        "many": f"{group(memory, 'large').get('messages', 0):,}",
    }


def _is_selected(results: dict, path: tuple) -> bool:
    """False for the rows of a section left out with --sections: they would only say so."""
    top = group(results, *path[:1])
    return not str(top.get("skipped", "")).startswith("not selected")


def rows(results: dict) -> list[Row]:
    by_id = {t["id"]: t for t in targets(results)}
    names, (plan, check) = _sizes(results), special_rows(results)
    found = []
    for kind, section, label, path, extra in ROW_SPECS:
        if not _is_selected(results, path):
            continue
        if kind == "m":
            found.append(metric(section, label.format(**names), results, path, by_id.get(extra)))
        elif kind == "c":
            found.append(combined(section, label, results, path, extra))
        else:
            found.append(plan if kind == "plan" else check)
    return found
