"""The one webhook call both peer queues' tasks make: what our dispatcher sends, by requests."""

from __future__ import annotations

import json
import os

import requests


def post_message(session: requests.Session, message_id: str, to: str, content: str) -> None:
    response = session.post(
        os.environ["BENCH_RECEIVER_URL"],
        data=json.dumps({"to": to, "content": content}),
        headers={"Content-Type": "application/json", "Idempotency-Key": message_id},
        timeout=30,
    )
    response.raise_for_status()
