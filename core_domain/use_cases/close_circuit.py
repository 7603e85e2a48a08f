"""Close the webhook's circuit by hand."""

from __future__ import annotations

from core_domain.errors import SchedulerStateError
from core_domain.ports import SendGate


class CloseCircuit:
    """Close the webhook's circuit by hand; sending resumes at full pace.

    Raises SchedulerStateError when it is closed already.
    """

    def __init__(self, *, gate: SendGate) -> None:
        self._gate = gate

    def execute(self) -> None:
        if not self._gate.close_circuit():
            raise SchedulerStateError("The circuit is already closed")
