"""Domain events: everything the engine can be told. The broker adapter and the guardian build them.

Every event except quotes and clock ticks belongs to one account. ``Resync`` carries the broker's
full picture after connect or reconnect: the broker's word wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .models import Account, Order, Position, Quote, Trade


@dataclass(frozen=True, slots=True)
class AccountUpdated:
    account: Account

    @property
    def account_id(self) -> int:
        return self.account.id


@dataclass(frozen=True, slots=True)
class PositionUpdated:
    position: Position

    @property
    def account_id(self) -> int:
        return self.position.account_id


@dataclass(frozen=True, slots=True)
class OrderUpdated:
    order: Order

    @property
    def account_id(self) -> int:
        return self.order.account_id


@dataclass(frozen=True, slots=True)
class TradeFilled:
    trade: Trade

    @property
    def account_id(self) -> int:
        return self.trade.account_id


@dataclass(frozen=True, slots=True)
class QuoteUpdated:
    quote: Quote


@dataclass(frozen=True, slots=True)
class ClockTick:
    """Time passed: lock expiry, trading-day reset, session sweep, stop-loss grace."""

    now: datetime


@dataclass(frozen=True, slots=True)
class Resync:
    """The broker's full state of one account, read after connect and every reconnect.

    Positions and working orders replace what the engine had; trades are merged by id, and the ones
    not seen before are evaluated as new fills (in time order), so a gap loses nothing and counts
    nothing twice."""

    account: Account
    positions: tuple[Position, ...] = ()
    orders: tuple[Order, ...] = ()
    trades: tuple[Trade, ...] = field(default=())
    #: The start of the range the trades were read from: when it reaches back to the trading week's
    #: start, the week's figure before today is taken from these trades (the broker's word wins).
    trades_since: datetime | None = None

    @property
    def account_id(self) -> int:
        return self.account.id


Event = AccountUpdated | PositionUpdated | OrderUpdated | TradeFilled | QuoteUpdated | ClockTick | Resync
