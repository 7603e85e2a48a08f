"""`make bench` in miniature (--quick, bundled receiver, Python load generator), so it cannot rot.

Needs none of nginx, wrk, Celery or procrastinate: what is not installed is skipped with a note.
Checks shapes and correctness (every section present, no error, no duplicate or lost message),
never a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.processes import ROOT

SECTIONS = ("meta", "receiver", "drain", "ceiling", "peers", "slow_receiver", "tail", "slow200",
            "claim", "api", "memory", "targets", "notes")  # fmt: skip


def _errors(found: object, path: str = "") -> list[str]:
    if isinstance(found, dict):
        here = [f"{path}: {found['error']}"] if "error" in found else []
        return here + [e for k, v in found.items() for e in _errors(v, f"{path}/{k}")]
    if isinstance(found, list):
        return [e for n, v in enumerate(found) for e in _errors(v, f"{path}[{n}]")]
    return []


def test_the_quick_benchmark_fills_every_section(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--receiver", "python",
         "--loadgen", "python", "--database", "message_dispatcher_bench_smoke",
         "--json", str(output)],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    report = json.loads(output.read_text())
    assert [s for s in SECTIONS if s not in report] == []
    assert _errors(report) == [], result.stderr[-4000:]
    integrity = next(t for t in report["targets"] if t["id"] == "integrity")
    assert integrity["met"] is True and integrity["runs"] >= 8
    assert "drain 1 process: msgs/s" in result.stdout
    assert "sliding window 64" in result.stdout and "ideal 256 / delay" in result.stdout
    assert report["tail"]["dispatcher"]["runs"] and report["slow200"]["dispatcher"]["runs"]
    assert report["claim"]["index_used"] is True
