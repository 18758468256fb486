"""What the desktop UI needs from the rest of DeskGuard: small protocols, nothing more.

The UI is written against these, not against the concrete guardian, so its tests can drive it with a
stub that emits snapshots and notices, and so the guardian never has to know about Qt.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from ..engine.settings import EngineSettings
from ..guardian import ConnectionHealth
from ..guardian.snapshot import AccountSnapshot, GuardianObserver, PnlPoint


class AuditRow(Protocol):
    """One row of the audit log (``deskguard.store.records.AuditEntry`` has these fields)."""

    at: datetime
    account_id: int | None
    rule: str | None
    event: str
    detail: str
    decision: str | None
    result: str | None


class AuditSource(Protocol):
    def audit_entries(self, *, account_id: int | None = None, limit: int = 500) -> Sequence[AuditRow]: ...


class PendingChange(Protocol):
    """A rule change waiting for the next reset (``deskguard.store.records.RuleChange`` fits)."""

    key: str  # "daily_realized_loss.max_loss"
    old: str | None
    new: str | None
    effective_at: datetime | None


@runtime_checkable
class GuardianPort(Protocol):
    """Exactly what the window uses of the guardian.

    Optional extras, looked up with ``getattr`` so a guardian without them still works:
    ``store`` (an :class:`AuditSource`), ``pending_changes() -> Sequence[PendingChange]``.
    """

    accounts: list[int]
    settings: EngineSettings
    health: ConnectionHealth

    def add_observer(self, observer: GuardianObserver) -> None: ...

    def remove_observer(self, observer: GuardianObserver) -> None: ...

    def snapshot(self, account_id: int) -> AccountSnapshot: ...

    def pnl_history(self, account_id: int) -> list[PnlPoint]: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class PracticeDesk(Protocol):
    """Demo-mode order entry (the lead backs it with the simulator's control API).

    ``side`` is ``"buy"`` or ``"sell"``. Each call raises on failure with a message fit to show."""

    async def place_market(self, account_id: int, symbol: str, side: str, size: int) -> Any: ...

    async def place_stop(self, account_id: int, symbol: str, stop_price: float) -> Any: ...

    async def close(self, account_id: int, symbol: str) -> Any: ...


class PracticeMarket(Protocol):
    """Demo-mode market controls (``deskguard.ui.practice_market.SimulatorMarket``): the practice
    ticket moves prices so a newcomer sees a rule work at once. Each call raises on failure with a
    message fit to show, and never blocks the event loop."""

    async def move_price(self, symbol: str, points: float) -> float: ...

    async def move_to_open_loss(self, account_id: int, symbol: str, loss: float) -> float: ...


def audit_rows(guardian: GuardianPort, account_id: int | None, limit: int = 500) -> list[AuditRow]:
    store = getattr(guardian, "store", None)
    if store is None or not hasattr(store, "audit_entries"):
        return []
    return list(store.audit_entries(account_id=account_id, limit=limit))


def pending_changes(guardian: GuardianPort) -> list[PendingChange]:
    fn = getattr(guardian, "pending_changes", None)
    if fn is None:
        return []
    return list(fn())
