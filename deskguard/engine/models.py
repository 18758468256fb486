"""What the broker reports, in the engine's terms: positions, orders, trades, quotes, accounts.

Plain mutable-free records (frozen, slotted): the broker adapter builds them from gateway payloads
and the engine keeps the latest of each in the account state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum


class OrderType(IntEnum):
    LIMIT = 1
    MARKET = 2
    STOP_LIMIT = 3
    STOP = 4
    TRAILING_STOP = 5
    JOIN_BID = 6
    JOIN_ASK = 7


class Side(IntEnum):
    BUY = 0
    SELL = 1


class OrderStatus(IntEnum):
    NONE = 0
    OPEN = 1
    FILLED = 2
    CANCELLED = 3
    EXPIRED = 4
    REJECTED = 5
    PENDING = 6


class PositionType(IntEnum):
    LONG = 1
    SHORT = 2


def money(amount: float) -> float:
    """An amount of money to the cent. The broker's figures are in cents; summing them as binary
    floats drifts (100.10 + 200.20 + 199.70 is not 500.00), and a limit must trip when a loss lands
    exactly on it."""
    return round(amount, 2) + 0.0  # + 0.0 turns -0.0 into 0.0


WORKING_STATUSES = frozenset({OrderStatus.OPEN, OrderStatus.PENDING})
STOP_TYPES = frozenset({OrderType.STOP_LIMIT, OrderType.STOP, OrderType.TRAILING_STOP})
#: How the gateway's ``customTag`` of a safety-net stop (rule 018) begins: the app's own stops are
#: told from the trader's by it (the rest of the tag makes it unique, as the gateway requires).
SAFETY_NET_TAG = "deskguard-safety-net"


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    name: str
    balance: float
    can_trade: bool = True
    simulated: bool = False


@dataclass(frozen=True, slots=True)
class Position:
    account_id: int
    contract_id: str
    type: PositionType
    size: int  # always >= 0; 0 means the position is closed
    average_price: float
    opened_at: datetime | None = None
    id: int | None = None

    @property
    def direction(self) -> int:
        """+1 for long, -1 for short."""
        return 1 if self.type == PositionType.LONG else -1

    @property
    def signed_size(self) -> int:
        return self.size * self.direction

    @property
    def is_open(self) -> bool:
        return self.size > 0


@dataclass(frozen=True, slots=True)
class Order:
    id: int
    account_id: int
    contract_id: str
    status: OrderStatus
    type: OrderType
    side: Side
    size: int
    limit_price: float | None = None
    stop_price: float | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    tag: str | None = None  # the gateway's customTag

    @property
    def is_working(self) -> bool:
        return self.status in WORKING_STATUSES

    @property
    def is_safety_net(self) -> bool:
        """A stop the app placed at the gateway for rule 018, not one of the trader's."""
        return self.tag is not None and self.tag.startswith(SAFETY_NET_TAG)

    def protects(self, position: Position) -> bool:
        """A working stop on the same contract on the opposite side of the position (rules.md)."""
        if not (self.is_working and self.type in STOP_TYPES and position.is_open):
            return False
        if self.contract_id != position.contract_id:
            return False
        closing_side = Side.SELL if position.type == PositionType.LONG else Side.BUY
        return self.side == closing_side


@dataclass(frozen=True, slots=True)
class Trade:
    id: int
    account_id: int
    contract_id: str
    time: datetime
    price: float
    pnl: float | None  # the broker's profitAndLoss; None for the opening half of a round trip
    fees: float
    side: Side
    size: int
    voided: bool = False
    order_id: int | None = None

    @property
    def is_closing(self) -> bool:
        return self.pnl is not None and not self.voided

    def net_pnl(self, include_fees: bool = True) -> float:
        """This fill's contribution to realized P&L: ``profitAndLoss`` (closing trades only) minus
        its own fees. The gateway charges fees on every fill, the opening half-turn included, so an
        opening trade contributes ``-fees`` (rules.md "Realized P&L"); a voided trade contributes 0."""
        if self.voided:
            return 0.0
        pnl = self.pnl or 0.0
        return money(pnl - self.fees if include_fees else pnl)


@dataclass(frozen=True, slots=True)
class Quote:
    contract_id: str
    time: datetime
    last: float | None = None
    bid: float | None = None
    ask: float | None = None

    @property
    def price(self) -> float | None:
        """Last trade price, else the bid/ask midpoint (rules.md, unrealized P&L)."""
        if self.last is not None:
            return self.last
        if self.bid is not None and self.ask is not None:
            return (self.bid + self.ask) / 2
        return None


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """Tick metadata from the broker's Contract/search; wins over the built-in catalog."""

    contract_id: str
    tick_size: float
    tick_value: float
    name: str = ""
