"""Memory: the dispatcher's peak RSS after delivering a small and a large backlog.

Each run is a full drain (benchmarks/sections/drain.py) with one process; the peak RSS is its VmHWM
(high-water mark of its whole life, start-up included), sampled every 0.25 s until it exits.
"""

from __future__ import annotations

from benchmarks.sections.drain import DrainConfig, drain
from benchmarks.support.receivers import Receiver


def measure(
    receiver: Receiver, *, small: int, large: int, repeat: int, concurrency: int
) -> dict[str, dict]:
    found: dict[str, dict] = {
        "small": {"messages": small, "runs": []},
        "large": {"messages": large, "runs": []},
    }
    for _ in range(repeat):
        for size in ("small", "large"):
            config = DrainConfig(messages=found[size]["messages"], concurrency=concurrency)
            found[size]["runs"].append(drain(config, receiver=receiver))
    return found
