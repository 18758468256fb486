"""The broker side of the simulator: accounts, orders, matching, positions, trades and balances.

All methods are synchronous and must run on the simulator's event loop thread. Every change is
announced through the ``publish`` callback as a user-hub event ``(target, account_id, payload)``;
the hub layer decides who receives it. The records it keeps (accounts, orders, positions, trades)
are in ``book_records``.

Matching rules (deterministic, so tests can predict every fill):
- Every fill happens at the contract's last price, except a resting limit order, which fills at
  its limit price when the market reaches it. No spread or slippage is charged.
- Market orders fill at once. Limit orders that are marketable when placed (or modified) fill at
  once at the last price. Stops trigger when the last price reaches the stop (buy: price >= stop;
  sell: price <= stop) and fill at that price. A stop-limit becomes a limit once triggered.
  A trailing stop's stop follows the best price seen by ``trailPrice`` (a price distance).
- A stop or stop-limit whose stop is already at or through the market is rejected (status 5), as
  are orders on an account whose ``canTrade`` is false. Closing a position is always allowed.
- Positions are netted per account and contract. A fill against a position first closes (one
  trade with ``profitAndLoss``), and any rest opens a new position (a second trade with
  ``profitAndLoss`` null). A reversal therefore reports the old position closed (size 0) and a new
  position (new id) opened.
- Fees are charged on every fill, as the gateway does (its ``Trade/search`` example shows an
  opening half-turn with ``"profitAndLoss": null, "fees": 1.40``): each trade record carries half
  the contract's round-turn fee times its own size, opening and closing fills alike, and the
  balance is reduced at each fill. A reversal's two trade records each carry the half-turn fees of
  their own size.
- Invariant: the balance change equals the sum over ALL trades of
  ``(profitAndLoss or 0) - fees``; a position opened and closed again costs one round-turn fee.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from deskguard.simulator.book_records import Account, ActionResult, Order, Position, Trade
from deskguard.simulator.contracts import Contract
from deskguard.simulator.enums import (
    CancelOrderError,
    ClosePositionError,
    ModifyOrderError,
    OrderSide,
    OrderStatus,
    OrderType,
    PlaceOrderError,
    PositionType,
    UserEvent,
)
from deskguard.simulator.market import utc_now

UserPublisher = Callable[[UserEvent, int, dict[str, Any]], None]
PriceSource = Callable[[Contract], float]



@dataclass(slots=True)
class _FillReport:
    """What one fill changed, published in the gateway's order: trades, positions, account."""

    trades: list[Trade] = field(default_factory=list)
    positions: list[dict[str, Any]] = field(default_factory=list)
    balance_changed: bool = False


class Book:
    def __init__(self, accounts: Iterable[Account], price_of: PriceSource, publish: UserPublisher) -> None:
        self.accounts: dict[int, Account] = {a.id: replace(a) for a in accounts}
        self._price_of = price_of
        self._publish = publish
        self._orders: dict[int, Order] = {}
        self._positions: dict[tuple[int, str], Position] = {}
        self._trades: list[Trade] = []
        self._order_ids = itertools.count(2_000_001)
        self._position_ids = itertools.count(500_001)
        self._trade_ids = itertools.count(9_000_001)

    # ----------------------------------------------------------------- queries

    def account(self, account_id: int) -> Account | None:
        return self.accounts.get(account_id)

    def order(self, order_id: int) -> Order | None:
        return self._orders.get(order_id)

    def orders(self, account_id: int | None = None) -> list[Order]:
        return [o for o in self._orders.values() if account_id is None or o.account_id == account_id]

    def working_orders(self, account_id: int | None = None) -> list[Order]:
        return [o for o in self.orders(account_id) if o.working]

    def positions(self, account_id: int | None = None) -> list[Position]:
        return [p for p in self._positions.values() if account_id is None or p.account_id == account_id]

    def position(self, account_id: int, contract_id: str) -> Position | None:
        return self._positions.get((account_id, contract_id))

    def trades(self, account_id: int | None = None) -> list[Trade]:
        return [t for t in self._trades if account_id is None or t.account_id == account_id]

    def contracts_in_use(self) -> set[str]:
        """Contracts with an open position or a working order: the walk keeps these moving."""
        ids = {p.contract.id for p in self._positions.values()}
        ids.update(o.contract.id for o in self._orders.values() if o.working)
        return ids

    # ----------------------------------------------------------------- accounts

    def set_account(self, account_id: int, *, can_trade: bool | None = None, balance: float | None = None) -> bool:
        account = self.accounts.get(account_id)
        if account is None:
            return False
        if can_trade is not None:
            account.can_trade = can_trade
        if balance is not None:
            account.balance = round(float(balance), 2)
        self._publish(UserEvent.ACCOUNT, account.id, account.to_api())
        return True

    # ----------------------------------------------------------------- orders

    def place_order(
        self,
        account_id: int,
        contract: Contract,
        order_type: OrderType,
        side: OrderSide,
        size: int,
        *,
        limit_price: float | None = None,
        stop_price: float | None = None,
        trail_price: float | None = None,
        custom_tag: str | None = None,
        linked_order_id: int | None = None,
    ) -> ActionResult:
        account = self.accounts.get(account_id)
        if account is None:
            return ActionResult.fail(PlaceOrderError.ACCOUNT_NOT_FOUND, f"Account {account_id} not found")
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            return ActionResult.fail(PlaceOrderError.ORDER_REJECTED, "Size must be a positive whole number")
        price = self._price_of(contract)
        if order_type in (OrderType.JOIN_BID, OrderType.JOIN_ASK):
            # Joining the bid/ask is a limit at the touch; the simulated book's bid is the last price.
            limit_price = price if order_type is OrderType.JOIN_BID else price + contract.tick_size
        missing = _missing_price(order_type, limit_price, stop_price, trail_price)
        if missing:
            return ActionResult.fail(PlaceOrderError.ORDER_REJECTED, missing)
        now = utc_now()
        order = Order(
            id=next(self._order_ids),
            account_id=account.id,
            contract=contract,
            type=order_type,
            side=side,
            size=size,
            status=OrderStatus.OPEN,
            created=now,
            updated=None,
            limit_price=_on_grid(contract, limit_price),
            stop_price=_on_grid(contract, stop_price),
            trail_price=_on_grid(contract, trail_price),
            custom_tag=custom_tag,
            linked_order_id=linked_order_id,
        )
        if order_type is OrderType.TRAILING_STOP:
            order.trail_anchor = price
            order.stop_price = _trailing_stop(order)
        if not account.can_trade:
            return self._reject(order, PlaceOrderError.ACCOUNT_REJECTED, "Account is not permitted to trade")
        problem = _stop_problem(order, price)
        if problem:
            return self._reject(order, PlaceOrderError.ORDER_REJECTED, problem)
        self._orders[order.id] = order
        self._publish(UserEvent.ORDER, account.id, order.to_api())
        self._match(order, price, arriving=True)
        return ActionResult.ok(order.id)

    def cancel_order(self, account_id: int, order_id: int) -> ActionResult:
        if account_id not in self.accounts:
            return ActionResult.fail(CancelOrderError.ACCOUNT_NOT_FOUND, f"Account {account_id} not found")
        order = self._orders.get(order_id)
        if order is None or order.account_id != account_id:
            return ActionResult.fail(CancelOrderError.ORDER_NOT_FOUND, f"Order {order_id} not found")
        if not order.working:
            return ActionResult.fail(CancelOrderError.REJECTED, f"Order {order_id} is not working")
        order.status = OrderStatus.CANCELLED
        order.updated = utc_now()
        self._publish(UserEvent.ORDER, account_id, order.to_api())
        return ActionResult.ok()

    def modify_order(
        self,
        account_id: int,
        order_id: int,
        *,
        size: int | None = None,
        limit_price: float | None = None,
        stop_price: float | None = None,
        trail_price: float | None = None,
    ) -> ActionResult:
        if account_id not in self.accounts:
            return ActionResult.fail(ModifyOrderError.ACCOUNT_NOT_FOUND, f"Account {account_id} not found")
        order = self._orders.get(order_id)
        if order is None or order.account_id != account_id:
            return ActionResult.fail(ModifyOrderError.ORDER_NOT_FOUND, f"Order {order_id} not found")
        if not order.working:
            return ActionResult.fail(ModifyOrderError.REJECTED, f"Order {order_id} is not working")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
            return ActionResult.fail(ModifyOrderError.REJECTED, "Size must be a positive whole number")
        contract = order.contract
        changed = replace(
            order,
            size=order.size if size is None else size,
            limit_price=order.limit_price if limit_price is None else _on_grid(contract, limit_price),
            stop_price=order.stop_price if stop_price is None else _on_grid(contract, stop_price),
            trail_price=order.trail_price if trail_price is None else _on_grid(contract, trail_price),
        )
        if trail_price is not None and changed.type is OrderType.TRAILING_STOP:
            if changed.trail_price is None or changed.trail_price <= 0:
                return ActionResult.fail(ModifyOrderError.REJECTED, "Trail distance must be positive")
            changed.stop_price = _trailing_stop(changed)
        price = self._price_of(contract)
        problem = _stop_problem(changed, price)
        if problem:
            return ActionResult.fail(ModifyOrderError.REJECTED, problem)
        # Validated on a copy; now change the order itself so references to it stay current.
        order.size, order.limit_price = changed.size, changed.limit_price
        order.stop_price, order.trail_price = changed.stop_price, changed.trail_price
        order.updated = utc_now()
        self._publish(UserEvent.ORDER, account_id, order.to_api())
        self._match(order, price, arriving=True)
        return ActionResult.ok(order.id)

    # ----------------------------------------------------------------- positions

    def close_position(self, account_id: int, contract: Contract) -> ActionResult:
        if account_id not in self.accounts:
            return ActionResult.fail(ClosePositionError.ACCOUNT_NOT_FOUND, f"Account {account_id} not found")
        position = self._positions.get((account_id, contract.id))
        if position is None:
            return ActionResult.fail(ClosePositionError.POSITION_NOT_FOUND, f"No open position in {contract.id}")
        return self._closing_order(position, position.size)

    def partial_close_position(self, account_id: int, contract: Contract, size: int) -> ActionResult:
        if account_id not in self.accounts:
            return ActionResult.fail(ClosePositionError.ACCOUNT_NOT_FOUND, f"Account {account_id} not found")
        position = self._positions.get((account_id, contract.id))
        if position is None:
            return ActionResult.fail(ClosePositionError.POSITION_NOT_FOUND, f"No open position in {contract.id}")
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= position.size:
            return ActionResult.fail(
                ClosePositionError.ORDER_REJECTED, f"Size must be between 1 and the position size {position.size}"
            )
        return self._closing_order(position, size)

    # ----------------------------------------------------------------- market

    def on_price(self, contract: Contract, price: float) -> None:
        """Match every working order on ``contract`` against a new last price, oldest first."""
        for order in sorted(self._orders.values(), key=lambda o: o.id):
            if order.contract.id == contract.id and order.working:
                self._match(order, price, arriving=False)

    # ----------------------------------------------------------------- internals

    def _reject(self, order: Order, code: PlaceOrderError, message: str) -> ActionResult:
        order.status = OrderStatus.REJECTED
        order.updated = utc_now()  # the rejection is a change of the order the gateway created
        self._orders[order.id] = order
        self._publish(UserEvent.ORDER, order.account_id, order.to_api())
        return ActionResult.fail(code, message, order.id)

    def _closing_order(self, position: Position, size: int) -> ActionResult:
        """Close through a market order, as the gateway does, so order/trade events follow."""
        now = utc_now()
        side = OrderSide.SELL if position.type is PositionType.LONG else OrderSide.BUY
        order = Order(
            id=next(self._order_ids),
            account_id=position.account_id,
            contract=position.contract,
            type=OrderType.MARKET,
            side=side,
            size=size,
            status=OrderStatus.OPEN,
            created=now,
            updated=None,
        )
        self._orders[order.id] = order
        self._publish(UserEvent.ORDER, order.account_id, order.to_api())
        self._fill(order, self._price_of(position.contract))
        return ActionResult.ok(order.id)

    def _match(self, order: Order, price: float, *, arriving: bool) -> None:
        """Fill ``order`` if ``price`` reaches it. ``arriving`` orders (new or just modified) that
        are marketable fill at the last price; resting limits fill at their limit."""
        buy = order.side is OrderSide.BUY
        if order.type is OrderType.MARKET:
            self._fill(order, price)
            return
        if order.type is OrderType.TRAILING_STOP:
            assert order.trail_anchor is not None
            order.trail_anchor = min(order.trail_anchor, price) if buy else max(order.trail_anchor, price)
            order.stop_price = _trailing_stop(order)
        if order.type in (OrderType.STOP, OrderType.TRAILING_STOP):
            assert order.stop_price is not None
            if (buy and price >= order.stop_price) or (not buy and price <= order.stop_price):
                self._fill(order, price)
            return
        if order.type is OrderType.STOP_LIMIT and not order.triggered:
            assert order.stop_price is not None
            if not ((buy and price >= order.stop_price) or (not buy and price <= order.stop_price)):
                return
            order.triggered = True
            arriving = True  # the limit arrives in the book now
        assert order.limit_price is not None
        limit = order.limit_price
        if (buy and price <= limit) or (not buy and price >= limit):
            self._fill(order, price if arriving else limit)

    def _fill(self, order: Order, price: float) -> None:
        order.status = OrderStatus.FILLED
        order.fill_volume = order.size
        order.filled_price = price
        order.updated = utc_now()
        report = self._apply_fill(order, price)
        account = self.accounts[order.account_id]
        self._publish(UserEvent.ORDER, account.id, order.to_api())
        for trade in report.trades:
            self._publish(UserEvent.TRADE, account.id, trade.to_api())
        for position in report.positions:
            self._publish(UserEvent.POSITION, account.id, position)
        if report.balance_changed:
            self._publish(UserEvent.ACCOUNT, account.id, account.to_api())

    def _apply_fill(self, order: Order, price: float) -> _FillReport:
        account = self.accounts[order.account_id]
        contract = order.contract
        key = (account.id, contract.id)
        report = _FillReport()
        now = order.updated or utc_now()
        remaining = order.size
        position = self._positions.get(key)
        opposite = PositionType.SHORT if order.side is OrderSide.BUY else PositionType.LONG
        if position is not None and position.type is opposite:
            closing = min(remaining, position.size)
            direction = 1 if position.type is PositionType.LONG else -1
            pnl = round((price - position.average_price) * direction * closing * contract.point_value, 2)
            fees = contract.half_turn_fees(closing)
            report.trades.append(self._trade(order, price, closing, pnl, fees, now))
            account.balance = round(account.balance + pnl - fees, 2)
            report.balance_changed = True
            position.size -= closing
            remaining -= closing
            report.positions.append(position.to_api())
            if position.size == 0:
                del self._positions[key]
                position = None
        if remaining > 0:
            if position is None:
                position = Position(
                    id=next(self._position_ids),
                    account_id=account.id,
                    contract=contract,
                    type=PositionType.LONG if order.side is OrderSide.BUY else PositionType.SHORT,
                    size=remaining,
                    average_price=price,
                    created=now,
                )
                self._positions[key] = position
            else:
                total = position.size + remaining
                position.average_price = round(
                    (position.average_price * position.size + price * remaining) / total, 9
                )
                position.size = total
            fees = contract.half_turn_fees(remaining)
            report.trades.append(self._trade(order, price, remaining, None, fees, now))
            account.balance = round(account.balance - fees, 2)
            report.balance_changed = True
            report.positions.append(position.to_api())
        return report

    def _trade(
        self, order: Order, price: float, size: int, pnl: float | None, fees: float, when: datetime
    ) -> Trade:
        trade = Trade(
            id=next(self._trade_ids),
            account_id=order.account_id,
            contract=order.contract,
            created=when,
            price=price,
            profit_and_loss=pnl,
            fees=fees,
            side=order.side,
            size=size,
            order_id=order.id,
        )
        self._trades.append(trade)
        return trade


def _on_grid(contract: Contract, price: float | None) -> float | None:
    return None if price is None else contract.round_price(float(price))


def _trailing_stop(order: Order) -> float:
    assert order.trail_anchor is not None and order.trail_price is not None
    offset = order.trail_price if order.side is OrderSide.BUY else -order.trail_price
    return order.contract.round_price(order.trail_anchor + offset)


def _missing_price(
    order_type: OrderType, limit: float | None, stop: float | None, trail: float | None
) -> str | None:
    if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) and limit is None:
        return "limitPrice is required for this order type"
    if order_type in (OrderType.STOP, OrderType.STOP_LIMIT) and stop is None:
        return "stopPrice is required for this order type"
    if order_type is OrderType.TRAILING_STOP and (trail is None or trail <= 0):
        return "trailPrice (a positive price distance) is required for a trailing stop"
    return None


def _stop_problem(order: Order, price: float) -> str | None:
    """Exchanges reject stops that are already at or through the market."""
    if order.type not in (OrderType.STOP, OrderType.STOP_LIMIT) or order.triggered:
        return None
    assert order.stop_price is not None
    if order.side is OrderSide.BUY and order.stop_price <= price:
        return f"Buy stop {order.stop_price} must be above the market {price}"
    if order.side is OrderSide.SELL and order.stop_price >= price:
        return f"Sell stop {order.stop_price} must be below the market {price}"
    return None
