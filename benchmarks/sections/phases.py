"""The sections in order; each stores its runs, or why it was skipped, or its error, in results.

The drains, the requests loops and the peers alternate inside every repetition (requests loop
1p, drain 1p, loop 2p, drain 2p, Celery, procrastinate), so slow drifts of a shared machine hit
all of them alike; so do the baseline and the dispatcher of the slow, tail and slow200 sections.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from benchmarks.sections import api_load, ceiling, claim, memory, peers
from benchmarks.sections.drain import DrainConfig, drain
from benchmarks.support.progress import record_error, say, section
from benchmarks.support.receivers import Latency, Receiver, receiver

SECTIONS = ("drain", "peers", "slow", "tail", "slow200", "claim", "api", "memory")
SLOW200_WINDOW = 256  # calls in flight in slow200, for the dispatcher and its ideal alike
PEERS = (("celery", peers.celery_drain), ("procrastinate", peers.procrastinate_drain))


def one_run(store: dict, key: str, step: Callable[[], dict], *, label: str = "") -> None:
    """Append one run to store[key]["runs"]; after an error that group is not run again."""
    if "error" in store.get(key, {}) or "skipped" in store.get(key, {}):
        return
    try:
        found = step()
    except Exception as exc:
        record_error(store, key, exc)
        return
    store.setdefault(key, {"runs": []})["runs"].append(found)
    rate = found.get("msgs_per_s")
    name = label or key
    say(f"{name}: {rate:,.0f} msgs/s" if rate is not None else f"{name}: done")


def throughput(args: Any, results: dict, hook: Receiver) -> None:
    """The drains, the requests loops and the peers, alternated in every repetition."""
    drains, loops = results.setdefault("drain", {}), results.setdefault("ceiling", {})
    peer_runs = results.setdefault("peers", {})
    if "drain" not in args.sections:
        for store in (drains, loops):
            store.update({k: {"skipped": "not selected"} for k in ("1_process", "2_processes")})
    for name, _ in PEERS:
        why = peers.unavailable(name) if "peers" in args.sections else "not selected (--sections)"
        if why:
            peer_runs[name] = {"skipped": why}
    for number in range(args.repeat):
        say(f"repetition {number + 1}/{args.repeat}: loops, drains, peers ({args.messages:,})")
        for processes, key in ((1, "1_process"), (2, "2_processes")):
            loop = partial(ceiling.requests_loop, hook, messages=args.messages, processes=processes)
            one_run(loops, key, loop, label=f"requests loop {key}")
            config = DrainConfig(args.messages, processes, args.concurrency, args.batch_size)
            one_run(drains, key, partial(drain, config, receiver=hook), label=f"drain {key}")
        for name, run in PEERS:
            one_run(peer_runs, name, partial(run, hook, messages=args.messages))


def slow_receiver(args: Any) -> dict:
    """The slow receiver: the 64-thread requests loop and the dispatcher at -c 64, alternated."""
    with receiver("python", latency=Latency(args.slow_ms)) as hook:
        found: dict[str, Any] = {"receiver": hook.kind}
        config = DrainConfig(args.messages, 1, 64, args.batch_size)
        for number in range(args.repeat):
            say(f"slow receiver {number + 1}/{args.repeat}")
            loop = partial(ceiling.requests_loop, hook, messages=args.messages, threads=64)
            one_run(found, "threads_64", loop, label="slow: 64-thread loop")
            one_run(found, "dispatcher", partial(drain, config, receiver=hook), label="slow: drain")
    return found


def tail(args: Any) -> dict:
    """Heavy-tailed receiver: the sliding window at C=64 and the dispatcher -c 64, alternated.

    Then the receiver alone under two sender processes at C=64 and C=256, whose CPU per answer
    tells how far it is from being the bottleneck. Both sides are timed by the receiver.
    """
    n, latency = args.tail_messages, Latency(args.tail_fast_ms, args.tail_ms, args.tail_every)
    with receiver("python", latency=latency) as hook:
        found: dict[str, Any] = {"receiver": hook.kind, "messages": n}
        config = DrainConfig(n, 1, concurrency=64, batch_size=100)
        window = partial(ceiling.window_sender, hook, messages=n)
        for number in range(args.repeat):
            say(f"tail {number + 1}/{args.repeat} ({n:,} messages)")
            one_run(found, "window_64", partial(window, concurrency=64), label="tail: window 64")
            one_run(found, "dispatcher", partial(drain, config, receiver=hook), label="tail: drain")
            for size in (64, 256):
                step = partial(window, concurrency=size, processes=2)
                one_run(found, f"alone_{size}", step, label=f"tail: receiver alone at {size}")
    return found


def slow200(args: Any) -> dict:
    """A receiver answering after 200 ms: the dispatcher -c 256 vs 256 / 0.2 s, and the window.

    run_dispatcher takes --batch-size up to 1000, so the batch is 256 like the concurrency.
    """
    n, delay_ms = args.slow200_messages, args.slow200_ms
    with receiver("python", latency=Latency(delay_ms)) as hook:
        # The ideal is kept as one run, so it is a baseline like every measured one.
        ideal = {"runs": [{"msgs_per_s": SLOW200_WINDOW / (delay_ms / 1000)}]}
        found: dict[str, Any] = {"receiver": hook.kind, "messages": n, "ideal": ideal}
        config = DrainConfig(n, 1, concurrency=SLOW200_WINDOW, batch_size=SLOW200_WINDOW)
        window = partial(ceiling.window_sender, hook, messages=n, concurrency=SLOW200_WINDOW)
        for number in range(args.repeat):
            say(f"slow200 {number + 1}/{args.repeat} ({n:,} messages)")
            one_run(found, "window_256", window, label="slow200: window 256")
            step = partial(drain, config, receiver=hook)
            one_run(found, "dispatcher", step, label="slow200: drain")
    return found


def capacity(args: Any, hook: Receiver) -> dict:
    found: dict[str, Any] = {"kind": hook.kind}
    for _ in range(args.repeat):
        one_run(found, "capacity", partial(ceiling.receiver_capacity, hook, seconds=args.blast))
    return found


def api(args: Any, token: str) -> dict:
    say(f"API: {args.api_seconds:g} s per phase x 3 phases x {args.repeat}")
    return api_load.measure(
        repeat=args.repeat, workers=args.api_workers, threads=args.api_threads,
        seconds=args.api_seconds, connections=args.api_connections,
        tool=api_load.load_tool(args.loadgen), token=token,
    )  # fmt: skip


def run_all(args: Any, results: dict, *, token: str) -> None:
    chosen = set(args.sections)
    with receiver(args.receiver) as hook:
        say(f"receiver: {hook.kind}")
        section(results, "receiver", partial(capacity, args, hook))
        if chosen & {"drain", "peers"}:
            throughput(args, results, hook)
        if "slow" in chosen:
            section(results, "slow_receiver", partial(slow_receiver, args))
        if "tail" in chosen:
            section(results, "tail", partial(tail, args))
        if "slow200" in chosen:
            section(results, "slow200", partial(slow200, args))
        if "claim" in chosen:
            say(f"claim: {args.claim_rows[0]:,} and {args.claim_rows[1]:,} rows")
            sizes = {"small": args.claim_rows[0], "large": args.claim_rows[1]}
            measure = partial(claim.measure, **sizes, samples=args.claim_samples)
            section(results, "claim", partial(measure, repeat=args.repeat))
        if "api" in chosen:
            section(results, "api", partial(api, args, token))
        if "memory" in chosen:
            say(f"memory: {args.memory_messages[0]:,} and {args.memory_messages[1]:,} messages")
            small, large = args.memory_messages
            step = partial(memory.measure, hook, small=small, large=large, repeat=args.repeat)
            section(results, "memory", partial(step, concurrency=args.concurrency))
    groups = ("drain", "ceiling", "peers", "slow_receiver", "tail", "slow200", "claim", "api")
    for name in (*groups, "memory"):
        results.setdefault(name, {"skipped": "not selected (--sections)"})
