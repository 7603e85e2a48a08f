"""`manage.py demo_webhook`: run the demo webhook receiver until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import threading
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from messaging.demo_receiver import DemoWebhookServer


class Command(BaseCommand):
    help = "Answer webhook POSTs like the real receiver: 202 with a messageId, or a simulated 500."
    requires_system_checks: list[str] = []  # needs neither the database nor the checks
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, default=9090, help="port (1-65535)")
        parser.add_argument(
            "--fail-rate", type=float, default=0.2, help="share of requests answered 500 (0-1)"
        )
        parser.add_argument(
            "--latency", type=float, default=0.0, help="milliseconds to wait before answering"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        server = self._server(**options)
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        serving = threading.Thread(target=server.serve_forever, name="demo-webhook")
        serving.start()
        self.stdout.write(
            f"Demo webhook receiver listening on {server.url} "
            f"(fail rate {server.fail_rate:g}, latency {options['latency']:g} ms); "
            "Ctrl-C stops it."
        )
        self.stdout.flush()
        stop.wait()
        server.stop()
        serving.join()
        self.stdout.write("Demo webhook receiver stopped.")

    def _server(
        self, *, host: str, port: int, fail_rate: float, latency: float, **_: Any
    ) -> DemoWebhookServer:
        if not 1 <= port <= 65535:
            raise CommandError(f"--port: expected a number from 1 to 65535, got {port}")
        if not 0.0 <= fail_rate <= 1.0:
            raise CommandError(f"--fail-rate: expected a number from 0 to 1, got {fail_rate:g}")
        if not latency >= 0:
            raise CommandError(f"--latency: expected milliseconds >= 0, got {latency:g}")
        try:
            return DemoWebhookServer(
                (host, port), fail_rate=fail_rate, latency=timedelta(milliseconds=latency)
            )
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
