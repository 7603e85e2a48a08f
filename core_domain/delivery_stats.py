"""Deliveries per minute and their latency, as the dashboard shows them (SPEC §12)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta


def bucket_upper_ms(bucket: int) -> float:
    """The upper bound of a latency bucket: bucket b holds [2^(b/2), 2^((b+1)/2)) ms."""
    return 2 ** ((bucket + 1) / 2)


def quantile(buckets: Mapping[int, int], q: float) -> timedelta | None:
    """The `q` quantile of a bucketed histogram, as its bucket's upper bound (within a factor
    of √2 of the true value); None for an empty one."""
    total = sum(buckets.values())
    if not total:
        return None
    rank, seen = math.ceil(q * total), 0
    for bucket in sorted(buckets):
        seen += buckets[bucket]
        if seen >= rank:
            return timedelta(milliseconds=bucket_upper_ms(bucket))
    raise AssertionError("unreachable: the ranks add up to the total")


@dataclass(frozen=True, slots=True)
class MinuteStats:
    """One minute of deliveries: attempts by outcome and the latency histograms
    (`delivery`: created to SENT; `call`: one webhook call)."""

    minute: datetime
    sent: int = 0
    retried: int = 0
    failed: int = 0
    delivery: Mapping[int, int] = field(default_factory=dict)
    call: Mapping[int, int] = field(default_factory=dict)
