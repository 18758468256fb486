"""The simulator book's records, each with its gateway (``to_api``) shape: accounts, orders,
positions, trades and the outcome of a trading action. The matching that changes them is ``book.Book``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deskguard.simulator.contracts import Contract
from deskguard.simulator.enums import (
    WORKING_STATUSES,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionType,
)
from deskguard.simulator.market import iso


@dataclass(slots=True)
class Account:
    id: int
    name: str
    balance: float = 50_000.0
    can_trade: bool = True
    is_visible: bool = True
    simulated: bool = True

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "balance": self.balance,
            "canTrade": self.can_trade,
            "isVisible": self.is_visible,
            "simulated": self.simulated,
        }


def default_accounts(count: int = 3, first_id: int = 1001, balance: float = 50_000.0) -> list[Account]:
    """TopstepX-looking combine accounts: ``50KTC-V2-123456-1001``, ``…-1002``, …"""
    return [Account(first_id + i, f"50KTC-V2-123456-{first_id + i}", balance) for i in range(count)]


def demo_accounts() -> list[Account]:
    """The demo's three accounts, one of each kind a Topstep trader runs: a 50K Combine, a 50K
    Express Funded account already 1,600 up on its funded balance (its scaling plan's second tier),
    and a 100K Combine 1,000 up (so the consistency cap shows)."""
    return [
        Account(1001, "50KTC-V2-123456-1001", 50_000.0),
        Account(1002, "XFA-50K-123456-1002", 51_600.0),
        Account(1003, "100KTC-V2-123456-1003", 101_000.0),
    ]


@dataclass(slots=True)
class Order:
    id: int
    account_id: int
    contract: Contract
    type: OrderType
    side: OrderSide
    size: int
    status: OrderStatus
    created: datetime
    updated: datetime | None  # None until the order changes after its creation: sent as null
    limit_price: float | None = None
    stop_price: float | None = None
    trail_price: float | None = None
    custom_tag: str | None = None
    linked_order_id: int | None = None
    fill_volume: int = 0
    filled_price: float | None = None
    triggered: bool = False  # a stop-limit whose stop has been reached now works as a limit
    trail_anchor: float | None = None  # best price seen by a trailing stop

    @property
    def working(self) -> bool:
        return self.status in WORKING_STATUSES

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "accountId": self.account_id,
            "contractId": self.contract.id,
            "symbolId": self.contract.symbol_id,
            "creationTimestamp": iso(self.created),
            "updateTimestamp": None if self.updated is None else iso(self.updated),
            "status": int(self.status),
            "type": int(self.type),
            "side": int(self.side),
            "size": self.size,
            "limitPrice": self.limit_price,
            "stopPrice": self.stop_price,
            "trailPrice": self.trail_price,
            "fillVolume": self.fill_volume,
            "filledPrice": self.filled_price,
            "customTag": self.custom_tag,
        }


@dataclass(slots=True)
class Position:
    id: int
    account_id: int
    contract: Contract
    type: PositionType
    size: int
    average_price: float
    created: datetime

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "accountId": self.account_id,
            "contractId": self.contract.id,
            "creationTimestamp": iso(self.created),
            "type": int(self.type),
            "size": self.size,
            "averagePrice": self.average_price,
        }


@dataclass(slots=True)
class Trade:
    id: int
    account_id: int
    contract: Contract
    created: datetime
    price: float
    profit_and_loss: float | None  # None for a fill that opens or adds (a "half turn")
    fees: float
    side: OrderSide
    size: int
    order_id: int
    voided: bool = False

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "accountId": self.account_id,
            "contractId": self.contract.id,
            "creationTimestamp": iso(self.created),
            "price": self.price,
            "profitAndLoss": self.profit_and_loss,
            "fees": self.fees,
            "side": int(self.side),
            "size": self.size,
            "voided": self.voided,
            "orderId": self.order_id,
        }


@dataclass(frozen=True, slots=True)
class ActionResult:
    """The outcome of a trading action, in the gateway's reply shape."""

    success: bool
    error_code: int = 0
    error_message: str | None = None
    order_id: int | None = None

    @classmethod
    def ok(cls, order_id: int | None = None) -> ActionResult:
        return cls(True, 0, None, order_id)

    @classmethod
    def fail(cls, code: int, message: str, order_id: int | None = None) -> ActionResult:
        return cls(False, int(code), message, order_id)

    def to_api(self) -> dict[str, Any]:
        reply: dict[str, Any] = {
            "success": self.success,
            "errorCode": self.error_code,
            "errorMessage": self.error_message,
        }
        if self.order_id is not None:
            reply["orderId"] = self.order_id
        return reply
