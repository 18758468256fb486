"""Matching, positions, P&L and fees of the simulated book, without any networking."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sim_harness import PINNED_TODAY

from deskguard.simulator.book import Account, ActionResult, Book, Order
from deskguard.simulator.contracts import Contract, ContractCatalog
from deskguard.simulator.enums import OrderSide, OrderStatus, OrderType, PlaceOrderError, PositionType, UserEvent

BUY, SELL = OrderSide.BUY, OrderSide.SELL
CATALOG = ContractCatalog(PINNED_TODAY)
MNQ = CATALOG.resolve("MNQ")
ES = CATALOG.resolve("ES")
assert MNQ is not None and ES is not None


class Desk:
    """A book with settable prices and a log of everything it published."""

    def __init__(self, balance: float = 50_000.0) -> None:
        self.prices: dict[str, float] = {MNQ.id: 21_000.0, ES.id: 6_000.0}
        self.events: list[tuple[UserEvent, int, dict[str, Any]]] = []
        self.book = Book(
            [Account(1001, "A-1001", balance), Account(1002, "A-1002", balance, can_trade=False)],
            lambda c: self.prices[c.id],
            lambda target, account_id, payload: self.events.append((target, account_id, payload)),
        )

    def move(self, contract: Contract, price: float) -> None:
        self.prices[contract.id] = price
        self.book.on_price(contract, price)

    def market(self, side: OrderSide, size: int, contract: Contract = MNQ, account: int = 1001) -> int:
        result = self.book.place_order(account, contract, OrderType.MARKET, side, size)
        assert result.success, result
        assert result.order_id is not None
        return result.order_id

    def order(self, result: ActionResult) -> Order:
        """The order an action created (placed, rejected or modified)."""
        assert result.order_id is not None, result
        order = self.book.order(result.order_id)
        assert order is not None
        return order

    def targets(self) -> list[str]:
        return [t.value for t, _, _ in self.events]

    def realized(self, account: int = 1001) -> float:
        """rules.md's realized P&L: closing trades' profitAndLoss minus the fees of EVERY trade."""
        return sum((t.profit_and_loss or 0.0) - t.fees for t in self.book.trades(account) if not t.voided)


def test_market_round_trip_realizes_points_times_point_value_minus_round_turn_fee() -> None:
    desk = Desk()
    desk.market(BUY, 2)
    opening = desk.book.trades(1001)[0]
    # The gateway charges the opening half-turn on the opening fill, and the balance drops at once.
    assert opening.profit_and_loss is None and opening.fees == pytest.approx(0.37 * 2)
    assert desk.book.accounts[1001].balance == pytest.approx(50_000 - 0.74)
    desk.move(MNQ, 21_010.0)
    desk.market(SELL, 2)
    _, closing = desk.book.trades(1001)
    assert closing.profit_and_loss == pytest.approx(10.0 * 2 * 2.0)  # 10 points, $2 a point, 2 lots
    assert closing.fees == pytest.approx(0.37 * 2)
    assert desk.book.accounts[1001].balance == pytest.approx(50_000 + 40.0 - 1.48)  # one round turn in all
    assert desk.book.positions(1001) == []


def test_opening_fill_publishes_its_fees_and_the_reduced_balance() -> None:
    desk = Desk()
    desk.market(BUY, 1, ES)
    trades = [p for t, _, p in desk.events if t is UserEvent.TRADE]
    accounts = [p for t, _, p in desk.events if t is UserEvent.ACCOUNT]
    assert [(t["profitAndLoss"], t["fees"]) for t in trades] == [(None, 1.40)]  # as the docs' example
    assert [a["balance"] for a in accounts] == [50_000 - 1.40]


def test_a_fill_publishes_order_then_trade_then_position_then_account() -> None:
    desk = Desk()
    desk.market(BUY, 1)
    assert desk.targets() == [
        "GatewayUserOrder",
        "GatewayUserOrder",
        "GatewayUserTrade",
        "GatewayUserPosition",
        "GatewayUserAccount",  # the opening half-turn's fees
    ]
    assert [p["status"] for t, _, p in desk.events if t is UserEvent.ORDER] == [1, 2]
    desk.events.clear()
    desk.market(SELL, 1)
    assert desk.targets() == [
        "GatewayUserOrder",
        "GatewayUserOrder",
        "GatewayUserTrade",
        "GatewayUserPosition",
        "GatewayUserAccount",
    ]
    closed = desk.events[3][2]
    assert closed["size"] == 0 and closed["type"] == PositionType.LONG


def test_adding_averages_the_entry_price() -> None:
    desk = Desk()
    desk.market(BUY, 1)
    desk.move(MNQ, 21_004.0)
    desk.market(BUY, 3)
    (position,) = desk.book.positions(1001)
    assert position.size == 4
    assert position.average_price == pytest.approx(21_003.0)


def test_reversal_closes_then_opens_with_two_trades_and_a_new_position() -> None:
    desk = Desk()
    desk.market(BUY, 2)
    first_id = desk.book.positions(1001)[0].id
    desk.move(MNQ, 20_990.0)
    desk.events.clear()
    desk.market(SELL, 5)
    closing, opening = desk.book.trades(1001)[1:]
    # Each record carries the half-turn fees of its own size: 2 x 0.37 and 3 x 0.37.
    assert (closing.size, closing.profit_and_loss, closing.fees) == (2, -40.0, 0.74)
    assert (opening.size, opening.profit_and_loss, opening.fees) == (3, None, 1.11)
    assert desk.book.accounts[1001].balance == pytest.approx(50_000 - 0.74 - 40.0 - 0.74 - 1.11)
    (position,) = desk.book.positions(1001)
    assert position.type is PositionType.SHORT and position.size == 3 and position.id != first_id
    position_events = [p for t, _, p in desk.events if t is UserEvent.POSITION]
    assert [(p["id"], p["size"]) for p in position_events] == [(first_id, 0), (position.id, 3)]


def test_short_profit_when_price_falls() -> None:
    desk = Desk()
    desk.market(SELL, 1, ES)
    desk.move(ES, 5_990.0)
    assert desk.book.close_position(1001, ES).success
    closing = desk.book.trades(1001)[-1]
    assert closing.profit_and_loss == pytest.approx(10.0 * 50.0)  # ES is $50 a point
    assert closing.fees == pytest.approx(1.40)
    assert sum(t.fees for t in desk.book.trades(1001)) == pytest.approx(2.80)  # one round turn


def test_resting_limit_fills_at_its_limit_and_marketable_limit_at_the_market() -> None:
    desk = Desk()
    resting = desk.book.place_order(1001, MNQ, OrderType.LIMIT, BUY, 1, limit_price=20_995.0)
    assert desk.order(resting).status is OrderStatus.OPEN
    desk.move(MNQ, 20_996.0)
    assert desk.order(resting).status is OrderStatus.OPEN
    desk.move(MNQ, 20_990.0)  # gaps through the limit: filled at the limit, not better
    assert desk.order(resting).filled_price == 20_995.0
    marketable = desk.book.place_order(1001, MNQ, OrderType.LIMIT, SELL, 1, limit_price=20_980.0)
    assert desk.order(marketable).filled_price == 20_990.0


def test_stop_triggers_at_the_stop_and_fills_at_the_market() -> None:
    desk = Desk()
    desk.market(BUY, 1)
    stop = desk.book.place_order(1001, MNQ, OrderType.STOP, SELL, 1, stop_price=20_990.0)
    desk.move(MNQ, 20_991.0)
    assert desk.order(stop).working
    desk.move(MNQ, 20_985.0)
    order = desk.order(stop)
    assert order.status is OrderStatus.FILLED and order.filled_price == 20_985.0
    assert desk.book.positions(1001) == []


def test_stop_at_or_through_the_market_is_rejected_and_published() -> None:
    desk = Desk()
    result = desk.book.place_order(1001, MNQ, OrderType.STOP, SELL, 1, stop_price=21_000.0)
    assert not result.success and result.error_code == PlaceOrderError.ORDER_REJECTED
    assert desk.events[-1][2]["status"] == OrderStatus.REJECTED
    modify_target = desk.book.place_order(1001, MNQ, OrderType.STOP, BUY, 1, stop_price=21_010.0)
    bad_modify = desk.book.modify_order(1001, desk.order(modify_target).id, stop_price=20_990.0)
    assert not bad_modify.success
    assert desk.order(modify_target).stop_price == 21_010.0


def test_stop_limit_becomes_a_limit_once_triggered() -> None:
    desk = Desk()
    order = desk.book.place_order(1001, MNQ, OrderType.STOP_LIMIT, BUY, 1, stop_price=21_005.0, limit_price=21_006.0)
    desk.move(MNQ, 21_008.0)  # triggers, but the market is above the limit: rests as a limit
    placed = desk.order(order)
    assert placed.working and placed.triggered
    desk.move(MNQ, 21_004.0)
    assert placed.status is OrderStatus.FILLED and placed.filled_price == 21_006.0


def test_trailing_stop_follows_the_best_price() -> None:
    desk = Desk()
    desk.market(BUY, 1)
    trail = desk.book.place_order(1001, MNQ, OrderType.TRAILING_STOP, SELL, 1, trail_price=10.0)
    order = desk.order(trail)
    assert order.stop_price == 20_990.0
    desk.move(MNQ, 21_020.0)
    assert order.stop_price == 21_010.0
    desk.move(MNQ, 21_012.0)
    assert order.working and order.stop_price == 21_010.0
    desk.move(MNQ, 21_010.0)
    assert order.status is OrderStatus.FILLED and order.filled_price == 21_010.0


def test_cancel_and_modify_publish_order_updates() -> None:
    desk = Desk()
    placed = desk.book.place_order(1001, MNQ, OrderType.LIMIT, BUY, 1, limit_price=20_900.0)
    assert desk.book.modify_order(1001, desk.order(placed).id, limit_price=20_950.0, size=2).success
    assert desk.events[-1][2]["limitPrice"] == 20_950.0 and desk.events[-1][2]["size"] == 2
    assert desk.book.cancel_order(1001, desk.order(placed).id).success
    assert desk.events[-1][2]["status"] == OrderStatus.CANCELLED
    assert not desk.book.cancel_order(1001, desk.order(placed).id).success
    assert not desk.book.cancel_order(1002, desk.order(placed).id).success


def test_account_that_cannot_trade_gets_rejections_but_may_close() -> None:
    desk = Desk()
    desk.market(BUY, 1, account=1001)
    result = desk.book.place_order(1002, MNQ, OrderType.MARKET, BUY, 1)
    assert not result.success and result.error_code == PlaceOrderError.ACCOUNT_REJECTED
    assert desk.order(result).status is OrderStatus.REJECTED
    desk.book.set_account(1001, can_trade=False)
    assert desk.events[-1] == (UserEvent.ACCOUNT, 1001, desk.book.accounts[1001].to_api())
    assert desk.book.close_position(1001, MNQ).success
    assert desk.book.positions() == []


def test_partial_close_reduces_and_rejects_oversize() -> None:
    desk = Desk()
    desk.market(SELL, 3)
    assert not desk.book.partial_close_position(1001, MNQ, 4).success
    assert desk.book.partial_close_position(1001, MNQ, 2).success
    (position,) = desk.book.positions(1001)
    assert position.size == 1 and position.type is PositionType.SHORT
    assert not desk.book.close_position(1001, ES).success


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([BUY, SELL]), st.integers(1, 4), st.integers(-40, 40)),
        min_size=1,
        max_size=25,
    )
)
def test_realized_pnl_always_equals_the_balance_change(steps: list[tuple[OrderSide, int, int]]) -> None:
    desk = Desk()
    net = 0
    for side, size, ticks in steps:
        desk.move(MNQ, 21_000.0 + ticks * MNQ.tick_size)
        desk.market(side, size)
        net += size if side is BUY else -size
    balance_change = desk.book.accounts[1001].balance - 50_000.0
    assert desk.realized() == pytest.approx(balance_change, abs=1e-6)
    positions = desk.book.positions(1001)
    signed = sum(p.size if p.type is PositionType.LONG else -p.size for p in positions)
    assert signed == net
    # Every fill, opening or closing, pays the half-turn fee of its own size.
    assert all(t.fees == pytest.approx(0.37 * t.size) for t in desk.book.trades(1001))
    # Only closing trades counted would miss the opening fees (the bug this invariant guards).
    opening_fees = sum(t.fees for t in desk.book.trades(1001) if t.profit_and_loss is None)
    closing_only = sum(t.profit_and_loss - t.fees for t in desk.book.trades(1001) if t.profit_and_loss is not None)
    assert closing_only - opening_fees == pytest.approx(balance_change, abs=1e-6)


def test_update_timestamp_is_null_until_the_order_changes() -> None:
    """The gateway documents ``updateTimestamp: null`` for an order never updated since creation."""
    desk = Desk()
    placed = desk.book.place_order(1001, MNQ, OrderType.LIMIT, BUY, 1, limit_price=20_900.0)
    order_id = desk.order(placed).id
    assert desk.events[-1][2]["updateTimestamp"] is None
    assert desk.order(placed).to_api()["updateTimestamp"] is None  # searchOpen's view too
    assert desk.book.modify_order(1001, order_id, limit_price=20_950.0).success
    modified = desk.events[-1][2]["updateTimestamp"]
    assert isinstance(modified, str) and modified >= desk.events[-1][2]["creationTimestamp"]
    assert desk.book.cancel_order(1001, order_id).success
    assert isinstance(desk.events[-1][2]["updateTimestamp"], str)

    desk.events.clear()
    desk.market(BUY, 1)  # created (null), then filled (stamped)
    stamps = [(p["status"], p["updateTimestamp"]) for t, _, p in desk.events if t is UserEvent.ORDER]
    assert stamps[0] == (OrderStatus.OPEN, None)
    assert stamps[1][0] == OrderStatus.FILLED and isinstance(stamps[1][1], str)

    rejected = desk.book.place_order(1001, MNQ, OrderType.STOP, SELL, 1, stop_price=21_050.0)
    assert desk.events[-1][2]["status"] == OrderStatus.REJECTED
    assert desk.order(rejected).to_api()["updateTimestamp"] is not None
