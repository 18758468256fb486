"""008 no_stop_loss_grace and 012 trade_management: the protective stop of every position."""

from __future__ import annotations

from datetime import timedelta

import pytest
from engine_harness import (
    BUY,
    CL,
    ES,
    MNQ,
    SELL,
    SHORT,
    T0,
    T0_RESET,
    Action,
    OrderStatus,
    OrderType,
    brief,
)

from deskguard.engine.rules.trade_management import Breakeven

CLOSE, PLACE, MOVE = Action.CLOSE_POSITION, Action.PLACE_STOP, Action.MOVE_STOP
K8, K12 = "no_stop_loss_grace", "trade_management"


# ----- 008 no_stop_loss_grace ---------------------------------------------------------------------


def test_a_position_without_a_stop_is_closed_when_the_grace_expires(desk_with):
    d = desk_with(K8)
    assert d.open(MNQ, 1, 21000.0).decisions == []
    assert d.engine.next_deadline(1001) == T0 + timedelta(seconds=10)  # the guardian ticks then
    assert d.tick(seconds=9).decisions == []
    v = d.tick(seconds=1)
    assert brief(v.decisions) == [(CLOSE, K8, MNQ, None)]
    assert v.new_locks == [] and d.locks == []


@pytest.mark.parametrize("kind", [OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP])
@pytest.mark.parametrize("status", [OrderStatus.OPEN, OrderStatus.PENDING])
def test_a_protective_stop_seen_in_time_cancels_the_timer(desk_with, kind, status):
    d = desk_with(K8)
    d.open(MNQ, 1, 21000.0)
    d.advance(seconds=5)
    assert d.order(MNQ, type=kind, side=SELL, status=status, stop_price=20990.0).decisions == []
    assert d.state.stop_grace == {}
    assert d.engine.next_deadline(1001) == T0_RESET
    assert d.tick(seconds=5).decisions == []
    assert d.tick(minutes=5).decisions == []


@pytest.mark.parametrize(
    "order",
    [
        dict(type=OrderType.STOP, side=BUY, stop_price=20990.0),  # same side as the long: adds, does not protect
        dict(type=OrderType.LIMIT, side=SELL, limit_price=21050.0),  # a profit target is not a stop
        dict(type=OrderType.STOP, side=SELL, stop_price=20990.0, status=OrderStatus.CANCELLED),
        dict(type=OrderType.STOP, side=SELL, stop_price=20990.0, status=OrderStatus.FILLED),
    ],
)
def test_orders_that_are_not_protective_stops_do_not_stop_the_timer(desk_with, order):
    d = desk_with(K8)
    d.open(MNQ, 1, 21000.0)
    d.advance(seconds=2)
    d.order(MNQ, **order)
    assert brief(d.tick(seconds=8).decisions) == [(CLOSE, K8, MNQ, None)]


def test_a_stop_on_another_contract_does_not_protect(desk_with):
    d = desk_with(K8)
    d.open(MNQ, 1, 21000.0)
    d.order(ES, type=OrderType.STOP, side=SELL, stop_price=6000.0)
    assert brief(d.tick(seconds=10).decisions) == [(CLOSE, K8, MNQ, None)]


def test_a_short_needs_a_buy_stop(desk_with):
    d = desk_with(K8)
    d.open(MNQ, 1, 21000.0, SHORT)
    d.order(MNQ, type=OrderType.STOP, side=BUY, stop_price=21010.0)
    assert d.tick(seconds=10).decisions == []


def test_closing_the_position_cancels_the_timer(desk_with):
    d = desk_with(K8)
    d.open(MNQ, 1, 21000.0)
    d.advance(seconds=5)
    assert d.flat(MNQ).decisions == []
    assert d.state.stop_grace == {}
    assert d.tick(seconds=5).decisions == []


def test_cancelling_the_stop_later_starts_a_new_grace(desk_with):
    d = desk_with(K8)
    d.open(MNQ, 1, 21000.0)
    d.advance(seconds=5)
    d.order(MNQ, type=OrderType.STOP, side=SELL, stop_price=20990.0, id=77)
    d.advance(seconds=15)
    d.order(MNQ, type=OrderType.STOP, side=SELL, stop_price=20990.0, id=77, status=OrderStatus.CANCELLED)
    assert d.engine.next_deadline(1001) == T0 + timedelta(seconds=30)
    assert d.tick(seconds=9).decisions == []
    assert brief(d.tick(seconds=1).decisions) == [(CLOSE, K8, MNQ, None)]


def test_a_position_and_its_stop_read_in_a_resync_need_no_timer(desk_with):
    from deskguard.engine.models import Order

    d = desk_with(K8)
    stop = Order(5, 1001, MNQ, OrderStatus.OPEN, OrderType.STOP, SELL, 1, None, 20990.0)
    d.resync(positions=[d.position(MNQ, 1, 21000.0)], orders=[stop])
    assert d.state.stop_grace == {}
    assert d.tick(seconds=30).decisions == []


# ----- 012 trade_management -----------------------------------------------------------------------
# MNQ ticks are 0.25: breakeven triggers 10 ticks (2.50) in profit, trailing activates at 20 ticks.


def stop_moves(v):
    return [(d.action, d.rule, d.contract_id, d.stop_price, d.side, d.order_id, d.size) for d in v.decisions]


def test_breakeven_places_a_stop_at_entry_plus_offset_when_none_exists(desk_with):
    d = desk_with(K12)
    d.open(MNQ, 2, 21000.0)
    assert d.quote(MNQ, 21002.25).decisions == []  # 9 ticks
    v = d.quote(MNQ, 21002.5)  # 10 ticks
    assert stop_moves(v) == [(PLACE, K12, MNQ, 21000.25, int(SELL), None, 2)]
    assert v.new_locks == [] and not v.decisions[0].is_enforcement


def test_breakeven_then_trailing_only_ever_tightens(desk_with):
    d = desk_with(K12)
    d.open(MNQ, 1, 21000.0)
    d.order(MNQ, type=OrderType.STOP, side=SELL, stop_price=20990.0, id=77)  # the trader's own stop
    v = d.quote(MNQ, 21002.5)
    assert stop_moves(v) == [(MOVE, K12, MNQ, 21000.25, None, 77, 1)]
    d.order(MNQ, type=OrderType.STOP, side=SELL, stop_price=21000.25, id=77)
    assert d.quote(MNQ, 21004.0).decisions == []  # 16 ticks: still breakeven
    assert stop_moves(d.quote(MNQ, 21005.0)) == [(MOVE, K12, MNQ, 21002.5, None, 77, 1)]  # trails 10 ticks behind
    d.order(MNQ, type=OrderType.STOP, side=SELL, stop_price=21002.5, id=77)
    assert d.quote(MNQ, 21004.0).decisions == []  # a pull-back never loosens the stop
    assert d.quote(MNQ, 21005.0).decisions == []
    assert stop_moves(d.quote(MNQ, 21006.25)) == [(MOVE, K12, MNQ, 21003.75, None, 77, 1)]


def test_a_requested_stop_is_not_asked_for_again_before_the_broker_confirms_it(desk_with):
    d = desk_with(K12)
    d.open(MNQ, 1, 21000.0)
    assert stop_moves(d.quote(MNQ, 21002.5))[0][0] == PLACE
    assert d.quote(MNQ, 21003.0).decisions == []  # breakeven was already asked for


def test_a_short_gets_its_stop_above_entry(desk_with):
    d = desk_with(K12)
    d.open(MNQ, 1, 21000.0, SHORT)
    assert stop_moves(d.quote(MNQ, 20997.5)) == [(PLACE, K12, MNQ, 20999.75, int(BUY), None, 1)]
    assert stop_moves(d.quote(MNQ, 20995.0)) == [(PLACE, K12, MNQ, 20997.5, int(BUY), None, 1)]


def test_a_tighter_stop_of_the_trader_is_left_alone(desk_with):
    d = desk_with(K12)
    d.open(MNQ, 1, 21000.0)
    d.order(MNQ, type=OrderType.STOP, side=SELL, stop_price=21001.0, id=77)
    assert d.quote(MNQ, 21002.5).decisions == []  # breakeven (21000.25) would loosen it


def test_stale_quotes_never_move_a_stop(desk_with):
    d = desk_with(K12)
    d.open(MNQ, 1, 21000.0)
    assert d.quote(MNQ, 21010.0, age=10).decisions == []


def test_trailing_alone_starts_at_activation(desk_with):
    d = desk_with(K12, trade_management={"breakeven": Breakeven(enabled=False)})
    d.open(MNQ, 1, 21000.0)
    assert d.quote(MNQ, 21004.75).decisions == []  # 19 ticks
    assert stop_moves(d.quote(MNQ, 21005.0)) == [(PLACE, K12, MNQ, 21002.5, int(SELL), None, 1)]


def test_the_trade_management_breakeven_triggers_at_exactly_its_ticks_on_a_cent_ticked_contract(desk_with):
    """CL: 70.10 is 10 ticks of 0.01 above 70.00, although (70.10 - 70.00) / 0.01 is 9.999999999999432."""
    d = desk_with("trade_management")
    d.open(CL, 1, 70.00)
    v = d.quote(CL, 70.10)
    assert [(x.action, x.stop_price) for x in v.decisions] == [(PLACE, 70.01)]


def test_breakeven_places_its_stop_again_after_it_is_cancelled(desk_with):
    """rules.md 012: place one if none — and again if that stop is cancelled, rejected or its
    placement failed."""
    d = desk_with(K12)
    d.open(MNQ, 2, 21000.0)
    assert stop_moves(d.quote(MNQ, 21002.5))[0][:4] == (PLACE, K12, MNQ, 21000.25)
    assert d.quote(MNQ, 21002.75).decisions == []  # asked already: not twice while it is on its way
    d.order(MNQ, stop_price=21000.25, size=2, id=501)  # it arrives, working
    v = d.order(MNQ, stop_price=21000.25, size=2, id=501, status=OrderStatus.CANCELLED)  # the trader cancels it
    assert stop_moves(v)[0][:4] == (PLACE, K12, MNQ, 21000.25)


def test_breakeven_asks_again_after_a_failed_placement(desk_with):
    d = desk_with(K12)
    d.open(MNQ, 2, 21000.0)
    assert stop_moves(d.quote(MNQ, 21002.5))[0][0] == PLACE
    d.engine.forget_stop_request(1001, MNQ)  # the guardian: Order/place failed
    assert stop_moves(d.quote(MNQ, 21002.5))[0][:4] == (PLACE, K12, MNQ, 21000.25)
