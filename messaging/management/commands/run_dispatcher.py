"""`run_dispatcher`: the long-running dispatcher; any number may run at once on any hosts."""

from __future__ import annotations

import functools
import os
import secrets
import signal
import socket
import sys
import threading
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from core_domain.ports import WorkerBeat
from core_domain.use_cases.dispatcher import Pacing, TickReport
from core_domain.use_cases.prune_in_background import PruneInBackground
from core_domain.values import format_duration, parse_duration
from messaging.bootstrap import build_dispatcher, prune_expired
from messaging.process_supervisor import run_forked

PRUNE_EVERY = timedelta(minutes=1)  # how often a dispatcher tries to prune (one at a time)


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
    help = (
        "Deliver due messages to the webhook until SIGTERM/SIGINT. Periodic by default (one "
        "batch every interval, as the Go service); --drain keeps every slot busy while anything "
        "is due and wakes within about a second when a message is created or a retry is due."
    )

    def add_arguments(self, parser) -> None:
        conf = settings.DISPATCHER["scheduler"]
        add = parser.add_argument
        add("--once", action="store_true", help="run one tick and exit")
        add("--drain", action="store_true", help="deliver everything due, continuously")
        add(
            "--interval",
            default=format_duration(conf["interval"]),
            help="time between periodic ticks; the longest idle wait with --drain (%(default)s)",
        )
        add(
            "--batch-size",
            type=int,
            default=conf["batch_size"],
            help="messages per periodic tick; the most claimed at once (%(default)s)",
        )
        add(
            "--concurrency",
            type=int,
            default=conf["concurrency"],
            help="webhook calls in flight at once (%(default)s)",
        )
        add("--processes", type=int, default=1,
            help="run N dispatcher processes, one per core (%(default)s)")  # fmt: skip

    def handle(self, *args, **options) -> None:
        pacing = Pacing(
            interval=_duration(options["interval"]), drain=options["drain"], once=options["once"]
        )
        batch_size = _positive("batch-size", options["batch_size"], 1000)
        concurrency = _positive("concurrency", options["concurrency"], 512)
        processes = _positive("processes", options["processes"], 64)
        if not settings.DISPATCHER["webhook"]["url"]:
            raise CommandError("WEBHOOK_URL: not set; the dispatcher has nowhere to deliver")
        run = functools.partial(
            self._run, pacing=pacing, batch_size=batch_size, concurrency=concurrency
        )
        if processes > 1:
            sys.exit(run_forked(processes, run))
        run()

    def _run(self, *, pacing: Pacing, batch_size: int, concurrency: int) -> None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        host = socket.gethostname()
        beat = WorkerBeat(id=f"{host}-{os.getpid()}-{secrets.token_hex(2)}", host=host,
                          pid=os.getpid())  # fmt: skip
        mode = ", drain" if pacing.drain else ""
        self.stdout.write(
            f"dispatcher {beat.id}: every {format_duration(pacing.interval)}, batch {batch_size}, "
            f"concurrency {concurrency}{mode}"
        )
        dispatcher = build_dispatcher(concurrency=concurrency, batch_size=batch_size)
        pruning = PruneInBackground(prune=prune_expired(), every=PRUNE_EVERY).start()
        try:
            dispatcher.run(beat=beat, pacing=pacing, stop=stop, on_tick=self._print_tick)
        finally:
            pruning.stop()
            dispatcher.close()
            connection.close()
        self.stdout.write(f"dispatcher {beat.id}: stopped")

    def _print_tick(self, report: TickReport) -> None:
        self.stdout.write(progress_line(report))


def progress_line(report: TickReport) -> str:
    """One line per tick; a rate only over spans long enough to mean something."""
    if report.is_paused:
        return "tick: paused (scheduler stopped)"
    extras = "".join(
        f" {name}={value}"
        for name, value in (("lost", report.lost), ("released", report.released),
                            ("receipt_errors", report.receipt_errors))
        if value
    )  # fmt: skip
    rate = f", {report.processed / report.seconds:.1f} msgs/s" if report.seconds >= 1 else ""
    return (
        f"tick: claimed={report.claimed} sent={report.sent} retried={report.retried} "
        f"failed={report.failed}{extras} in {report.seconds:.2f}s{rate}"
    )
