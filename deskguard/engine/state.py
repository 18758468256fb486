"""Per-account state: what the broker reported plus what the rules remember, and the lock book."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from .decisions import Lock, LockKind
from .instruments import symbol_of
from .models import Account, Order, Position, Trade, money


class AccountStatus(StrEnum):
    """The trading state a trader sees. The engine knows OK, WARNING and LOCKED; the guardian adds
    ENFORCING (a broker call in flight) and NOT_GUARDING (no connection)."""

    OK = "ok"
    WARNING = "warning"
    ENFORCING = "enforcing"
    LOCKED = "locked"
    NOT_GUARDING = "not_guarding"


@dataclass(slots=True)
class AccountState:
    account_id: int
    account: Account | None = None
    positions: dict[str, Position] = field(default_factory=dict)  # open positions by contract id
    orders: dict[int, Order] = field(default_factory=dict)  # working orders by order id
    locks: list[Lock] = field(default_factory=list)

    # Trading day and week, set by the engine's roll-over.
    day_start: datetime | None = None
    next_reset: datetime | None = None
    week_start: datetime | None = None
    realized_day: float = 0.0
    realized_week_before_today: float = 0.0  # closed days of this trading week (from the store)
    trades_today: dict[int, Trade] = field(default_factory=dict)
    seen_trade_ids: set[int] = field(default_factory=set)  # today's and yesterday's, for de-duplication

    # What individual rules remember.
    entries: list[datetime] = field(default_factory=list)  # 006: today's entry fill times, sorted
    losing_streak: int = 0  # 016
    stop_grace: dict[str, datetime] = field(default_factory=dict)  # 008: contract -> deadline
    high_water_mark: float | None = None  # 014, persisted
    requested_stops: dict[str, float] = field(default_factory=dict)  # 012: last stop asked per contract
    session_carry: set[str] = field(default_factory=set)  # 009: positions let through a window end
    warned: set[tuple[str, str]] = field(default_factory=set)  # (rule, scope) warnings given

    @property
    def balance(self) -> float | None:
        return self.account.balance if self.account else None

    @property
    def can_trade(self) -> bool:
        return self.account.can_trade if self.account else True

    @property
    def realized_week(self) -> float:
        return money(self.realized_week_before_today + self.realized_day)

    @property
    def account_lock(self) -> Lock | None:
        """The account-wide lock that ends last, if any."""
        best: Lock | None = None
        for lock in self.locks:
            if lock.symbol is None and (best is None or lock.outlasts(best)):
                best = lock
        return best

    @property
    def status(self) -> AccountStatus:
        if self.account_lock is not None:
            return AccountStatus.LOCKED
        if self.warned:
            return AccountStatus.WARNING
        return AccountStatus.OK

    def locks_covering(self, contract_id: str) -> list[Lock]:
        sym = symbol_of(contract_id)
        return [lock for lock in self.locks if lock.covers(sym)]

    def has_lock(self, rule: str, kind: LockKind | None = None, symbol: str | None = None) -> bool:
        return any(
            lock.rule == rule and lock.symbol == symbol and (kind is None or lock.kind == kind)
            for lock in self.locks
        )

    def protective_stops(self, position: Position) -> list[Order]:
        return [o for o in self.orders.values() if o.protects(position)]
