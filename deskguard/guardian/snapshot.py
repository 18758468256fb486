"""What the guardian publishes to observers (the Qt view-model, the headless log): plain data.

Observers get immutable snapshots, never the engine's live state, so a UI can keep them as long as
it likes and compare old with new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from ..broker.base import ConnectionHealth
from ..engine.decisions import Lock
from ..engine.distance import Distance
from ..engine.models import Order, Position
from ..engine.rules import Figure
from ..engine.state import AccountStatus


@dataclass(frozen=True, slots=True)
class PositionView:
    position: Position
    symbol: str
    last_price: float | None
    open_pnl: float
    stale: bool
    has_stop: bool  # the trader's own protective stop (the safety net's does not count)
    safety_net: float | None = None  # the price of the app's working safety-net stop (rule 018)


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    account_id: int
    name: str
    at: datetime
    status: AccountStatus
    balance: float | None
    realized_day: float
    open_pnl: float
    open_pnl_stale: bool
    realized_week: float
    locks: tuple[Lock, ...]
    positions: tuple[PositionView, ...]
    orders: tuple[Order, ...]
    figures: dict[str, Figure]
    warnings: tuple[str, ...]  # rule keys (and scopes) currently past their warning level
    day_start: datetime | None
    next_reset: datetime | None
    enforcing: bool = False
    not_flat_alert: str | None = None  # set when enforcement gave up with the account not flat
    trailing_floor: float | None = None  # rule 014's floor (a balance), when the rule is on
    distances: tuple[Distance, ...] = ()  # distance to each firm limit (the panel above the chart)

    @property
    def lock(self) -> Lock | None:
        """The account-wide lock that ends last (the one the banner shows)."""
        best = None
        for lock in self.locks:
            if lock.symbol is None and (best is None or lock.outlasts(best)):
                best = lock
        return best

    @property
    def total_pnl(self) -> float:
        return self.realized_day + self.open_pnl


class NoticeLevel(StrEnum):
    INFO = "info"
    WARNING = "warning"  # a rule's warning level reached
    ENFORCEMENT = "enforcement"  # something was closed, cancelled, reduced, or a lock began
    LOCK_ENDED = "lock_ended"
    ALERT = "alert"  # not guarding, or still not flat after every retry


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing worth telling the trader (tray notification, activity log, headless line)."""

    at: datetime
    level: NoticeLevel
    account_id: int | None
    rule: str | None
    text: str
    #: The webhook event it is (rules.md "Notifications": enforcement, lock, lock_end, warning,
    #: alert), or None when it is not one (connection notices: not_guarding covers those).
    event: str | None = None


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """An account's status changed (one event per change; the tray, the lock banner and the audit
    log follow these). ``why`` is plain English; ``lock`` is the account-wide lock standing when
    the new status is LOCKED."""

    account_id: int
    old: AccountStatus
    new: AccountStatus
    why: str
    at: datetime
    rule: str | None = None  # the rule behind the new status (a lock's, a warning's), when one is
    lock: Lock | None = None


@dataclass(frozen=True, slots=True)
class PnlPoint:
    """One point of the day's P&L curve (for the chart)."""

    at: datetime
    realized: float
    total: float


@dataclass(frozen=True, slots=True)
class GuardianStatus:
    health: ConnectionHealth
    guarding: bool
    accounts: tuple[int, ...] = field(default=())


class GuardianObserver(Protocol):
    """Plain-Python callbacks (no Qt). Called on the event loop; must return quickly.

    An observer may also define ``on_status_changed(event: StatusChanged)``: it is called, when
    present, at every change of an account's status, before the snapshot that shows it."""

    def on_snapshot(self, snapshot: AccountSnapshot) -> None: ...

    def on_notice(self, notice: Notice) -> None: ...

    def on_health(self, health: ConnectionHealth) -> None: ...
