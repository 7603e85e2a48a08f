"""The shared on/off switch stops every dispatcher; Redis outages and bad config are handled."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import caches

from adapters.receipt_cache import receipt_key
from messaging import models
from tests.e2e.processes import ROOT, dispatcher_env, dispatchers, wait_until
from tests.integration.receivers import closed_port

pytestmark = pytest.mark.django_db(transaction=True)


def heartbeats() -> dict[str, object]:
    return dict(models.Worker.objects.values_list("id", "last_heartbeat"))


def ticks_passed(since: dict[str, object]) -> bool:
    """Every worker seen in `since` has written a newer heartbeat."""
    now = heartbeats()
    return all(now.get(worker, stamp) != stamp for worker, stamp in since.items())


def test_stop_pauses_every_dispatcher_and_start_resumes(api, receiver, seed, tmp_path) -> None:
    env = dispatcher_env(webhook_url=receiver.url)
    with dispatchers(2, "--drain", "--interval", "200ms", env=env, logs=tmp_path):
        wait_until(lambda: len(heartbeats()) == 2, timeout=60, what="two workers to heartbeat")
        stopped = api.post("/api/v1/scheduler/stop")
        assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
        assert api.post("/api/v1/scheduler/stop").status_code == 409
        messages = seed(20)
        for _ in range(3):  # three more ticks of each worker, all while stopped
            seen = heartbeats()
            wait_until(lambda: ticks_passed(seen), timeout=30, what="a tick")  # noqa: B023
        assert receiver.requests == [], "a dispatcher delivered while the scheduler was stopped"
        status = api.get("/api/v1/scheduler/status").json()
        assert status["isRunning"] is False
        assert [w["alive"] for w in status["workers"]] == [True, True]
        assert api.post("/api/v1/scheduler/start").status_code == 200
        assert api.post("/api/v1/scheduler/start").status_code == 409
        wait_until(lambda: len(receiver.requests) >= 20, timeout=60, what="delivery after start")
    assert set(receiver.counts()) == {str(m.id) for m in messages}


def test_a_starting_dispatcher_forgets_workers_silent_for_over_a_day(receiver) -> None:
    now = datetime.now(UTC)
    for worker_id, age in (
        ("crashed-2-days-ago", timedelta(days=2)),
        ("stopped-1h-ago", timedelta(hours=1)),
    ):
        models.Worker.objects.create(
            id=worker_id, host="h", pid=1, started_at=now - age, last_heartbeat=now - age
        )

    done = subprocess.run(
        [sys.executable, "manage.py", "run_dispatcher", "--once"],
        cwd=ROOT, env=dispatcher_env(webhook_url=receiver.url), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    workers = set(models.Worker.objects.values_list("id", flat=True))
    assert "crashed-2-days-ago" not in workers
    assert "stopped-1h-ago" in workers and len(workers) == 2  # and the new dispatcher


def test_deliveries_continue_while_redis_is_unreachable(receiver, seed, tmp_path) -> None:
    seed(5)
    env = dispatcher_env(webhook_url=receiver.url, REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    with dispatchers(1, "--once", "--drain", env=env, logs=tmp_path) as (dispatcher,):
        assert dispatcher.popen.wait(timeout=60) == 0, dispatcher.output
    assert models.Message.objects.filter(status="SENT").count() == 5
    assert "receipt_errors=5" in dispatcher.output


def test_receipts_appear_in_redis_when_it_is_up(receiver, seed, tmp_path) -> None:
    messages = seed(3)
    env = dispatcher_env(webhook_url=receiver.url)
    with dispatchers(1, "--once", "--drain", env=env, logs=tmp_path) as (dispatcher,):
        assert dispatcher.popen.wait(timeout=60) == 0, dispatcher.output
    for message in messages:
        stored = caches["default"].get(receipt_key(message.id))
        assert stored is not None and stored["messageId"] == str(message.id)


@pytest.mark.parametrize("key", ["WEBHOOK_TIMEOUT", "SCHEDULER_INTERVAL"])
def test_a_bad_duration_stops_run_dispatcher_with_one_line(key, receiver) -> None:
    env = dispatcher_env(webhook_url=receiver.url, **{key: "ten"})
    result = subprocess.run(
        [sys.executable, "manage.py", "run_dispatcher", "--once"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"Configuration error: {key}: expected a duration like 500ms, 30s, 2m or 1h, "
        f"got 'ten' (from {key})"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--interval", "soon"], "--interval: expected a duration"),
     (["--batch-size", "0"], "--batch-size: expected a whole number")],
)  # fmt: skip
def test_bad_options_stop_run_dispatcher_with_one_line(args, message, receiver) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "run_dispatcher", "--once", *args],
        cwd=ROOT, env=dispatcher_env(webhook_url=receiver.url), capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
