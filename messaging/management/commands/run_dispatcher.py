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
from django.core.management.base import CommandError
from django.db import connection

from core_domain.ports import WorkerBeat
from core_domain.use_cases.dispatcher import Pacing, TickReport
from core_domain.use_cases.prune_in_background import PruneInBackground
from core_domain.values import format_duration
from messaging.bootstrap import build_dispatcher, prune_expired
from messaging.config_parsers import BATCH_SIZE, CONCURRENCY, DURATION, whole_number
from messaging.management.commands._options import ShowingDefaults, checked
from messaging.process_supervisor import run_forked

PRUNE_EVERY = timedelta(minutes=1)  # how often a dispatcher tries to prune (one at a time)
PROCESSES = whole_number(1, 64)
# A rate from fewer messages or a shorter span than this says more about timer noise than speed.
RATE_MIN_MESSAGES = 10
RATE_MIN_SECONDS = 1.0


class Command(ShowingDefaults):
    help = (
        "Deliver due messages to the webhook until SIGTERM/SIGINT. Periodic by default (one "
        "batch every interval, as the Go service); --drain keeps every slot busy while anything "
        "is due and wakes within about a second when a message is created or a retry is due."
    )

    def add_arguments(self, parser) -> None:
        # The defaults are the configured values (SCHEDULER_*), so --help shows what runs.
        conf = settings.DISPATCHER
        add = parser.add_argument
        add("--once", action="store_true", help="run one tick and exit")
        add("--drain", action="store_true", help="deliver everything due, continuously")
        add(
            "--interval",
            default=format_duration(conf["scheduler_interval"]),
            help="time between periodic ticks, the longest idle wait with --drain; "
            "SCHEDULER_INTERVAL sets the default",
        )
        add(
            "--batch-size",
            default=conf["scheduler_batch_size"],
            help="messages per periodic tick, the most claimed at once; SCHEDULER_BATCH_SIZE "
            "sets the default",
        )
        add(
            "--concurrency",
            default=conf["scheduler_concurrency"],
            help="webhook calls in flight at once; SCHEDULER_CONCURRENCY sets the default",
        )
        add("--processes", default=1, help="run N dispatcher processes, one per core")

    def handle(self, *args, **options) -> None:
        interval = checked("--interval", DURATION, options["interval"])
        pacing = Pacing(interval=interval, drain=options["drain"], once=options["once"])
        batch_size = checked("--batch-size", BATCH_SIZE, options["batch_size"])
        concurrency = checked("--concurrency", CONCURRENCY, options["concurrency"])
        processes = checked("--processes", PROCESSES, options["processes"])
        if not settings.DISPATCHER["webhook_url"]:
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
    """One line per tick; a rate only when enough messages over a long enough span make one."""
    if report.is_paused:
        return "tick: paused (scheduler stopped)"
    extras = "".join(
        f" {name}={value}"
        for name, value in (("lost", report.lost), ("released", report.released),
                            ("receipt_errors", report.receipt_errors))
        if value
    )  # fmt: skip
    measurable = report.processed >= RATE_MIN_MESSAGES and report.seconds >= RATE_MIN_SECONDS
    rate = f", {report.processed / report.seconds:.1f} msgs/s" if measurable else ""
    return (
        f"tick: claimed={report.claimed} sent={report.sent} retried={report.retried} "
        f"failed={report.failed}{extras} in {report.seconds:.2f}s{rate}"
    )
