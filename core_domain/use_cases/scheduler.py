"""Start and stop dispatching for every dispatcher, close the circuit, report the state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core_domain.errors import SchedulerStateError
from core_domain.ports import Clock, MessageRepository, SchedulerControl, SendGate, WorkerStatus
from core_domain.send_gate import Gate, RateLimit

MIN_ALIVE_WINDOW = timedelta(seconds=30)


def is_alive(worker: WorkerStatus, *, now: datetime, interval: timedelta) -> bool:
    """A worker is alive when its last heartbeat is within max(3 × interval, 30 s)."""
    return now - worker.last_heartbeat <= max(3 * interval, MIN_ALIVE_WINDOW)


class GetSendGate:
    """The fleet's send state now: the circuit, the receiver's pause, the rate bucket."""

    def __init__(self, *, gate: SendGate) -> None:
        self._gate = gate

    def execute(self) -> Gate:
        return self._gate.state()


class CloseCircuit:
    """Close the webhook's circuit by hand; sending resumes at full pace.

    Raises SchedulerStateError when it is closed already.
    """

    def __init__(self, *, gate: SendGate) -> None:
        self._gate = gate

    def execute(self) -> None:
        if not self._gate.close_circuit():
            raise SchedulerStateError("The circuit is already closed")


class SetSchedulerState:
    """Turn dispatching on or off for every dispatcher process.

    Raises SchedulerStateError when the scheduler is already in the requested state.
    """

    def __init__(self, *, control: SchedulerControl) -> None:
        self._control = control

    def execute(self, *, is_running: bool) -> bool:
        if not self._control.set_running(is_running):
            state = "running" if is_running else "stopped"
            raise SchedulerStateError(f"The scheduler is already {state}")
        return is_running


@dataclass(frozen=True, slots=True)
class SchedulerReport:
    is_running: bool
    is_currently_processing: bool
    total_processed: int
    total_successful: int
    total_failed: int
    last_processing_time: datetime | None
    next_processing_in: timedelta | None
    interval: timedelta
    batch_size: int
    workers: list[tuple[WorkerStatus, bool]]
    gate: Gate
    rate_limit: RateLimit | None


class GetSchedulerStatus:
    """The switch, every worker with its liveness, and totals over all workers."""

    def __init__(
        self,
        *,
        control: SchedulerControl,
        repository: MessageRepository,
        gate: SendGate,
        clock: Clock,
        interval: timedelta,
        batch_size: int,
        rate_limit: RateLimit | None,
    ) -> None:
        self._control = control
        self._repository = repository
        self._gate = gate
        self._rate_limit = rate_limit
        self._clock = clock
        self._interval = interval
        self._batch_size = batch_size

    def execute(self) -> SchedulerReport:
        now = self._clock.now()
        workers = self._control.workers()
        # Messages that ever became SENT or FAILED, by any dispatcher or the API's process call.
        sent, failed = self._repository.count_finished_on(None)
        alive = [w for w in workers if is_alive(w, now=now, interval=self._interval)]
        last = max((w.last_processed_at for w in workers if w.last_processed_at), default=None)
        is_running = self._control.is_running()
        next_in = None
        if is_running and alive:
            next_tick = min(w.last_heartbeat for w in alive) + self._interval
            next_in = max(timedelta(0), next_tick - now)
        return SchedulerReport(
            is_running=is_running,
            is_currently_processing=any(w.is_processing for w in alive),
            total_processed=sent + failed,
            total_successful=sent,
            total_failed=failed,
            last_processing_time=last,
            next_processing_in=next_in,
            interval=self._interval,
            batch_size=self._batch_size,
            workers=[(w, w in alive) for w in workers],
            gate=self._gate.state(),
            rate_limit=self._rate_limit,
        )
