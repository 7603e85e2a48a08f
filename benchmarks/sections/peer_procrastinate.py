"""The procrastinate peer: one job per message, POSTing it with requests; PostgreSQL is the queue.

Imported by the benchmark (to defer jobs) and by `procrastinate --app
benchmarks.sections.peer_procrastinate.app worker`. DATABASE_URL is the scratch database;
BENCH_RECEIVER_URL names the receiver. Sync jobs run in worker threads: one Session per thread.
"""

from __future__ import annotations

import os
import threading

import requests
from procrastinate import App, PsycopgConnector

from benchmarks.sections import peer_post

app = App(connector=PsycopgConnector(conninfo=os.environ.get("DATABASE_URL", "")))
_local = threading.local()


@app.task(name="bench.post_message")
def post_message(message_id: str, to: str, content: str) -> None:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    peer_post.post_message(session, message_id, to, content)
