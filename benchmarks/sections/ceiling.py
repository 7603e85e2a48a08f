"""Requests loops, and the baselines of slow, tail and slow200: same payloads, no database.

The plain requests loops (benchmarks/support/client_loop.py) and the sliding-window senders
(benchmarks/support/window_sender.py) run as separate processes so their CPU comes from wait4,
like the dispatcher's; msgs/s is distinct keys / (last - first answer) at the receiver. Also the
receiver's own capacity: pipelined raw HTTP from two processes for a few seconds.
"""

from __future__ import annotations

from benchmarks.support import procs
from benchmarks.support.cpu import wait_children
from benchmarks.support.receivers import Receiver


def _client(mode: str, url: str, *extra: str) -> list[str]:
    return [procs.PYTHON, "-m", "benchmarks.support.client_loop", mode, "--url", url, *extra]


def requests_loop(
    receiver: Receiver, *, messages: int, processes: int = 1, threads: int = 1
) -> dict[str, float]:
    """`messages` POSTs split over `processes` loop processes of `threads` threads each."""
    shares = _shares(messages, processes)
    argvs = [_client("loop", receiver.url, "--count", str(share), "--threads", str(threads))
             for share in shares]  # fmt: skip
    return _clients(receiver, argvs, messages=messages, log="client-loop.log")


def window_sender(
    receiver: Receiver, *, messages: int, concurrency: int, processes: int = 1
) -> dict[str, float]:
    """`messages` POSTs by sliding-window senders, `concurrency` calls in flight in all."""
    argvs = [
        [procs.PYTHON, "-m", "benchmarks.support.window_sender", "--url", receiver.url,
         "--count", str(share), "--concurrency", str(window)]
        for share, window in zip(
            _shares(messages, processes), _shares(concurrency, processes), strict=True
        )
    ]  # fmt: skip
    return _clients(receiver, argvs, messages=messages, log="window-sender.log")


def _shares(total: int, parts: int) -> list[int]:
    return [total // parts + (n < total % parts) for n in range(parts)]


def _clients(
    receiver: Receiver, argvs: list[list[str]], *, messages: int, log: str
) -> dict[str, float]:
    """Run the client processes to their end; what the receiver saw and everyone's CPU."""
    receiver.mark()
    receiver_before = receiver.cpu_ms()
    popens = [procs.spawn(argv, env=procs.child_env(), log=log) for argv in argvs]
    usages = wait_children(popens, timeout=max(180.0, messages / 50))
    receiver_ms = receiver.cpu_ms() - receiver_before
    client_ms = sum(u.cpu_ms for u in usages)
    return receiver.collect().figures(messages, client=client_ms, receiver=receiver_ms)


def receiver_capacity(receiver: Receiver, *, seconds: float) -> dict[str, float]:
    """Answers per second under two pipelining clients, and the receiver's CPU per answer."""
    receiver.mark()
    before = receiver.cpu_ms()
    argv = _client("blast", receiver.url, "--seconds", str(seconds))
    popens = [procs.spawn(argv, env=procs.child_env(), log="client-blast.log") for _ in range(2)]
    wait_children(popens, timeout=seconds + 60)
    used_ms = receiver.cpu_ms() - before
    seen = receiver.collect()
    answers = sum(seen.keys.values())
    span = (seen.last or 0.0) - (seen.first or 0.0)
    return {
        "answers_per_s": answers / span if span > 0 else 0.0,
        "cpu_ms_per_answer": used_ms / answers if answers else 0.0,
    }
