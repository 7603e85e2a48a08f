"""How long to wait between tries while the database is unreachable: one schedule for all."""

from __future__ import annotations

import threading

# About 16 s in all, longer than a PostgreSQL restart: a finished delivery is written once
# the server is back instead of being sent again after its lease runs out.
OUTAGE_DELAYS: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0)


def outage_delay(failures: int) -> float:
    """The wait after the `failures`-th failure in a row (1, 2, ...); the last one repeats."""
    return OUTAGE_DELAYS[max(0, min(failures, len(OUTAGE_DELAYS)) - 1)]


def pause(seconds: float) -> None:
    """Wait `seconds`. An Event's wait, not time.sleep: libfaketime, which runs dispatchers on
    a skewed clock in the tests and the soak, makes Python's clock_nanosleep fail (EINVAL)."""
    threading.Event().wait(max(0.0, seconds))
