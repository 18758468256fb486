"""Per-account state: what the broker reported plus what the rules remember, and the lock book."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from .decisions import Lock, LockKind
from .instruments import symbol_of
from .models import Account, Order, Position, Trade, money


class AccountStatus(StrEnum):
    """The trading state a trader sees, decided by :func:`compose_status` alone: the engine knows
    the locks and warnings, the guardian adds what only it knows (the connection, a broker call in
    flight, whether a lock is stored yet)."""

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
    safety_net: dict[str, float] = field(default_factory=dict)  # 018: last safety-net stop asked per contract
    safety_net_ids: set[int] = field(default_factory=set)  # 018: ids of the stops it placed (tag or not)
    safety_net_filled: dict[str, datetime] = field(default_factory=dict)  # 018: contract -> wait for its position until
    session_carry: set[str] = field(default_factory=set)  # 009: positions let through a window end
    warned: set[tuple[str, str]] = field(default_factory=set)  # (rule, scope) warnings given

    # End-of-day balances (rules.md "End-of-day balance"), for 001's scaling, 014 and 017.
    starting_balance: float | None = None  # the account's own (settings), else the first balance seen
    first_balance: float | None = None  # the first balance the app saw, persisted
    day_open_balance: float | None = None  # the balance at the last reset: recorded or reconstructed
    day_open_source: str = ""  # "reset" (recorded), "resync" (balance − the day's P&L) or "first" (first seen)
    eod_high: float | None = None  # the highest end-of-day balance recorded or reconstructed

    # The entries' ISO texts, kept between memory() calls: the memory is written once per store
    # batch, and turning a busy day's thousands of entries into text each time cost the event
    # loop up to a millisecond and more, in the middle of the next hub event.
    _entry_texts: dict[datetime, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def balance(self) -> float | None:
        return self.account.balance if self.account else None

    @property
    def can_trade(self) -> bool:
        return self.account.can_trade if self.account else True

    @property
    def start_balance(self) -> float | None:
        """The starting balance in force: the account's own, else the first balance seen."""
        return self.starting_balance if self.starting_balance is not None else self.first_balance

    @property
    def end_of_day_profit(self) -> float | None:
        """Balance at the last reset − starting balance (001's scaling and 017 use it)."""
        start = self.start_balance
        if self.day_open_balance is None or start is None:
            return None
        return money(self.day_open_balance - start)

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
        """The status from the engine's own facts (guarded, nothing in flight, every lock stored)."""
        return compose_status(self)

    def locks_covering(self, contract_id: str) -> list[Lock]:
        sym = symbol_of(contract_id)
        return [lock for lock in self.locks if lock.covers(sym)]

    def has_lock(self, rule: str, kind: LockKind | None = None, symbol: str | None = None) -> bool:
        return any(
            lock.rule == rule and lock.symbol == symbol and (kind is None or lock.kind == kind)
            for lock in self.locks
        )

    def protective_stops(self, position: Position, *, safety_net: bool = False) -> list[Order]:
        """The trader's stops protecting a position; with ``safety_net`` the app's own rule-018
        stops count too (they are never mistaken for the trader's by default)."""
        return [o for o in self.orders.values() if o.protects(position) and (safety_net or not self.is_safety_net(o))]

    def safety_net_stops(self, position: Position) -> list[Order]:
        """The app's own rule-018 stops protecting a position."""
        return [o for o in self.orders.values() if self.is_safety_net(o) and o.protects(position)]

    def is_safety_net(self, order: Order) -> bool:
        """One of the app's rule-018 stops: by its gateway tag, or by the id its placement returned
        (should an update come back without the tag)."""
        return order.is_safety_net or order.id in self.safety_net_ids

    # ----- memory across restarts (rules.md "Memory") -----------------------------------------

    def memory(self) -> dict[str, Any]:
        """Everything the rules remember, as JSON-ready data. Locks are kept in their own table;
        trades come back from the broker. Stopping and starting the app changes no decision."""
        return {
            "day_start": _iso(self.day_start),
            "entries": self._entries_text(),
            "losing_streak": self.losing_streak,
            "stop_grace": {c: _iso(t) for c, t in sorted(self.stop_grace.items())},
            "high_water_mark": self.high_water_mark,
            "requested_stops": dict(sorted(self.requested_stops.items())),
            "safety_net": dict(sorted(self.safety_net.items())),
            "safety_net_ids": sorted(self.safety_net_ids),
            "session_carry": sorted(self.session_carry),
            "warned": sorted([rule, scope] for rule, scope in self.warned),
            "first_balance": self.first_balance,
            "day_open_balance": self.day_open_balance,
            "day_open_source": self.day_open_source,
            "eod_high": self.eod_high,
        }

    def _entries_text(self) -> list[str]:
        texts = self._entry_texts
        if len(texts) > 2 * len(self.entries) + 64:  # a new day (or many voided): forget the old
            texts.clear()
        out = []
        for t in self.entries:
            text = texts.get(t)
            if text is None:
                text = texts[t] = t.isoformat()
            out.append(text)
        return out

    def restore_memory(self, data: Mapping[str, Any]) -> None:
        """Take back what :meth:`memory` gave, into a state just started. What belongs to one trading
        day (entries, warnings, positions let through a window's end) is taken only on the same day."""
        same_day = data.get("day_start") is not None and data.get("day_start") == _iso(self.day_start)
        if same_day:
            # A list, not a set: two entries in the same instant are two entries.
            self.entries = sorted(datetime.fromisoformat(t) for t in data.get("entries", ()))
            self.warned |= {(str(r), str(s)) for r, s in data.get("warned", ())}
            self.session_carry |= {str(c) for c in data.get("session_carry", ())}
            opened = data.get("day_open_balance")
            if opened is not None and self.day_open_source in ("", "first"):
                # The balance this day opened at, as worked out before the restart: a restart mid-day
                # picks the same scaling tier and the same consistency cap.
                self.day_open_balance = float(opened)
                self.day_open_source = str(data.get("day_open_source") or "resync")
        first = data.get("first_balance")
        if first is not None:
            self.first_balance = float(first)
        eod = data.get("eod_high")
        if eod is not None:
            self.eod_high = max(float(eod), self.eod_high if self.eod_high is not None else float(eod))
        self.losing_streak = int(data.get("losing_streak", self.losing_streak) or 0)
        for contract, deadline in dict(data.get("stop_grace", {})).items():
            self.stop_grace.setdefault(str(contract), datetime.fromisoformat(deadline))
        for contract, price in dict(data.get("requested_stops", {})).items():
            self.requested_stops.setdefault(str(contract), float(price))
        for contract, price in dict(data.get("safety_net", {})).items():
            self.safety_net.setdefault(str(contract), float(price))
        self.safety_net_ids |= {int(i) for i in data.get("safety_net_ids", ())}
        hwm = data.get("high_water_mark")
        if hwm is not None:
            self.high_water_mark = max(float(hwm), self.high_water_mark if self.high_water_mark is not None else float(hwm))


def compose_status(
    state: AccountState,
    *,
    guarding: bool = True,
    enforcing: bool = False,
    stored: Callable[[Lock], bool] = lambda lock: True,
) -> AccountStatus:
    """An account's status, decided in this one place, the first that holds winning:

    NOT GUARDING without a live connection and a fresh read of the account (``guarding``); LOCKED
    under an account-wide lock once it is ``stored`` (a lock is persisted before it is announced);
    ENFORCING while a broker call is in flight (``enforcing``) or an account-wide lock is not stored
    yet; WARNING while a rule is past its warning level; otherwise OK. Symbol locks lock no account."""
    if not guarding:
        return AccountStatus.NOT_GUARDING
    account_locks = [lock for lock in state.locks if lock.symbol is None]
    if any(stored(lock) for lock in account_locks):
        return AccountStatus.LOCKED
    if account_locks or enforcing:
        return AccountStatus.ENFORCING
    if state.warned:
        return AccountStatus.WARNING
    return AccountStatus.OK


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
