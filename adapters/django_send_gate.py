"""SendGate on PostgreSQL: one row, changed under its row lock by core_domain.send_gate's rules.

Every dispatcher shares it, so the send rate, a receiver's Retry-After and the circuit hold
for the whole fleet, without Redis. Reads and writes are skipped while nothing holds sending
back and there is no rate limit: the claim statement itself refuses to claim while the
circuit is open or sending is paused (see DjangoMessageRepository), so a stale view here
never lets a message out.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Model

from adapters.database_errors import unavailable_as_domain_error
from core_domain import send_gate
from core_domain.delivery import CallResult
from core_domain.retry import describe
from core_domain.send_gate import CircuitPolicy, Gate, Permit, RateLimit, Verdict

_COLUMNS = ("tokens", "refilled_at", "paused_until", "circuit_state", "circuit_reason",
            "circuit_since", "next_probe_at", "consecutive_failures", "cooldown",
            "probe_deadline")  # fmt: skip
_FRESH_FOR = 1.0  # seconds a read of the row stands for "nothing holds sending back"


class DjangoSendGate:
    """Thread-safe; one per dispatcher (and one in each API process)."""

    def __init__(
        self,
        *,
        state: type[Model],
        rate: RateLimit | None,
        policy: CircuitPolicy,
        probe_timeout: timedelta,
    ) -> None:
        self._table = state._meta.db_table
        self.rate = rate
        self.policy = policy
        self._probe_timeout = probe_timeout
        self._lock = threading.Lock()
        self._known: Gate | None = None
        self._known_at = 0.0

    def acquire(self, want: int) -> Permit:
        if self.rate is None and self._clear_lately():
            return Permit(want)

        def change(gate: Gate, now: datetime) -> tuple[Gate, Permit]:
            return send_gate.acquire(
                gate, want=want, now=now, rate=self.rate, probe_timeout=self._probe_timeout
            )

        return self._locked(change)

    def refund(self, unused: int) -> None:
        if self.rate is not None and unused > 0:
            self._locked(lambda gate, now: (send_gate.refund(gate, unused=unused, rate=self.rate),
                                            None))  # fmt: skip

    def record(self, outcomes: Sequence[CallResult]) -> None:
        verdicts = [Verdict.of(o) for o in outcomes]
        pauses = [p for p in map(send_gate.throttled_for, outcomes) if p is not None]
        harmless = all(v in (Verdict.DELIVERED, Verdict.ANSWERED) for v in verdicts)
        if not pauses and harmless and self._clear_lately():
            return
        failed = [o for o, v in zip(outcomes, verdicts, strict=True) if v is Verdict.FAILED]

        def change(gate: Gate, now: datetime) -> tuple[Gate, None]:
            changed = send_gate.record(
                gate, verdicts=verdicts, pause=max(pauses, default=None), now=now,
                policy=self.policy, last_error=describe(failed[-1]) if failed else None,
            )  # fmt: skip
            return changed, None

        self._locked(change)

    def close_circuit(self) -> bool:
        """Closed by hand; False if it was closed already."""

        def change(gate: Gate, now: datetime) -> tuple[Gate, bool]:
            if gate.state is send_gate.CircuitState.CLOSED:
                return gate, False
            return send_gate.close(gate, now=now), True

        return self._locked(change)

    def state(self) -> Gate:
        """The shared state as it is now (a fresh read)."""
        return self._locked(lambda gate, now: (gate, gate))

    def _clear_lately(self) -> bool:
        with self._lock:
            fresh = time.monotonic() - self._known_at < _FRESH_FOR
            return fresh and self._known is not None and self._known.is_clear

    def _locked(self, change):
        def run():
            with transaction.atomic(), connection.cursor() as cursor:
                gate, now = self._read(cursor)
                changed, answer = change(gate, now)
                if changed != gate:
                    self._write(cursor, changed)
            with self._lock:
                self._known, self._known_at = changed, time.monotonic()
            return answer

        return unavailable_as_domain_error(run)

    def _read(self, cursor) -> tuple[Gate, datetime]:
        select = f"SELECT {', '.join(_COLUMNS)}, clock_timestamp() FROM {self._table} WHERE id = 1"
        cursor.execute(select + " FOR UPDATE")
        row = cursor.fetchone()
        if row is None:  # the row went (a test emptied the table): start afresh
            cursor.execute(
                f"INSERT INTO {self._table} (id, tokens, refilled_at, circuit_state, "
                "consecutive_failures) VALUES (1, 1, now(), 'closed', 0) ON CONFLICT DO NOTHING"
            )
            cursor.execute(select + " FOR UPDATE")
            row = cursor.fetchone()
        *values, now = row
        fields = dict(zip(_COLUMNS, values, strict=True))
        return Gate(
            tokens=fields["tokens"], refilled_at=fields["refilled_at"],
            paused_until=fields["paused_until"],
            state=send_gate.CircuitState(fields["circuit_state"]),
            reason=fields["circuit_reason"], since=fields["circuit_since"],
            next_probe_at=fields["next_probe_at"], failures=fields["consecutive_failures"],
            cooldown=fields["cooldown"], probe_deadline=fields["probe_deadline"],
        ), now  # fmt: skip

    def _write(self, cursor, gate: Gate) -> None:
        values = dataclasses.asdict(gate)
        values["state"] = gate.state.value
        cursor.execute(
            f"UPDATE {self._table} SET tokens = %(tokens)s, refilled_at = %(refilled_at)s, "
            "paused_until = %(paused_until)s, circuit_state = %(state)s, "
            "circuit_reason = %(reason)s, circuit_since = %(since)s, "
            "next_probe_at = %(next_probe_at)s, consecutive_failures = %(failures)s, "
            "cooldown = %(cooldown)s, probe_deadline = %(probe_deadline)s WHERE id = 1",
            values,
        )
