"""The soak script runs end to end on a tiny load, so `make soak` cannot rot unnoticed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.e2e.processes import ROOT, require_libfaketime


def test_a_tiny_soak_reconciles_every_message() -> None:
    require_libfaketime()
    result = subprocess.run(
        # Slow answers keep the run going past the first kill; one dispatcher runs 5 minutes
        # ahead. No PostgreSQL restart here: the suite's own connections share the server.
        [sys.executable, "-m", "benchmarks.soak", "--messages", "120", "--dispatchers", "2",
         "--kill-every", "2", "--timeout", "120", "--database", "message_dispatcher_soak_smoke",
         "--latency-ms", "150,250", "--skewed", "1", "--restart-command", ""],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "RESULT: OK" in result.stdout
    report = json.loads((ROOT / "benchmarks" / "results" / "soak.json").read_text())
    assert report["created"] == report["sent"] + report["failed"] == 120
    assert report["kills"] >= 1
    assert report["skewed_dispatchers"] == 1
