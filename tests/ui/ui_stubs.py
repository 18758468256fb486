"""A stub guardian for the UI tests: it emits whatever snapshots, notices and health a test asks.

A stub at the edge, as the craft rules allow: the widgets under test are real, only the source of
the data is scripted."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from deskguard.broker.base import ConnectionHealth, HubState
from deskguard.engine.decisions import Lock, LockKind
from deskguard.engine.models import Position, PositionType
from deskguard.engine.rules import Figure
from deskguard.engine.schema import Unit
from deskguard.engine.settings import EngineSettings
from deskguard.engine.state import AccountStatus
from deskguard.guardian.snapshot import (
    AccountSnapshot,
    GuardianObserver,
    Notice,
    NoticeLevel,
    PnlPoint,
    PositionView,
    StatusChanged,
)

ACCOUNT = 7001
DAY_START = datetime(2026, 3, 10, 22, 0, tzinfo=UTC)  # 17:00 Chicago (CDT)


def now() -> datetime:
    return datetime.now(UTC)


def make_snapshot(account_id: int = ACCOUNT, **changes: Any) -> AccountSnapshot:
    at = changes.pop("at", None) or now()
    snap = AccountSnapshot(
        account_id=account_id, name=f"50KTC-{account_id}", at=at, status=AccountStatus.OK, balance=50_000.0,
        realized_day=0.0, open_pnl=0.0, open_pnl_stale=False, realized_week=0.0, locks=(), positions=(), orders=(),
        figures={}, warnings=(), day_start=at - timedelta(hours=3), next_reset=at + timedelta(hours=20),
    )
    return replace(snap, **changes)


def make_lock(kind: LockKind = LockKind.COOLDOWN, seconds: float | None = 90, rule: str = "cooldown_after_loss",
              reason: str = "a loss of 150.00 on one trade", symbol: str | None = None, account_id: int = ACCOUNT) -> Lock:
    start = now()
    until = start + timedelta(seconds=seconds) if seconds is not None else None
    return Lock(account_id, kind, rule, reason, start, until, symbol)


def make_position(symbol: str = "MNQ", size: int = 2, avg: float = 21000.0, last: float = 20990.0, open_pnl: float = -40.0,
                  has_stop: bool = False, account_id: int = ACCOUNT) -> PositionView:
    pos = Position(account_id, f"CON.F.US.{symbol}.H26", PositionType.LONG, size, avg)
    return PositionView(pos, symbol, last, open_pnl, False, has_stop)


def loss_figure(loss: float, limit: float = 500.0) -> Figure:
    return Figure(loss, limit, Unit.USD, f"loss {loss:,.2f} of {limit:,.2f}")


@dataclass
class AuditRowStub:
    at: datetime
    account_id: int | None
    rule: str | None
    event: str
    detail: str
    decision: str | None = None
    broker_call: str | None = None
    result: str | None = None
    latency_ms: float | None = None


@dataclass
class StubStore:
    rows: list[AuditRowStub] = field(default_factory=list)

    def audit_entries(self, *, account_id: int | None = None, limit: int = 500) -> list[AuditRowStub]:
        rows = [r for r in self.rows if account_id is None or r.account_id == account_id]
        return rows[-limit:]


@dataclass
class PendingStub:
    key: str
    old: str | None
    new: str | None
    effective_at: datetime | None = None


class StubGuardian:
    def __init__(self, accounts: list[int] | None = None, settings: EngineSettings | None = None) -> None:
        self.accounts = list(accounts or [ACCOUNT])
        self.settings = settings or EngineSettings()
        self.health = ConnectionHealth(HubState.CONNECTED, HubState.CONNECTED, time.monotonic(), time.monotonic())
        self.observers: list[GuardianObserver] = []
        self.snapshots: dict[int, AccountSnapshot] = {}
        self.history: dict[int, list[PnlPoint]] = {}
        self.store = StubStore()
        self.pending: list[PendingStub] = []
        self.started = self.stopped = False

    # -- GuardianPort -------------------------------------------------------------------------

    def add_observer(self, observer: GuardianObserver) -> None:
        self.observers.append(observer)

    def remove_observer(self, observer: GuardianObserver) -> None:
        self.observers.remove(observer)

    def snapshot(self, account_id: int) -> AccountSnapshot:
        return self.snapshots.get(account_id) or make_snapshot(account_id)

    def pnl_history(self, account_id: int) -> list[PnlPoint]:
        return list(self.history.get(account_id, []))

    def pending_changes(self) -> list[PendingStub]:
        return list(self.pending)

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    # -- what a test makes it do --------------------------------------------------------------

    def emit(self, snap: AccountSnapshot | None = None, **changes: Any) -> AccountSnapshot:
        snap = snap or make_snapshot(self.accounts[0], **changes)
        self.snapshots[snap.account_id] = snap
        self.history.setdefault(snap.account_id, []).append(PnlPoint(snap.at, snap.realized_day, snap.total_pnl))
        for o in list(self.observers):
            o.on_snapshot(snap)
        return snap

    def notice(self, level: NoticeLevel, text: str, rule: str | None = None, account_id: int | None = ACCOUNT,
               at: datetime | None = None) -> Notice:
        n = Notice(at or now(), level, account_id, rule, text)
        for o in list(self.observers):
            o.on_notice(n)
        return n

    def change_status(self, old: AccountStatus, new: AccountStatus, why: str = "", lock: Lock | None = None,
                      account_id: int = ACCOUNT) -> StatusChanged:
        """A status event alone (the guardian sends one before the snapshot that shows it)."""
        event = StatusChanged(account_id, old, new, why or f"now {new.value}", now(), lock.rule if lock else None, lock)
        for o in list(self.observers):
            callback = getattr(o, "on_status_changed", None)
            if callback is not None:
                callback(event)
        return event

    def set_health(self, user: HubState, market: HubState = HubState.CONNECTED, detail: str = "") -> None:
        self.health = ConnectionHealth(user, market, time.monotonic(), time.monotonic(), detail=detail)
        for o in list(self.observers):
            o.on_health(self.health)
