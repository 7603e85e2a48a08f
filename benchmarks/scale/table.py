"""The scale benchmark's tables: reads at two sizes (and an earlier run), the prune section."""

from __future__ import annotations

from benchmarks.reporting.report import fmt

COMPARE_BOUND = 1.5  # a larger run's p50 within this factor of the compared run's


def render(header: list[str], rows: list[list[str]], *, title: str) -> str:
    """Columns padded to their widest cell; numbers (all but the first column) to the right."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    return "\n".join([title, line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


def _met(value: float | None, bound: float) -> str:
    return "-" if value is None else ("met" if value <= bound else "NOT MET")


def _ratio(figure: float | None, baseline: float | None) -> float | None:
    return figure / baseline if figure is not None and baseline else None


def _p(found: dict | None, key: str) -> float | None:
    return None if found is None else found.get(key)


def reads_table(small: dict | None, large: dict, compare: dict | None = None) -> str:
    """One row per endpoint: baseline p50/p99, this size's p50/p99, the ratio, the target."""
    header = ["endpoint"]
    if small:
        header += [f"p50 @{small['rows']:,}", "p99"]
    header += [f"p50 @{large['rows']:,}", "p99"]
    header += ["ratio p50"] if small else []
    header += ["target p50", "met"]
    if compare:
        header += [f"p50 @{compare['rows']:,}", "ratio", f"<= {COMPARE_BOUND:g}x"]
    rows = []
    for label, found in large["endpoints"].items():
        base = small["endpoints"].get(label) if small else None
        earlier = compare["endpoints"].get(label) if compare else None
        p50 = found["p50_ms"]
        cells = [label]
        cells += [fmt(_p(base, "p50_ms")), fmt(_p(base, "p99_ms"))] if small else []
        cells += [fmt(p50), fmt(found["p99_ms"])]
        ratio = _ratio(p50, _p(base, "p50_ms"))
        cells += ["-" if ratio is None else f"{ratio:.2f}x"] if small else []
        cells += [f"<= {found['target_ms']:g} ms", _met(p50, found["target_ms"])]
        if compare:
            versus = _ratio(p50, _p(earlier, "p50_ms"))
            cells += [fmt(_p(earlier, "p50_ms")), "-" if versus is None else f"{versus:.2f}x",
                      _met(versus, COMPARE_BOUND)]  # fmt: skip
        rows.append(cells)
    return render(header, rows, title=f"reads at {large['rows']:,} rows (ms, sequential calls)")


def _span(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def prune_table(found: dict) -> str:
    rows = []
    for step in found["prunes"]:
        rate = step["messages"] / step["seconds"] if step["seconds"] else 0.0
        retention = f"{step['retention_s']}s ({_span(step['retention_s'])})"
        rows.append([step["label"], retention, f"{step['messages']:,}", f"{step['attempts']:,}",
                     f"{step['seconds']:.1f}", f"{rate:,.0f}"])  # fmt: skip
    header = ["prune", "MESSAGE_RETENTION", "messages", "attempts", "seconds", "messages/s"]
    return render(header, rows, title="prune throughput (prune_expired, batches of 1,000)")


def claims_table(found: dict) -> str:
    without, with_prune = found["claims_without"], found["claims_with"]
    bound = 2 * without["p99_ms"]
    rows = [
        ["without the prune", str(without["samples"]), fmt(without["p50_ms"]),
         fmt(without["p99_ms"]), fmt(without["max_ms"]), fmt(found["sent_per_s_without"]),
         f"{without['load_average']:.1f}", ""],
        ["while it prunes", str(with_prune["samples"]), fmt(with_prune["p50_ms"]),
         fmt(with_prune["p99_ms"]), fmt(with_prune["max_ms"]), fmt(found["sent_per_s_with"]),
         f"{with_prune['load_average']:.1f}",
         f"max <= {fmt(bound)} (2x p99 without): {_met(with_prune['max_ms'], bound)}"],
    ]  # fmt: skip
    header = ["claim_batch(10) + release", "samples", "p50 ms", "p99 ms", "max ms",
              "dispatcher sent/s", "load", "target"]  # fmt: skip
    return render(header, rows, title="claims while run_dispatcher --drain works a backlog")
