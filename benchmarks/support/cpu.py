"""CPU and memory accounting from /proc and wait4, for the processes a benchmark run involves.

- A process we started and wait for: `wait_child` uses wait4, whose rusage covers the child and
  every descendant it reaped (so `run_dispatcher --processes 2` counts both children). Its peak
  RSS is the largest VmHWM of the process tree, sampled every 0.25 s while it runs: ru_maxrss
  cannot be used, because Linux folds in the pre-exec memory, i.e. the benchmark process's own
  RSS at the fork.
- Processes that outlive the run (nginx, the Python receiver): `tree_cpu_ms` before and after.
- The whole machine: `MachineSampler` reads the `cpu` line of /proc/stat every 0.1 s, so the
  share of all CPUs busy (any process, kernel included) can be told for the exact window a
  drain measured (first to last sentAt).
- PostgreSQL: the backends serving one database, found by their process title
  (`postgres: [cluster:] user dbname host(port) state`) and sampled by `BackendSampler` every
  0.1 s; a backend that appears during the run started at zero CPU, and one that exits keeps its
  last sample (it is idle by then: the dispatcher closes its connection after the drain).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.support import procs

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
RSS_SAMPLE_SECONDS = 0.25
PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class ChildUsage:
    """A finished child: exit code, CPU (ms, wait4) and the peak RSS of its tree (KiB, VmHWM)."""

    returncode: int
    cpu_ms: float
    max_rss_kib: int


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # field 3 (state) is index 0


def cpu_ms(pid: int) -> float | None:
    """utime + stime of one live process, in milliseconds; None if it is gone."""
    fields = _stat_fields(pid)
    return None if fields is None else (int(fields[11]) + int(fields[12])) * TICK_MS


def _all_pids() -> list[int]:
    return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]


def process_tree(root: int) -> list[int]:
    """`root` and all its live descendants."""
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        fields = _stat_fields(pid)
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(pid)
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def tree_cpu_ms(root: int) -> float:
    return sum(cpu_ms(pid) or 0.0 for pid in process_tree(root))


def _cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def postgres_backends(database: str) -> list[int]:
    """PostgreSQL backend processes connected to `database` (from their process titles)."""
    found = []
    for pid in _all_pids():
        words = _cmdline(pid).split()
        if len(words) < 4 or words[0] != "postgres:":
            continue
        start = 2 if words[1].endswith(":") else 1  # an optional `cluster_name:` prefix
        if len(words) > start + 1 and words[start + 1] == database:
            found.append(pid)
    return found


class BackendSampler:
    """Sums the CPU the backends of one database use between `start()` and `stop()`."""

    def __init__(self, database: str, *, period: float = 0.1) -> None:
        self._database, self._period = database, period
        self._base: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> None:
        for pid in postgres_backends(self._database):
            value = cpu_ms(pid)
            if value is not None:
                self._base.setdefault(pid, 0.0)  # appeared during the run: started at zero
                self._last[pid] = value

    def _loop(self) -> None:
        while not self._stopping.wait(self._period):
            self._sample()

    def start(self) -> BackendSampler:
        for pid in postgres_backends(self._database):
            self._base[pid] = self._last[pid] = cpu_ms(pid) or 0.0
        self._thread.start()
        return self

    def stop(self) -> float:
        self._sample()
        self._stopping.set()
        self._thread.join(timeout=5)
        return sum(self._last[pid] - self._base[pid] for pid in self._last)


class MachineSampler:
    """Timestamped /proc/stat totals; `busy_share(start, end)` is the busy fraction of all CPUs."""

    def __init__(self, *, period: float = 0.1) -> None:
        self._period = period
        self._samples: list[tuple[float, int, int]] = []  # (wall clock, busy ticks, all ticks)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> None:
        with open(PROC / "stat") as stat:
            ticks = [int(value) for value in stat.readline().split()[1:]]
        idle = ticks[3] + ticks[4]  # idle + iowait
        self._samples.append((time.time(), sum(ticks) - idle, sum(ticks)))

    def _loop(self) -> None:
        while not self._stopping.wait(self._period):
            self._sample()

    def start(self) -> MachineSampler:
        self._sample()
        self._thread.start()
        return self

    def stop(self) -> MachineSampler:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._sample()
        return self

    def busy_share(self, start: float, end: float) -> float | None:
        """Busy / all CPU time between the samples nearest to `start` and `end` (Unix times)."""
        inside = [s for s in self._samples if start <= s[0] <= end]
        if len(inside) < 2:
            return None
        (_, busy_0, all_0), (_, busy_1, all_1) = inside[0], inside[-1]
        return (busy_1 - busy_0) / (all_1 - all_0) if all_1 > all_0 else None


def vm_hwm_kib(pid: int) -> int:
    """The peak RSS of one live process's current image (0 if it is gone)."""
    try:
        status = (PROC / str(pid) / "status").read_text()
    except OSError:
        return 0
    found = next((line for line in status.splitlines() if line.startswith("VmHWM:")), "")
    return int(found.split()[1]) if found else 0


def wait_child(popen: subprocess.Popen, *, timeout: float) -> ChildUsage:
    """Wait (at most `timeout` s, then SIGKILL); CPU from wait4, peak RSS sampled meanwhile."""
    deadline, peak, sampled = time.monotonic() + timeout, 0, 0.0
    while True:
        pid, status, usage = os.wait4(popen.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - sampled >= RSS_SAMPLE_SECONDS:
            peak = max([peak, *(vm_hwm_kib(p) for p in process_tree(popen.pid))])
            sampled = time.monotonic()
        if time.monotonic() > deadline:
            _kill_group(popen.pid)
            pid, status, usage = os.wait4(popen.pid, 0)
            break
        time.sleep(0.02)
    popen.returncode = os.waitstatus_to_exitcode(status)
    cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000
    return ChildUsage(returncode=popen.returncode, cpu_ms=cpu_ms, max_rss_kib=peak)


def wait_children(popens: list[subprocess.Popen], *, timeout: float) -> list[ChildUsage]:
    """wait_child for each of `popens` in turn; all of them are stopped, whatever happens."""
    try:
        return [wait_child(popen, timeout=timeout) for popen in popens]
    finally:
        for popen in popens:
            procs.stop(popen)


def _kill_group(pid: int) -> None:
    """SIGKILL the process group `pid` leads (every process is started in its own session)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
