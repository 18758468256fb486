"""What every rule is: a key, a declarative ``Params`` schema, and a pure ``evaluate``.

A rule sees the account state and the event (through :class:`Context`) and returns decisions. It
never calls the broker or the store and never reads the wall clock: ``ctx.now`` is the time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Flag, auto
from typing import Any, ClassVar

from ..calendar import TradingCalendar
from ..decisions import Action, Decision, Lock, LockKind
from ..events import Event
from ..models import Position, Quote, Trade
from ..pricing import Pricing
from ..schema import UNTIL_RESET, Duration, Looser, Unit, param
from ..state import AccountState


class Trigger(Flag):
    ACCOUNT = auto()
    POSITION = auto()
    ORDER = auto()
    TRADE = auto()
    QUOTE = auto()
    TICK = auto()
    RESYNC = auto()
    ALL = ACCOUNT | POSITION | ORDER | TRADE | QUOTE | TICK | RESYNC


@dataclass(slots=True)
class Context:
    """Everything a rule may look at for one account during one evaluation."""

    state: AccountState
    event: Event
    trigger: Trigger
    now: datetime
    calendar: TradingCalendar
    pricing: Pricing
    include_fees: bool = True
    previous_position: Position | None = None  # POSITION: what the contract's position was before
    new_trades: list[Trade] = field(default_factory=list)  # trades first seen in this event
    earlier_trades: list[Trade] = field(default_factory=list)  # earlier days of this week, first seen now
    quote: Quote | None = None  # QUOTE: the quote that arrived
    _open_pnl: tuple[float, bool] | None = None  # computed once per evaluation, shared by rules
    _unrealized: dict[str, tuple[float, bool]] | None = None  # per contract, once per evaluation

    @property
    def account_id(self) -> int:
        return self.state.account_id

    @property
    def fees_note(self) -> str:
        """How realized figures count fees, for the sentences the trader and the audit log read."""
        return "net of fees" if self.include_fees else "fees not counted"

    def unrealized(self, position: Position) -> tuple[float, bool]:
        """A position's open P&L and staleness, computed once per evaluation (several rules ask)."""
        memo = self._unrealized
        if memo is None:
            memo = self._unrealized = {}
        found = memo.get(position.contract_id)
        if found is None:
            found = memo[position.contract_id] = self.pricing.unrealized(position, self.now)
        return found

    def open_pnl(self) -> tuple[float, bool]:
        """Sum of unrealized P&L of all open positions, and whether any figure is stale."""
        if self._open_pnl is not None:
            return self._open_pnl
        total, stale = 0.0, False
        for pos in self.state.positions.values():
            value, is_stale = self.unrealized(pos)
            total += value
            stale = stale or is_stale
        self._open_pnl = (total, stale)
        return self._open_pnl

    def warn_once(self, rule: str, scope: str, reached: bool, reason: Callable[[], str]) -> list[Decision]:
        """A warning the first time a figure reaches its warning level; re-armed once it falls back.

        ``reason`` is called only when the warning is given (this runs on every quote)."""
        key = (rule, scope)
        if not reached:
            self.state.warned.discard(key)
            return []
        if key in self.state.warned:
            return []
        self.state.warned.add(key)
        return [Decision(self.account_id, Action.WARN, rule, reason(), contract_id=None if scope == "account" else scope)]

    def lock_until(self, duration: Duration, *, weekly: bool = False, at: datetime | None = None) -> tuple[LockKind, datetime]:
        """The end of a lock of a duration (or until the next daily/weekly reset) that starts
        ``at`` (default now): a trade's lock runs from the trade's own time (rules.md)."""
        start = at if at is not None else self.now
        if duration == UNTIL_RESET or weekly:
            end = self.calendar.next_week_reset(start) if weekly else self.calendar.next_reset(start)
            return LockKind.UNTIL_RESET, end
        assert isinstance(duration, timedelta)
        return LockKind.COOLDOWN, start + duration

    def lock(self, rule: str, reason: str, kind: LockKind, until: datetime | None, symbol: str | None = None,
             *, since: datetime | None = None) -> Decision:
        lk = Lock(self.account_id, kind, rule, reason, since if since is not None else self.now, until, symbol)
        return Decision(self.account_id, Action.LOCK, rule, reason, lock=lk)

    def flatten(self, rule: str, reason: str) -> Decision:
        return Decision(self.account_id, Action.FLATTEN, rule, reason)

    def close(self, rule: str, reason: str, contract_id: str) -> Decision:
        return Decision(self.account_id, Action.CLOSE_POSITION, rule, reason, contract_id=contract_id)


@dataclass(frozen=True, slots=True)
class Figure:
    """A rule's current figure against its limit, for the rules panel (value and limit in ``unit``)."""

    value: float
    limit: float
    unit: Unit
    text: str

    @property
    def used(self) -> float:
        """How much of the limit is used, 0..1+ (for the bar)."""
        return 0.0 if self.limit == 0 else max(0.0, self.value / self.limit)


class Rule[P](ABC):
    """``P``: the rule's parameters, the ``Params`` dataclass it declares."""

    key: ClassVar[str]
    number: ClassVar[str]
    title: ClassVar[str]
    summary: ClassVar[str]
    Params: ClassVar[type[Any]]
    triggers: ClassVar[Trigger]

    def __init__(self, params: P) -> None:
        self.params = params

    @abstractmethod
    def evaluate(self, ctx: Context) -> list[Decision]: ...

    def figure(self, ctx: Context) -> Figure | None:
        return None

    def bind(self, rules: list[Rule[Any]]) -> None:
        """Called with every enabled rule once they are built: a rule that reads another's limits
        (018 reads 003's and 014's) takes them here. Most rules need nothing."""
        return None

    def wants_quotes(self) -> bool:
        """Whether quotes can change this rule's verdict with its current params (a fast path:
        quotes are 90 % of all events)."""
        return bool(self.triggers & Trigger.QUOTE)

    def deadline(self, state: AccountState, now: datetime) -> datetime | None:
        """The next moment this rule must be evaluated even if no event arrives."""
        return None


def enabled_param(default: bool) -> Any:
    return param(default, help="Whether the rule is enforced.", looser=Looser.LOWER)


WARN_AT_HELP = "Warn (tray, amber state, audit) when this share of the limit is reached."


def warn_at_param() -> Any:
    return param(0.8, help=WARN_AT_HELP, unit=Unit.RATIO, gt=0, le=1, looser=Looser.ANY)
