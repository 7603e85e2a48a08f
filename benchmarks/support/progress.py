"""Progress lines on stderr, and a measurement whose error is recorded instead of raised."""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from benchmarks.support import procs


def say(text: str) -> None:
    load = os.getloadavg()[0]
    print(
        f"[bench {time.strftime('%H:%M:%S')} load {load:.1f}] {text}", file=sys.stderr, flush=True
    )


def record_error(store: dict, key: str, exc: Exception) -> None:
    """store[key] says what `exc` was; its traceback goes to errors.log among the process logs."""
    procs.LOGS.mkdir(parents=True, exist_ok=True)
    with (procs.LOGS / "errors.log").open("a") as log:
        log.write(f"--- {key}\n{traceback.format_exc()}\n")
    store[key] = {"error": f"{type(exc).__name__}: {exc}"}
    say(f"{key}: ERROR {type(exc).__name__}: {exc} (see benchmarks/results/bench-logs)")


def section(results: dict, key: str, step: Callable[[], Any]) -> None:
    """results[key] = step(), or the error it raised."""
    try:
        results[key] = step()
    except Exception as exc:
        record_error(results, key, exc)
