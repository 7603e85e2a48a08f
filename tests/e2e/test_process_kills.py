"""SIGKILL at random moments: a dispatcher duplicates only what was in flight, the API loses no 201.

Dispatchers: twenty rounds each start one `run_dispatcher --drain`, wait a seeded random time
once it runs, note which messages it holds SENDING, and SIGKILL it. A last dispatcher then
delivers the rest. Every message must end SENT, reach the receiver, and reach it more than once
only if it was in flight at one of the kills (SPEC §7: at-least-once, duplicates only for
messages in flight when a process died).

API: gunicorn with two gthread workers serves client threads that POST messages non-stop while
its workers are SIGKILLed and respawned by the master; every create answered 201 must be in the
database. Requests cut by a kill are counted and printed, not judged.
"""

from __future__ import annotations

import os
import random
import re
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
import requests

from messaging import models
from tests.e2e.processes import (
    children,
    dispatcher_env,
    dispatchers,
    gunicorn,
    is_healthy,
    wait_until,
)
from tests.integration.receivers import Reply

pytestmark = pytest.mark.django_db(transaction=True)

# -- dispatchers -------------------------------------------------------------------------------

SEED = 20240607
ROUNDS = 20
MESSAGES = 800  # enough that the last victim still has work (each round delivers about 40)
DISPATCHER_ARGS = ("--drain", "--interval", "100ms", "--batch-size", "5", "--concurrency", "4")
FINISHER_ARGS = ("--drain", "--interval", "100ms", "--batch-size", "50", "--concurrency", "16")
_STARTED = re.compile(r"^dispatcher (\S+): every ", re.MULTILINE)


@dataclass(frozen=True)
class Kill:
    worker_id: str
    sending_before: frozenset[str]  # SENDING and locked by the victim just before the kill
    sending_after: frozenset[str]  # the same, just after: a dead process changes nothing more

    @property
    def in_flight(self) -> frozenset[str]:
        return self.sending_before | self.sending_after


def statuses() -> dict[str, int]:
    return dict(models.Message.objects.values_list("status").annotate(n=models.models.Count("id")))


def sending_by(worker_id: str) -> frozenset[str]:
    rows = models.Message.objects.filter(status="SENDING", locked_by=worker_id)
    return frozenset(str(pk) for pk in rows.values_list("id", flat=True))


def started_worker_id(output: str) -> str | None:
    """The worker id from the dispatcher's first line, once it has printed it."""
    found = _STARTED.search(output)
    return found.group(1) if found else None


def test_sigkilled_dispatchers_duplicate_only_messages_in_flight_at_a_kill(
    receiver, seed, tmp_path
) -> None:
    rng = random.Random(SEED)
    messages = {str(m.id) for m in seed(MESSAGES)}
    receiver.script(*[Reply(delay=rng.uniform(0, 0.03)) for _ in range(3 * MESSAGES)])
    # The lease outlives a timed-out call; a killed dispatcher's messages come back within 1 s.
    env = dispatcher_env(webhook_url=receiver.url, WEBHOOK_LEASE="1s", WEBHOOK_TIMEOUT="500ms")
    kills: list[Kill] = []
    sent_by_round: list[int] = []
    round_started = time.monotonic()
    for round_number in range(ROUNDS):
        logs = tmp_path / f"round-{round_number:02d}"
        with dispatchers(1, *DISPATCHER_ARGS, env=env, logs=logs) as (victim,):
            worker_id = wait_until(
                lambda: started_worker_id(victim.output), timeout=30, what="the dispatcher to start"
            )
            time.sleep(rng.uniform(0.3, 1.2))  # the random kill point is the subject, not a wait
            assert victim.popen.poll() is None, f"round {round_number}: exited\n{victim.output}"
            before = sending_by(worker_id)
            victim.kill()
            kills.append(Kill(worker_id, before, sending_by(worker_id)))
        sent_by_round.append(statuses().get("SENT", 0))
    rounds_took = time.monotonic() - round_started
    unsent_after_rounds = MESSAGES - sent_by_round[-1]

    finish_started = time.monotonic()
    with dispatchers(1, *FINISHER_ARGS, env=env, logs=tmp_path / "final") as (final,):
        wait_until(lambda: started_worker_id(final.output), timeout=30, what="the last dispatcher")
        wait_until(lambda: statuses() == {"SENT": MESSAGES}, timeout=30, what="every message SENT")
    finish_took = time.monotonic() - finish_started
    assert final.popen.returncode == 0, final.output

    counts = receiver.counts()
    in_flight = frozenset().union(*(kill.in_flight for kill in kills))
    duplicated = {key for key, n in counts.items() if n > 1}
    print(
        f"\n{ROUNDS} kills in {rounds_took:.1f}s; {sum(1 for k in kills if k.in_flight)} caught "
        f"messages in flight ({len(in_flight)} in all); {unsent_after_rounds} unsent after the "
        f"rounds; {len(duplicated)} delivered twice or more; SENT after each round: "
        f"{sent_by_round}; the last dispatcher took {finish_took:.1f}s"
    )
    assert set(counts) == messages, "a message never reached the receiver (or a stray key came)"
    assert duplicated <= in_flight, (
        f"sent more than once without being in flight at a kill: {sorted(duplicated - in_flight)}"
    )
    caught = Counter(key for kill in kills for key in kill.in_flight)
    too_many = {key: n for key, n in counts.items() if n > 1 + caught[key]}
    assert not too_many, f"more sends than 1 + the kills that caught them in flight: {too_many}"
    assert any(kill.in_flight for kill in kills), "no kill hit a dispatcher with work in flight"


# -- the API server ----------------------------------------------------------------------------

CLIENTS = 4
WORKER_KILLS = 3


def two_workers(master_pid: int) -> set[int] | None:
    found = children(master_pid)
    return found if len(found) == 2 else None


@dataclass
class Results:
    """What the client threads saw; `lock` guards every field."""

    created: list[str] = field(default_factory=list)  # ids answered 201
    other_statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # exception names
    lock: threading.Lock = field(default_factory=threading.Lock)

    def created_count(self) -> int:
        with self.lock:
            return len(self.created)

    def wait_for_more_creates(self, more: int) -> None:
        floor = self.created_count() + more
        wait_until(lambda: self.created_count() >= floor, timeout=30, what=f"{more} more creates")


def post_messages(
    base_url: str, api_key: str, *, client: int, stop: threading.Event, results: Results
) -> None:
    """POST /api/v1/messages until `stop`, recording every outcome."""
    headers = {"Authorization": f"Bearer {api_key}"}
    with requests.Session() as session:
        number = 0
        while not stop.is_set():
            number += 1
            body = {"phoneNumber": "+905551234567", "content": f"client {client} #{number}"}
            try:
                response = session.post(
                    f"{base_url}/api/v1/messages", json=body, headers=headers, timeout=(1, 3)
                )
            except requests.RequestException as exc:
                with results.lock:
                    results.failures[type(exc).__name__] += 1
                continue
            with results.lock:
                if response.status_code == 201:
                    results.created.append(response.json()["id"])
                else:
                    results.other_statuses[response.status_code] += 1


def kill_workers_under_load(master_pid: int, results: Results) -> list[int]:
    """SIGKILL a worker WORKER_KILLS times, each once creates flow and both workers run."""
    killed: list[int] = []
    for number in range(WORKER_KILLS):
        results.wait_for_more_creates(20)
        workers = wait_until(
            lambda: two_workers(master_pid), timeout=30, what="two gunicorn workers"
        )
        victim = random.Random(SEED + number).choice(sorted(workers))
        os.kill(victim, signal.SIGKILL)
        killed.append(victim)
        wait_until(
            lambda: len(children(master_pid) - {victim}) == 2,  # noqa: B023 - used at once
            timeout=30,
            what="the master to respawn the killed worker",
        )
    results.wait_for_more_creates(20)  # the respawned workers serve
    return killed


def test_sigkill_of_an_api_worker_mid_request_loses_no_create_answered_201(
    api_key, tmp_path
) -> None:
    results, stop = Results(), threading.Event()
    with gunicorn(log=tmp_path / "gunicorn.log") as (master, base_url):
        wait_until(lambda: is_healthy(base_url), timeout=30, what="gunicorn to answer /health")
        clients = [
            threading.Thread(
                target=post_messages,
                args=(base_url, api_key),
                kwargs={"client": n, "stop": stop, "results": results},
                name=f"client-{n}",
            )
            for n in range(CLIENTS)
        ]
        for client in clients:
            client.start()
        try:
            killed = kill_workers_under_load(master.pid, results)
        finally:
            stop.set()
            for client in clients:
                client.join(timeout=10)
        assert master.poll() is None, (tmp_path / "gunicorn.log").read_text()

    answered = set(results.created)
    stored = {
        str(pk)
        for pk in models.Message.objects.filter(pk__in=answered).values_list("id", flat=True)
    }
    print(
        f"\n{len(answered)} creates answered 201 across {len(killed)} worker kills; "
        f"failed requests: {dict(results.failures) or 'none'}; "
        f"other statuses: {dict(results.other_statuses) or 'none'}"
    )
    assert len(answered) == len(results.created), "an id was answered 201 twice"
    assert stored == answered, f"answered 201 but not stored: {sorted(answered - stored)}"
    assert not any(client.is_alive() for client in clients)
