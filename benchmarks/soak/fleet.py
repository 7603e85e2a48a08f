"""The soak's dispatcher processes: started (some with a skewed clock), sampled, killed."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.support.procs import ROOT

WARM_UP_SECONDS = 5.0


@dataclass
class Dispatcher:
    """One dispatcher process and the RSS samples of its life (kB)."""

    popen: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)
    rss: list[int] = field(default_factory=list)
    slot: int = 0  # its place in the fleet: a replacement keeps the clock of the one it replaces

    def sample(self) -> None:
        if time.monotonic() - self.started < WARM_UP_SECONDS:
            return  # the interpreter is still importing; the first sample is the warm process
        try:
            status = Path(f"/proc/{self.popen.pid}/status").read_text()
        except OSError:
            return
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                self.rss.append(int(line.split()[1]))


LIBFAKETIME = next(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"), None)
SKEWS = ("+5m", "-5m")


def skewed(env: dict[str, str], number: int) -> dict[str, str]:
    """`env` with this host's wall clock moved (monotonic clock untouched), alternating."""
    if LIBFAKETIME is None:
        raise SystemExit("soak: skewed dispatchers need Debian's faketime (or --skewed 0)")
    return {**env, "LD_PRELOAD": str(LIBFAKETIME), "FAKETIME": SKEWS[number % 2],
            "FAKETIME_DONT_FAKE_MONOTONIC": "1"}  # fmt: skip


def spawn(env: dict[str, str], logs: Path, number: int) -> Dispatcher:
    log = (logs / f"dispatcher-{number}.log").open("w")
    argv = [sys.executable, "manage.py", "run_dispatcher", "--drain", "--interval", "1s",
            "--batch-size", "50", "--concurrency", "8"]  # fmt: skip
    return Dispatcher(subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=log))


def in_flight(dispatcher: Dispatcher) -> set[str]:
    """Messages the dispatcher holds (SENDING, locked by its worker id host-pid-xxxx)."""
    from messaging import models

    prefix = f"{socket.gethostname()}-{dispatcher.popen.pid}-"
    rows = models.Message.objects.filter(status="SENDING", locked_by__startswith=prefix)
    return {str(i) for i in rows.values_list("id", flat=True)}


class Fleet:
    """The dispatcher processes of the run: started, killed and replaced, all remembered."""

    def __init__(self, *, env: dict[str, str], logs: Path, skewed: int) -> None:
        self.env, self.logs, self.skewed = env, logs, skewed
        self.running: list[Dispatcher] = []
        self.retired: list[Dispatcher] = []
        self.in_flight_at_kills: set[str] = set()
        self.kills = 0

    def start(self, *, slot: int) -> None:
        """Start the dispatcher of `slot` (0..D-1); the first `skewed` slots run skewed."""
        number = len(self.running) + len(self.retired)
        env = skewed(self.env, slot) if slot < self.skewed else self.env
        dispatcher = spawn(env, self.logs, number)
        dispatcher.slot = slot
        self.running.append(dispatcher)

    def kill_one_and_replace(self) -> None:
        victim = self.running.pop(0)
        self.in_flight_at_kills |= in_flight(victim)
        victim.popen.send_signal(signal.SIGKILL)
        victim.popen.wait()
        self.in_flight_at_kills |= in_flight(victim)  # claims that landed during the kill
        self.retired.append(victim)
        self.kills += 1
        self.start(slot=victim.slot)

    def stop(self) -> None:
        for dispatcher in self.running:
            dispatcher.sample()
            dispatcher.popen.send_signal(signal.SIGTERM)
            dispatcher.popen.wait(timeout=60)
        self.retired.extend(self.running)
        self.running = []
