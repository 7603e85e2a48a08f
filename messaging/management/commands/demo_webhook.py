"""`manage.py demo_webhook`: run the demo webhook receiver until Ctrl-C or SIGTERM."""

from __future__ import annotations

import math
import signal
import threading
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from messaging.config_parsers import FAIL_RATE, PORT, Parser
from messaging.demo_receiver import DemoWebhookServer
from messaging.management.commands._options import ShowingDefaults, checked


def _milliseconds(value: Any) -> float:
    number = float(value)
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(number)
    return number


LATENCY = Parser(_milliseconds, "milliseconds >= 0")


class Command(ShowingDefaults):
    help = "Answer webhook POSTs like the real receiver: 202 with a messageId, or a simulated 500."
    requires_system_checks: list[str] = []  # needs neither the database nor the checks
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        add = parser.add_argument
        add("--host", default="127.0.0.1", help="address to listen on")
        add("--port", default=9090, help="port to listen on, 1-65535")
        add(
            "--fail-rate",
            default=settings.DISPATCHER["demo_fail_rate"],
            help="share of valid requests answered 500 instead of 202, 0-1; DEMO_FAIL_RATE "
            "sets the default",
        )
        add("--latency", default=0.0, help="milliseconds to wait before answering")

    def handle(self, *args: Any, **options: Any) -> None:
        server = self._server(**options)
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        serving = threading.Thread(target=server.serve_forever, name="demo-webhook")
        serving.start()
        latency = server.latency.total_seconds() * 1000
        self.stdout.write(
            f"Demo webhook receiver listening on {server.url} "
            f"(fail rate {server.fail_rate:g}, latency {latency:g} ms); Ctrl-C stops it."
        )
        self.stdout.flush()
        stop.wait()
        server.stop()
        serving.join()
        self.stdout.write("Demo webhook receiver stopped.")

    def _server(
        self, *, host: str, port: Any, fail_rate: Any, latency: Any, **_: Any
    ) -> DemoWebhookServer:
        port = checked("--port", PORT, port)
        fail_rate = checked("--fail-rate", FAIL_RATE, fail_rate)
        latency = checked("--latency", LATENCY, latency)
        try:
            return DemoWebhookServer(
                (host, port), fail_rate=fail_rate, latency=timedelta(milliseconds=latency)
            )
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
