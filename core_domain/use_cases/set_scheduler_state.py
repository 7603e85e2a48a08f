"""Start and stop dispatching for every dispatcher."""

from __future__ import annotations

from core_domain.errors import SchedulerStateError
from core_domain.ports import SchedulerControl


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
