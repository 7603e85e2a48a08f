"""The scale benchmark's printed report: title, fill, the reads table, prune and claims, checks."""

from __future__ import annotations

from benchmarks.scale import table as scale_table


def _gb(size: int) -> str:
    return f"{size / 1e9:.2f} GB"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{status} {counts.get(status, 0):,}"
                     for status in ("SENT", "FAILED", "PENDING", "SENDING"))  # fmt: skip


def _yes(value: bool) -> str:
    return "yes" if value else "NO"


def title(results: dict) -> str:
    meta, fill = results["meta"], results["fill"]
    load = f"{meta['load_average_at_start'][0]:.2f} -> {meta['load_average_at_end'][0]:.2f}"
    return (
        f"bench-scale: {fill['rows_now']:,} rows; {meta['cpus']} CPUs, load average {load}; "
        f"PostgreSQL {meta['postgresql']} (autovacuum {meta['autovacuum']}); git {meta['git']}; "
        f"{meta['seconds']} s"
    )


def fill_lines(fill: dict) -> list[str]:
    how = f"reused (filled {fill['filled_at']})" if fill["reused"] else "filled now"
    return [
        f"fill: {fill['rows']:,} rows in {fill['seconds']:.0f} s, {how}; database "
        f"{_gb(fill['size_bytes'])} after the fill",
        f"  by status after the fill: {_counts(fill['counts'])}; "
        f"kept counts = COUNT(*): {_yes(fill['counts_match'])}",
        f"  now: {fill['rows_now']:,} rows, {_gb(fill['size_bytes_now'])}",
    ]


def reads_lines(found: dict, compare: dict | None) -> list[str]:
    if "error" in found:
        return [f"reads: ERROR {found['error']}"]
    small, large = found["baseline"], found["large"]
    earlier = compare.get("reads", {}).get("large") if compare else None
    return [
        scale_table.reads_table(small, large, earlier),
        f"DEEP = min(4,000,000, 80 % of the rows): {small['deep_offset']:,} at the baseline, "
        f"{large['deep_offset']:,} here. The phone number matches "
        f"{small.get('phone_matches', 0):,} message(s) at the baseline, "
        f"{large.get('phone_matches', 0):,} here (the admin shows up to 100 a page).",
        "The claim row is timed in this process; the others are whole HTTP calls.",
    ]


def prune_lines(found: dict) -> list[str]:
    if "error" in found:
        return [f"prune: ERROR {found['error']}"]
    check = found["check"]
    removed = check["live_removed"]
    due = found["due_left_after_prune"]
    busy = "busy throughout" if due else "OUT OF WORK before the prune ended"
    return [
        scale_table.prune_table(found),
        "",
        scale_table.claims_table(found),
        f"receiver: {found['receiver']}; {due:,} messages still due when the prune ended "
        f"(the dispatcher was {busy})",
        f"PENDING+SENDING: {check['live_before']:,} before (backlog {check['backlog_inserted']:,} "
        f"included), {check['live_after']:,} after, {check['finished_by_dispatcher']:,} finished "
        f"by the dispatcher: {removed:,} removed ({'met' if removed == 0 else 'NOT MET'})",
        f"SENT+FAILED removed: {check['finished_removed']:,} (the prunes reported "
        f"{check['prune_reported']:,}); kept counts = COUNT(*) after: "
        f"{_yes(check['kept_counts_match'])}",
        f"  by status before: {_counts(check['before'])}",
        f"  by status after:  {_counts(check['after'])}",
    ]


def render(results: dict, *, compare: dict | None = None) -> str:
    lines = [title(results), "", *fill_lines(results["fill"])]
    if "reads" in results:
        lines += ["", *reads_lines(results["reads"], compare)]
    if "prune" in results:
        lines += ["", *prune_lines(results["prune"])]
    return "\n".join(lines)
