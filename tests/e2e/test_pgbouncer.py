"""The API through PgBouncer in transaction mode, a dispatcher on its own session (SPEC §9).

The API's NOTIFY (from the messages trigger, sent on commit) still wakes an idle dispatcher,
and nothing the API runs needs a session: no prepared statement, no LISTEN.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from django.db import connection

from messaging import models
from tests.e2e.processes import (
    Process,
    dispatcher_env,
    gunicorn,
    is_healthy,
    require_debian_package,
    wait_until,
)
from tests.integration.receivers import closed_port

pytestmark = pytest.mark.django_db(transaction=True)


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
    return require_debian_package(found, what="pgbouncer", package="pgbouncer")


@contextmanager
def pgbouncer(workdir: Path) -> Iterator[str]:
    """PgBouncer in transaction mode in front of the test database; yields its URL."""
    conf = connection.settings_dict
    host = conf["HOST"] or conf.get("OPTIONS", {}).get("host", "")
    port, user, name = conf["PORT"] or 5432, conf["USER"], conf["NAME"]
    listen = closed_port()
    (workdir / "users.txt").write_text(f'"{user}" "{conf["PASSWORD"] or ""}"\n')
    (workdir / "pgbouncer.ini").write_text(
        f"[databases]\n{name} = host={host} port={port} dbname={name}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {listen}\n"
        f"unix_socket_dir =\nauth_type = trust\nauth_file = {workdir / 'users.txt'}\n"
        "pool_mode = transaction\n"  # and, in 1.18, no prepared statements at all
        "ignore_startup_parameters = extra_float_digits,options\n"
        f"logfile = {workdir / 'pgbouncer.log'}\npidfile = {workdir / 'pgbouncer.pid'}\n"
    )
    # PgBouncer will not run as root: it is told to switch to nobody, who must reach its files.
    as_user = ["-u", "nobody"] if os.geteuid() == 0 else []
    workdir.chmod(0o777)
    for parent in workdir.parents:
        if parent == Path(tempfile.gettempdir()):
            break
        parent.chmod(parent.stat().st_mode | 0o011)
    process = subprocess.Popen([pgbouncer_binary(), *as_user, str(workdir / "pgbouncer.ini")])
    try:
        yield f"postgres://{user}@127.0.0.1:{listen}/{name}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_api_works_through_pgbouncer_in_transaction_mode_and_wakes_the_dispatcher(
    receiver, api_key, tmp_path
) -> None:
    auth = {"Authorization": f"Bearer {api_key}"}

    def post(path: str, **kwargs) -> requests.Response:
        return requests.post(f"{base_url}{path}", headers=auth, timeout=10, **kwargs)

    with (
        pgbouncer(tmp_path) as pooled_url,
        gunicorn(
            log=tmp_path / "gunicorn.log", database_url=pooled_url, WEBHOOK_URL=receiver.url
        ) as (_, base_url),  # fmt: skip
    ):
        env = dispatcher_env(webhook_url=receiver.url)
        dispatcher = Process(["run_dispatcher", "--drain", "--interval", "1m"], env=env,
                             log=tmp_path / "dispatcher.log")  # fmt: skip
        try:
            wait_until(lambda: is_healthy(base_url), timeout=30, what="the API to answer")
            ready = f"{base_url}/health/ready"
            wait_until(lambda: requests.get(ready, timeout=5).ok, timeout=30, what="the pool")
            wait_until(lambda: models.Worker.objects.exists(), timeout=30, what="a heartbeat")
            ids = []
            for number in range(20):  # one by one: each must wake the idle dispatcher
                body = {"phoneNumber": "+905551234567", "content": f"pooled {number}"}
                created = post("/api/v1/messages", json=body)
                assert created.status_code == 201, created.text
                ids.append(created.json()["id"])
                started = time.monotonic()
                wait_until(lambda: receiver.count(ids[-1]) == 1, timeout=30, what="delivery")
                assert time.monotonic() - started < 10  # not the 1-minute timed wake
        finally:
            assert dispatcher.stop() == 0, dispatcher.output
        bulk = post("/api/v1/messages/bulk", json=[body] * 3)
        assert bulk.status_code == 201, bulk.text
        processed = post("/api/v1/messaging/process?batch_size=10")
        assert processed.status_code == 200, processed.text
        assert processed.json()["successCount"] == 3
        status = requests.get(f"{base_url}/api/v1/messaging/status", headers=auth, timeout=10)
        assert status.status_code == 200 and status.json()["sentCount"] == 23
    assert sorted(receiver.counts().values()) == [1] * 23
