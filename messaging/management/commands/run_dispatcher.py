"""`run_dispatcher`: the long-running dispatcher; any number may run at once on any hosts."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import secrets
import signal
import socket
import sys
import threading
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import (
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    connections,
)
from django.utils import timezone

from core_domain.ports import WorkerStatus
from core_domain.use_cases.run_dispatcher_tick import TickReport
from core_domain.values import format_duration, parse_duration
from messaging import metrics
from messaging.bootstrap import dispatcher_tick

logger = logging.getLogger(__name__)
MAX_OUTAGE_WAIT = 15.0  # seconds between tries while PostgreSQL is unreachable


def _duration(text: str) -> timedelta:
    try:
        span = parse_duration(text)
    except ValueError:
        raise CommandError(
            f"--interval: expected a duration like 500ms, 30s, 2m, got {text!r}"
        ) from None
    if span <= timedelta(0):
        raise CommandError("--interval: must be more than zero")
    return span


def _positive(name: str, value: int, high: int) -> int:
    if not 1 <= value <= high:
        raise CommandError(f"--{name}: expected a whole number 1-{high}, got {value}")
    return value


class Command(BaseCommand):
    help = "Deliver due messages to the webhook every interval until SIGTERM/SIGINT."

    def add_arguments(self, parser) -> None:
        conf = settings.DISPATCHER["scheduler"]
        parser.add_argument("--once", action="store_true", help="run one tick and exit")
        parser.add_argument("--drain", action="store_true", help="claim until nothing is due")
        parser.add_argument("--interval", default=format_duration(conf["interval"]))
        parser.add_argument("--batch-size", type=int, default=conf["batch_size"])
        parser.add_argument("--concurrency", type=int, default=conf["concurrency"])
        parser.add_argument(
            "--processes", type=int, default=1, help="run N dispatcher processes (one per core)"
        )

    def handle(self, *args, **options) -> None:
        interval = _duration(options["interval"])
        batch_size = _positive("batch-size", options["batch_size"], 1000)
        concurrency = _positive("concurrency", options["concurrency"], 512)
        processes = _positive("processes", options["processes"], 64)
        if not settings.DISPATCHER["webhook"]["url"]:
            raise CommandError("WEBHOOK_URL: not set; the dispatcher has nowhere to deliver")
        run = functools.partial(
            self._run,
            interval=interval,
            batch_size=batch_size,
            concurrency=concurrency,
            once=options["once"],
            drain=options["drain"],
        )
        if processes > 1:
            sys.exit(_run_forked(processes, run))
        run()

    def _run(
        self, *, interval: timedelta, batch_size: int, concurrency: int, once: bool, drain: bool
    ) -> None:
        stopping = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
        tick = dispatcher_tick(concurrency=concurrency)
        worker, started = self._new_worker(), False
        self.stdout.write(
            f"dispatcher {worker.id}: every {format_duration(interval)}, batch {batch_size}, "
            f"concurrency {concurrency}{', drain' if drain else ''}"
        )
        failures = 0
        while not stopping.is_set():
            close_old_connections()
            try:
                if not started:
                    worker, started = tick.start(worker), True
                worker, report = tick.execute(
                    worker=worker,
                    batch_size=batch_size,
                    drain=drain,
                    should_stop=stopping.is_set,
                    on_batch=metrics.record_batch,
                )
            except (OperationalError, InterfaceError) as exc:
                # Claimed messages stay leased to us and come back when the lease runs out.
                failures += 1
                wait = min(MAX_OUTAGE_WAIT, 0.5 * 2**failures)
                logger.warning("Database unavailable (%s); next try in %.1fs", exc, wait)
                connection.close()
                stopping.wait(wait)
                continue
            failures = 0
            self.stdout.write(_progress_line(report))
            if once:
                break
            stopping.wait(interval.total_seconds())
        connection.close()
        self.stdout.write(f"dispatcher {worker.id}: stopped")

    def _new_worker(self) -> WorkerStatus:
        now = timezone.now()
        host = socket.gethostname()
        return WorkerStatus(
            id=f"{host}-{os.getpid()}-{secrets.token_hex(2)}",
            host=host,
            pid=os.getpid(),
            started_at=now,
            last_heartbeat=now,
        )


def _run_forked(count: int, run: Callable[[], None]) -> int:
    """Run `run` in `count` forked children and wait for them; the worst exit code.

    Django is set up once, here, so children start at once and share its pages until they
    write them. SIGTERM/SIGINT are passed on to every child.
    """
    connections.close_all()  # a database connection must never be shared across a fork
    sys.stdout.flush()
    sys.stderr.flush()
    children = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            os._exit(_child_exit_code(run))
        children.append(pid)

    def forward(signum, frame) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) for child in children]
    worst = max(codes, key=abs)
    return 128 - worst if worst < 0 else worst  # killed by signal N: 128 + N, as shells say


def _child_exit_code(run: Callable[[], None]) -> int:
    try:
        run()
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        logger.exception("dispatcher process failed")
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def _progress_line(report: TickReport) -> str:
    if report.is_paused:
        return "tick: paused (scheduler stopped)"
    extras = "".join(
        f" {name}={value}"
        for name, value in (("lost", report.lost), ("released", report.released),
                            ("receipt_errors", report.receipt_errors))
        if value
    )  # fmt: skip
    return (
        f"tick: claimed={report.claimed} sent={report.sent} retried={report.retried} "
        f"failed={report.failed}{extras} {report.messages_per_second:.1f} msgs/s "
        f"({report.seconds:.2f}s, {report.batches} batches)"
    )
