"""The Celery peer: one task per message, POSTing it with requests; Redis is the broker.

Imported by the benchmark (to enqueue) and by `celery -A benchmarks.sections.peer_celery worker`.
BENCH_RECEIVER_URL names the receiver; REDIS_URL the broker; BENCH_QUEUE the queue.
"""

from __future__ import annotations

import os

import requests
from celery import Celery

from benchmarks.sections import peer_post

QUEUE = os.environ.get("BENCH_QUEUE", "md-bench")
app = Celery("md_bench", broker=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
app.conf.update(
    task_ignore_result=True,
    task_default_queue=QUEUE,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
_session: requests.Session | None = None  # one per prefork child, made after the fork


@app.task(name="bench.post_message")
def post_message(message_id: str, to: str, content: str) -> None:
    global _session
    if _session is None:
        _session = requests.Session()
    peer_post.post_message(_session, message_id, to, content)
