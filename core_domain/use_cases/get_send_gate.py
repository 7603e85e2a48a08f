"""Read the fleet's send state."""

from __future__ import annotations

from core_domain.ports import SendGate
from core_domain.send_gate import Gate


class GetSendGate:
    """The fleet's send state now: the circuit, the receiver's pause, the rate bucket."""

    def __init__(self, *, gate: SendGate) -> None:
        self._gate = gate

    def execute(self) -> Gate:
        return self._gate.state()
