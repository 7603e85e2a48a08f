"""A hard deadline on a whole HTTP call: one watchdog thread shuts down the sockets of late calls.

urllib3's timeouts bound each socket operation (the TCP connect, one recv, one send), not a
call: a receiver that sends one byte every half second keeps every recv under its timeout for
ever, and so does a TLS handshake that drips. So each call runs under a CallDeadline, the
connections it uses register their sockets with it (adapters.http_connections), and when the
deadline passes the watchdog calls shutdown(SHUT_RDWR) on them. Unlike close(), shutdown is
safe while another thread is blocked in recv on that socket: the recv returns at once with the
end of the stream and the library fails (or ends the body) as it would for a vanished peer.

The watchdog shuts down a duplicate of each descriptor, owned by the call and closed when the
call ends, so a descriptor number it may still use can never have been reused by another
socket; and it never touches a call that has ended or handed its connection back to the pool.
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
import socket
import threading
import time

_current = threading.local()


def current_call() -> CallDeadline | None:
    """The call running on this thread, if it runs under a deadline."""
    return getattr(_current, "call", None)


class CallDeadline:
    """One call's deadline, its watched sockets, and what its current attempt got to."""

    __slots__ = ("at", "is_fired", "is_done", "is_connected", "is_reused", "is_answered",
                 "_handles", "_watchdog")  # fmt: skip

    def __init__(self, *, at: float, watchdog: Watchdog) -> None:
        self.at = at
        self.is_fired = False  # the watchdog shut the call's sockets down
        self.is_done = False  # ended, or its connection went back to the pool: never fire
        self.is_connected = False  # TCP (and TLS) up for the current attempt
        self.is_reused = False  # the current attempt went out on a pooled connection
        self.is_answered = False  # a byte of an answer arrived in the current attempt
        self._handles: list[socket.socket] = []
        self._watchdog = watchdog

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def start_attempt(self) -> None:
        self.is_connected = self.is_reused = self.is_answered = False

    def watch(self, sock: socket.socket) -> None:
        """Shut `sock` down when the deadline passes (at once if it has passed)."""
        self._watchdog.watch(self, sock)

    def release(self) -> bool:
        """The connection goes back to the pool; False if the deadline fired (do not pool it)."""
        return self._watchdog.release(self)


class Watchdog:
    """One daemon thread and a heap of call deadlines; calls begin and end on their threads."""

    def __init__(self) -> None:
        self._order = itertools.count()  # ties on `at` never compare the calls
        self.forget_calls()

    def forget_calls(self) -> None:
        """Start afresh: a forked child has no watchdog thread and may inherit a held lock."""
        self._lock = threading.Lock()
        self._wakeup = threading.Condition(self._lock)
        self._heap: list[tuple[float, int, CallDeadline]] = []
        self._thread: threading.Thread | None = None
        self._sleeps_until = math.inf  # the deadline the watchdog thread waits for

    def begin(self, timeout: float) -> CallDeadline:
        """Start a call on this thread; end it with `end` in a `finally`."""
        call = CallDeadline(at=time.monotonic() + timeout, watchdog=self)
        entry = (call.at, next(self._order), call)
        with self._lock:
            heap = self._heap
            # Callers sweep ended calls off the top, so the heap holds about the calls in
            # flight and the watchdog itself wakes only when a deadline is really due.
            while heap and heap[0][2].is_done:
                heapq.heappop(heap)
            heapq.heappush(heap, entry)
            # Waking the watchdog costs a thread switch per call, so it is woken only for a
            # deadline earlier than the one it sleeps towards (calls of one timeout never are).
            if call.at < self._sleeps_until:
                self._start_thread()
                self._wakeup.notify()
        _current.call = call
        return call

    def end(self, call: CallDeadline) -> bool:
        """Stop watching `call` and close its descriptors; whether its deadline fired."""
        _current.call = None
        with self._lock:
            call.is_done = True
            handles, call._handles = call._handles, []
        for handle in handles:
            handle.close()
        return call.is_fired

    def watch(self, call: CallDeadline, sock: socket.socket) -> None:
        try:
            handle = socket.fromfd(sock.fileno(), sock.family, sock.type)
        except OSError:  # already closed: nothing left to stop
            return
        with self._lock:
            if not call.is_done:
                call._handles.append(handle)
                if call.is_fired:
                    _shut(handle)
                return
        handle.close()

    def release(self, call: CallDeadline) -> bool:
        with self._lock:
            call.is_done = True
            return not call.is_fired

    def _start_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="http-deadline", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        with self._lock:
            while True:
                heap, now = self._heap, time.monotonic()
                while heap and (heap[0][2].is_done or heap[0][0] <= now):
                    call = heapq.heappop(heap)[2]
                    if not call.is_done:
                        call.is_fired = True
                        for handle in call._handles:
                            _shut(handle)
                self._sleeps_until = heap[0][0] if heap else math.inf
                self._wakeup.wait(self._sleeps_until - now if heap else None)


def _shut(handle: socket.socket) -> None:
    try:
        handle.shutdown(socket.SHUT_RDWR)
    except OSError:  # not connected (any more): nothing to stop
        pass


WATCHDOG = Watchdog()  # its thread starts with the first call
os.register_at_fork(after_in_child=WATCHDOG.forget_calls)  # run_dispatcher --processes forks
