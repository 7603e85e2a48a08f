"""The demo webhook receiver answers like the real one, and its command starts and stops cleanly."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.webhook_client import HttpWebhookSender
from messaging.demo_receiver import DemoWebhookServer
from tests.fakes import a_message
from tests.integration.receivers import closed_port

ROOT = Path(__file__).resolve().parents[2]

StartDemo = Callable[..., DemoWebhookServer]


@pytest.fixture
def start_demo() -> Iterator[StartDemo]:
    running: list[tuple[DemoWebhookServer, threading.Thread]] = []

    def start(**options: Any) -> DemoWebhookServer:
        server = DemoWebhookServer(("127.0.0.1", 0), **options)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        running.append((server, thread))
        return server

    yield start
    for server, thread in running:
        server.stop()
        thread.join()


def post(port: int, body: bytes) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("POST", "/any/path", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_dispatcher_request_is_accepted_with_a_message_id(start_demo: StartDemo) -> None:
    server = start_demo(fail_rate=0.0)

    with HttpWebhookSender(url=server.url, timeout=timedelta(seconds=5)) as sender:
        outcome = sender.send(a_message())

    assert outcome.status_code == 202
    assert uuid.UUID(outcome.external_id)
    assert json.loads(outcome.response_excerpt)["message"] == "Accepted"


def test_keep_alive_connections_serve_several_requests(start_demo: StartDemo) -> None:
    server = start_demo(fail_rate=0.0)
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=5)
    try:
        for _ in range(3):
            connection.request("POST", "/", b'{"to":"+1555","content":"hi"}')
            response = connection.getresponse()
            body = response.read()
            assert response.status == 202
            assert response.getheader("Content-Length") == str(len(body))
            assert response.getheader("Connection") is None
    finally:
        connection.close()


def test_a_fail_rate_of_one_answers_every_request_with_a_500(start_demo: StartDemo) -> None:
    server = start_demo(fail_rate=1.0)

    assert post(server.server_port, b'{"to":"+905551234567","content":"Hello"}') == (
        500,
        {"message": "Simulated failure"},
    )


@pytest.mark.parametrize(
    "body", [b"not json", b"[1, 2]", b'{"to":"+905551234567"}', b'{"to":1,"content":"x"}']
)
def test_a_body_that_is_not_a_message_is_a_400(start_demo: StartDemo, body: bytes) -> None:
    status, answer = post(start_demo(fail_rate=1.0).server_port, body)

    assert status == 400
    assert answer["message"]


def test_latency_delays_the_answer(start_demo: StartDemo) -> None:
    server = start_demo(fail_rate=0.0, latency=timedelta(milliseconds=200))

    with HttpWebhookSender(url=server.url, timeout=timedelta(seconds=5)) as sender:
        outcome = sender.send(a_message())

    assert outcome.is_success
    assert outcome.duration >= timedelta(milliseconds=200)


def manage(*args: str, **options: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--fail-rate", "2", "CommandError: --fail-rate: expected a number from 0 to 1, got '2'"),
        ("--port", "70000", "CommandError: --port: expected a port number 1-65535, got '70000'"),
        ("--latency", "-1", "CommandError: --latency: expected milliseconds >= 0, got '-1'"),
    ],
    ids=["fail-rate", "port", "latency"],
)
def test_an_invalid_option_stops_the_command_with_one_line(option, value, expected) -> None:
    with manage("demo_webhook", option, value) as process:
        stdout, stderr = process.communicate(timeout=60)

    assert process.returncode != 0
    assert stderr.strip().splitlines() == [expected]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_command_serves_until_a_signal_then_exits_cleanly(signum: signal.Signals) -> None:
    port = closed_port()
    with manage("demo_webhook", "--port", str(port), "--fail-rate", "0") as process:
        try:
            banner = process.stdout.readline()  # printed once the socket is listening
            assert f"listening on http://127.0.0.1:{port}/" in banner
            assert post(port, b'{"to":"+905551234567","content":"Hello"}')[0] == 202
            process.send_signal(signum)
            stdout, stderr = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()

    assert process.returncode == 0
    assert "stopped" in stdout
    assert "POST /any/path -> 202 (Idempotency-Key -)" in stderr
    assert "Traceback" not in stderr
