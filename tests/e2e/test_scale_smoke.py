"""`make bench-scale` in miniature (--quick: 5,000 rows, bundled receiver), so it cannot rot.

Checks shapes and the reconciliation (the kept counts equal COUNT(*), and no PENDING or SENDING
message is pruned), never a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.processes import ROOT


def test_the_quick_scale_benchmark_runs_every_section(tmp_path: Path) -> None:
    output = tmp_path / "scale.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.scale", "--quick", "--receiver", "python",
         "--database", "message_dispatcher_scale_smoke", "--json", str(output), "--drop"],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    report = json.loads(output.read_text())
    assert report["fill"]["counts_match"] is True
    assert "error" not in report["reads"] and "error" not in report["prune"], result.stderr[-4000:]
    endpoints = report["reads"]["large"]["endpoints"]
    assert len(endpoints) == 15 and {e["samples"] for e in endpoints.values()} == {10}
    check = report["prune"]["check"]
    assert check["live_removed"] == 0 and check["kept_counts_match"] is True
    assert check["finished_removed"] == check["prune_reported"] > 0
    assert "reads at 5,000 rows" in result.stdout and "while it prunes" in result.stdout
