"""The read side at scale: each endpoint under gunicorn, timed one call at a time, and a claim.

Every probe makes `warm_up` untimed calls, then `samples` timed ones, in sequence on one
keep-alive connection (requests.Session: the client's own cost, well under a millisecond, is
in the figure). Ids are a random sample of the table, so `/messages/{id}` reads pages a cache
may not hold; the keyset probe walks the list, each call following the previous page's Link.
The admin pages are fetched with a staff session, logged in through the login form. The claim
row is `claim_batch(limit=100)` in this process, each claim released again
(benchmarks/sections/claim.py).
"""

from __future__ import annotations

import itertools
import random
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

import requests

from benchmarks.sections import claim
from benchmarks.sections.api_load import gunicorn
from benchmarks.support import harness

API_TARGET_MS, ADMIN_TARGET_MS = 50.0, 200.0
DEEP_OFFSET = 4_000_000  # at most 80 % of the rows, so a small table still skips most of itself
PHONE = "+905550000042"  # one of the fill's 9,973 numbers
STAFF = ("scale-admin", "scale-admin-password")
CALL_TIMEOUT_S = 120
Next = Callable[[requests.Response | None], str]


@dataclass(frozen=True, slots=True)
class Probe:
    label: str
    next_path: Next  # the path of the next call, given the previous answer (None at first)
    target_ms: float = API_TARGET_MS
    is_admin: bool = False


def deep_offset(rows: int) -> int:
    return min(DEEP_OFFSET, rows * 4 // 5)


def _fixed(path: str) -> Next:
    return lambda _previous: path


def _cycling(paths: list[str]) -> Next:
    upcoming = itertools.cycle(paths)
    return lambda _previous: next(upcoming)


def _keyset_walk(first: str) -> Next:
    """Each call follows the Link of the previous page; back to `first` at the end."""

    def following(previous: requests.Response | None) -> str:
        found = previous is not None and re.match(r"<([^>]+)>", previous.headers.get("Link", ""))
        if not found:
            return first
        url = found.group(1)
        return url[url.index("/api/") :]

    return following


def sample_ids(rows: int, *, finished: bool, count: int = 50) -> list[str]:
    """`count` random ids (SENT or FAILED ones if `finished`), from a few sampled pages."""
    percent = max(0.01, min(100.0, 100.0 * 5_000 / max(rows, 1)))
    where = "WHERE status IN ('SENT', 'FAILED')" if finished else ""
    found = harness.execute(
        f"SELECT id FROM messages TABLESAMPLE SYSTEM (%s) {where} LIMIT 2000", (percent,)
    )
    ids = [str(row[0]) for row in found]
    if not ids:
        ids = [str(row[0]) for row in harness.execute(f"SELECT id FROM messages {where} LIMIT 50")]
    return random.Random(7).sample(ids, min(count, len(ids)))


def probes(rows: int) -> list[Probe]:
    ids, finished = sample_ids(rows, finished=False), sample_ids(rows, finished=True)
    phone = quote(PHONE)
    api = "/api/v1/messages"
    return [
        Probe("GET /api/v1/messages?limit=20", _fixed(f"{api}?limit=20")),
        Probe("  ?status=SENT", _fixed(f"{api}?limit=20&status=SENT")),
        Probe("  ?phoneNumber=<one of 9,973>", _fixed(f"{api}?limit=20&phoneNumber={phone}")),
        Probe("  ?before=<cursor> (keyset walk)", _keyset_walk(f"{api}?limit=20")),
        Probe("  ?offset=DEEP", _fixed(f"{api}?limit=20&offset={deep_offset(rows)}")),
        Probe("GET /api/v1/messages/{id}", _cycling([f"{api}/{i}" for i in ids])),
        Probe("GET /api/v1/messages/{id}/attempts",
              _cycling([f"{api}/{i}/attempts" for i in finished])),
        Probe("GET /api/v1/messaging/status", _fixed("/api/v1/messaging/status")),
        Probe("GET /api/v1/scheduler/status", _fixed("/api/v1/scheduler/status")),
        Probe("GET /health/ready", _fixed("/health/ready")),
        Probe("GET /metrics", _fixed("/metrics")),
        Probe("admin changelist", _fixed("/admin/messaging/message/"), ADMIN_TARGET_MS, True),
        Probe("  ?status__exact=SENT", _fixed("/admin/messaging/message/?status__exact=SENT"),
              ADMIN_TARGET_MS, True),
        Probe("  ?q=<phone number>", _fixed(f"/admin/messaging/message/?q={phone}"),
              ADMIN_TARGET_MS, True),
    ]  # fmt: skip


def percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        only = values[0] if values else 0.0
        return {"p50_ms": only, "p99_ms": only, "max_ms": only, "samples": len(values)}
    p99 = statistics.quantiles(values, n=100, method="inclusive")[98]
    return {"p50_ms": statistics.median(values), "p99_ms": p99, "max_ms": max(values),
            "samples": len(values)}  # fmt: skip


def time_probe(session: requests.Session, base: str, probe: Probe, *, warm_up: int,
               samples: int) -> list[float]:  # fmt: skip
    previous, found = None, []
    for number in range(warm_up + samples):
        path = probe.next_path(previous)
        started = time.perf_counter()
        try:
            previous = session.get(base + path, timeout=CALL_TIMEOUT_S, allow_redirects=False)
        except requests.Timeout:
            # A call that never answered in time is the probe's figure (NOT MET in the
            # table); the other probes still run.
            return [CALL_TIMEOUT_S * 1000.0]
        elapsed_ms = (time.perf_counter() - started) * 1000
        if previous.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {previous.status_code} {previous.text[:200]}")
        if number >= warm_up:
            found.append(elapsed_ms)
    return found


def _ensure_staff() -> None:
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    if not users.filter(username=STAFF[0]).exists():
        users.create_superuser(STAFF[0], "scale@example.invalid", STAFF[1])


def staff_session(base: str) -> requests.Session:
    """A session logged in to the admin through its login form."""
    _ensure_staff()
    session, login = requests.Session(), f"{base}/admin/login/"
    page = session.get(login, timeout=60)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if token is None:
        raise RuntimeError("admin login page without a CSRF token")
    form = {"csrfmiddlewaretoken": token.group(1), "username": STAFF[0],
            "password": STAFF[1], "next": "/admin/"}  # fmt: skip
    done = session.post(login, data=form, headers={"Referer": login}, allow_redirects=False,
                        timeout=60)  # fmt: skip
    if done.status_code != 302:
        raise RuntimeError(f"admin login failed: HTTP {done.status_code}")
    return session


def measure(rows: int, *, token: str, warm_up: int, samples: int, name: str) -> dict:
    """p50/p99 of every probe and of a claim of 100, on the current database."""
    found: dict[str, dict] = {}
    with gunicorn(f"gunicorn-{name}", "dispatcher_project.settings", workers=2, threads=4) as base:
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {token}"
        staff = staff_session(base)
        for probe in probes(rows):
            session = staff if probe.is_admin else api
            times = time_probe(session, base, probe, warm_up=warm_up, samples=samples)
            found[probe.label] = {**percentiles(times), "target_ms": probe.target_ms}
    times = claim.latencies_ms(claim.repository(), samples=samples)
    found["claim 100 (claim_batch + release)"] = {**percentiles(times), "target_ms": API_TARGET_MS}
    [(matches,)] = harness.execute(
        "SELECT count(*) FROM messages WHERE phone_number = %s", (PHONE,)
    )
    return {"rows": rows, "deep_offset": deep_offset(rows), "phone_matches": matches,
            "endpoints": found}  # fmt: skip
