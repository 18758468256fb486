"""018 safety_net: stops at the gateway sized to the remaining loss budget (prices hand-computed).

MNQ: tick 0.25, $0.50 a tick → $2 a point per contract. MES: tick 0.25, $1.25 a tick → $5 a point.
"""

from __future__ import annotations

from datetime import timedelta

from engine_harness import (
    ACCOUNT,
    BUY,
    MES,
    MNQ,
    SELL,
    SHORT,
    Action,
    Desk,
    OrderStatus,
    OrderType,
    only,
)

from deskguard.engine.decisions import Decision, merge
from deskguard.engine.events import OrderUpdated
from deskguard.engine.models import SAFETY_NET_TAG, Order, Side
from deskguard.engine.rules.safety_net import FILL_SETTLE, NO_BUDGET, safety_net_price

K18, K12, K8 = "safety_net", "trade_management", "no_stop_loss_grace"
PLACE, MOVE, CANCEL = Action.PLACE_STOP, Action.MOVE_STOP, Action.CANCEL_STOP


def net(d: Desk, contract: str, price: float, *, side: Side = SELL, size: int = 1, oid: int = 7001,
        status: OrderStatus = OrderStatus.OPEN, tag: str | None = f"{SAFETY_NET_TAG}-x") -> list[Decision]:
    """The gateway reports a stop order (by default one of the app's safety-net stops)."""
    order = Order(oid, ACCOUNT, contract, status, OrderType.STOP, side, size, None, price, d.now, d.now, tag)
    return d.send(OrderUpdated(order)).decisions


def stops(decisions: list[Decision]) -> list[tuple]:
    return [(x.action, x.rule, x.contract_id, x.stop_price, x.size, x.side, x.order_id)
            for x in decisions if x.action in (PLACE, MOVE, CANCEL)]


def desk18(**changes) -> Desk:
    return Desk(only(K18, "daily_realized_loss", **changes))


def test_one_position_gets_a_stop_where_the_remaining_budget_is_used_up_rounded_toward_entry():
    d = desk18()
    d.loss(100.0, fees=1.70)  # day's realized net P&L: -101.70 → budget 500 - 101.70 = 398.30
    d.quote(MNQ, 21000.0)
    v = d.open(MNQ, 2, 21000.0)
    # Closing 2 MNQ will cost 2 × 1.70 (the last MNQ fill's fee a contract): 398.30 - 3.40 = 394.90.
    # 2 MNQ × $2/pt = $4/pt → 394.90 / 4 = 98.725 pts → 20901.275, rounded up (toward entry) to 20901.50
    assert stops(v.decisions) == [(PLACE, K18, MNQ, 20901.5, 2, int(SELL), None)]
    assert d.state.safety_net == {MNQ: 20901.5}
    # Asked once: further events do not place a second stop while the first is on its way.
    assert stops(d.quote(MNQ, 21001.0).decisions) == []
    assert stops(net(d, MNQ, 20901.5, size=2)) == []
    assert safety_net_price(d.state, d.state.positions[MNQ]) == 20901.5


def test_two_positions_share_the_budget_by_dollars_per_point():
    d = desk18()
    d.quote(MNQ, 21000.0)
    d.quote(MES, 6000.0)
    d.open(MNQ, 2, 21000.0)
    net(d, MNQ, 20750.0, size=2)  # the first position's stop at 500 / 4 = 125 pts
    v = d.open(MES, 1, 6000.0, SHORT)
    # Σ(size × point value) = 2×2 + 1×5 = 9 $/pt → 500 / 9 = 55.55… pts from each entry.
    # MNQ long: 20944.44… → up to 20944.50 (moved, tighter); MES short: 6055.55… → down to 6055.50.
    assert sorted(stops(v.decisions)) == sorted([
        (MOVE, K18, MNQ, 20944.5, 2, None, 7001),
        (PLACE, K18, MES, 6055.5, 1, int(BUY), None),
    ])
    # Both filled at their stops: 55.5 × 4 + 55.5 × 5 = 499.50, within the 500 budget.


def test_a_loss_shrinks_the_budget_and_the_stop_moves_tighter_but_never_looser():
    d = desk18()
    d.quote(MNQ, 21000.0)
    d.open(MNQ, 1, 21000.0)
    net(d, MNQ, 20750.0)  # 500 / 2 = 250 pts
    v = d.loss(200.0, contract=MES)  # budget 300 → 150 pts → 20850
    assert stops(v.decisions) == [(MOVE, K18, MNQ, 20850.0, 1, None, 7001)]
    net(d, MNQ, 20850.0)
    assert stops(d.fill(MES, 150.0, side=SELL).decisions) == []  # budget grows back to 450: stays at 20850
    assert d.state.safety_net == {MNQ: 20850.0}


def test_a_tighter_stop_already_there_is_left_alone_and_a_resized_position_resizes_it():
    d = desk18()
    d.quote(MNQ, 21000.0)
    d.open(MNQ, 1, 21000.0)
    assert stops(net(d, MNQ, 20990.0)) == []  # tighter than 20750: left alone
    v = d.open(MNQ, 2, 21000.0)  # 500 / 4 = 125 → 20875, still looser than 20990: only the size follows
    assert stops(v.decisions) == [(MOVE, K18, MNQ, 20990.0, 2, None, 7001)]


def test_never_closer_than_min_ticks_to_the_last_price():
    d = desk18()
    d.quote(MNQ, 20750.5)  # already 249.5 pts down from the entry
    v = d.open(MNQ, 1, 21000.0)  # the budget point 20750 is within 4 ticks of 20750.50
    assert stops(v.decisions) == [(PLACE, K18, MNQ, 20749.5, 1, int(SELL), None)]


def test_without_a_quote_yet_the_entry_stands_in_for_the_last_price():
    d = desk18()
    assert stops(d.open(MNQ, 1, 21000.0).decisions) == [(PLACE, K18, MNQ, 20750.0, 1, int(SELL), None)]
    d = desk18(daily_realized_loss={"max_loss": 1.0})  # 0.5 pt from the entry: kept 4 ticks (1 pt) away instead
    assert stops(d.open(MNQ, 1, 21000.0).decisions) == [(PLACE, K18, MNQ, 20999.0, 1, int(SELL), None)]


def test_014_budget_wins_when_smaller():
    d = Desk(only(K18, "daily_realized_loss", trailing_drawdown={"high_water_mark": 50_000.0}), balance=48_500.0)
    d.quote(MNQ, 21000.0)
    v = d.open(MNQ, 1, 21000.0)
    # 014: floor 48,000 + buffer 200 → 300 above it; 003: 500 left → 300 / 2 = 150 pts
    assert stops(v.decisions) == [(PLACE, K18, MNQ, 20850.0, 1, int(SELL), None)]
    assert "300.00" in d.engine.figures(ACCOUNT)[K18].text


def test_no_budget_places_nothing_and_says_why():
    d = Desk(only(K18))
    d.quote(MNQ, 21000.0)
    assert stops(d.open(MNQ, 1, 21000.0).decisions) == []
    fig = d.engine.figures(ACCOUNT)[K18]
    assert fig.text == NO_BUDGET


def test_the_trader_cancelling_it_in_the_web_screen_gets_it_placed_again():
    d = desk18()
    d.quote(MNQ, 21000.0)
    d.open(MNQ, 1, 21000.0)
    net(d, MNQ, 20750.0)
    v = net(d, MNQ, 20750.0, status=OrderStatus.CANCELLED)
    assert stops(v) == [(PLACE, K18, MNQ, 20750.0, 1, int(SELL), None)]


def test_its_stop_filling_places_no_new_stop_before_the_positions_update_arrives():
    """The gateway pushes the stop's fill, then the position's close: in between the position looks
    open and unprotected; a stop placed then would only be cancelled again (two wasted requests)."""
    d = desk18()
    d.quote(MNQ, 21000.0)
    d.open(MNQ, 1, 21000.0)
    net(d, MNQ, 20750.0)
    assert stops(net(d, MNQ, 20750.0, status=OrderStatus.FILLED)) == []
    assert stops(d.quote(MNQ, 20749.0).decisions) == []
    assert stops(d.flat(MNQ).decisions) == []
    assert d.state.safety_net_filled == {}


def test_after_its_stop_filled_a_position_still_open_is_protected_again():
    d = desk18()
    d.quote(MNQ, 21000.0)
    d.open(MNQ, 2, 21000.0)
    net(d, MNQ, 20875.0, size=1)  # a smaller stop than the position (a resize was on its way)
    assert stops(net(d, MNQ, 20875.0, size=1, status=OrderStatus.FILLED)) == []
    # The position's update: 1 left, at the same entry → its own stop at 500 / 2 = 250 pts.
    v = d.open(MNQ, 1, 21000.0)
    assert stops(v.decisions) == [(PLACE, K18, MNQ, 20750.0, 1, int(SELL), None)]


def test_if_the_positions_update_never_comes_the_net_is_placed_after_the_settle_time_inside_2_s():
    d = desk18()
    d.quote(MNQ, 21000.0)
    d.open(MNQ, 1, 21000.0)
    net(d, MNQ, 20750.0)
    net(d, MNQ, 20750.0, status=OrderStatus.FILLED)
    assert d.engine.next_deadline(ACCOUNT) == d.now + FILL_SETTLE
    assert stops(d.tick(seconds=0.5).decisions) == []
    assert stops(d.tick(seconds=0.5).decisions) == [(PLACE, K18, MNQ, 20750.0, 1, int(SELL), None)]


def test_a_failed_placement_is_asked_again():
    d = desk18()
    d.quote(MNQ, 21000.0)
    d.open(MNQ, 1, 21000.0)
    d.engine.forget_stop_request(ACCOUNT, MNQ, K18)  # the guardian: Order/place failed
    assert stops(d.quote(MNQ, 21000.0).decisions) == [(PLACE, K18, MNQ, 20750.0, 1, int(SELL), None)]


def test_its_stop_of_a_closed_position_and_extra_copies_are_cancelled():
    d = desk18()
    d.quote(MNQ, 21000.0)
    d.open(MNQ, 1, 21000.0)
    net(d, MNQ, 20750.0, oid=7001)
    v = d.send(OrderUpdated(Order(7002, ACCOUNT, MNQ, OrderStatus.OPEN, OrderType.STOP, SELL, 1, None, 20800.0,
                                  d.now, d.now, f"{SAFETY_NET_TAG}-y")))
    assert stops(v.decisions) == [(CANCEL, K18, MNQ, None, None, None, 7001)]  # the looser copy
    assert stops(d.flat(MNQ).decisions) == sorted([(CANCEL, K18, MNQ, None, None, None, 7001),
                                                   (CANCEL, K18, MNQ, None, None, None, 7002)])
    assert d.state.safety_net == {}


def test_012_never_moves_it_and_both_rules_stop_decisions_survive_the_merge():
    d = Desk(only(K18, K12, "daily_realized_loss"))
    d.quote(MNQ, 21000.0)
    d.open(MNQ, 1, 21000.0)
    net(d, MNQ, 20750.0)
    v = d.quote(MNQ, 21002.5)  # 10 ticks in profit: 012's breakeven
    assert stops(v.decisions) == [(PLACE, K12, MNQ, 21000.25, 1, int(SELL), None)]  # its own stop, not ours
    a = Decision(ACCOUNT, MOVE, K18, "a", contract_id=MNQ, order_id=1, stop_price=1.0)
    b = Decision(ACCOUNT, PLACE, K12, "b", contract_id=MNQ, stop_price=2.0, side=1, size=1)
    assert sorted(x.rule for x in merge([a, b])) == sorted([K12, K18])


def test_008_does_not_count_it_as_the_traders_stop_unless_told_to():
    d = Desk(only(K18, K8, "daily_realized_loss"))
    d.quote(MNQ, 21000.0)
    d.open(MNQ, 1, 21000.0)
    net(d, MNQ, 20750.0)
    assert [x.action for x in d.tick(seconds=10).decisions] == [Action.CLOSE_POSITION]

    d = Desk(only(K18, "daily_realized_loss", no_stop_loss_grace={"count_safety_net": True}))
    d.quote(MNQ, 21000.0)
    d.open(MNQ, 1, 21000.0)
    net(d, MNQ, 20750.0)
    d.clock.advance(seconds=10)
    assert [x.action for x in d.tick(seconds=1).decisions] == []


def test_a_locked_position_is_closed_not_netted():
    d = desk18()
    d.quote(MNQ, 21000.0)
    v = d.loss(500.0)  # the daily limit: flatten and lock
    assert Action.FLATTEN in [x.action for x in v.decisions]
    v = d.open(MNQ, 1, 21000.0)
    assert stops(v.decisions) == []
    assert Action.CLOSE_POSITION in [x.action for x in v.decisions]


def test_what_it_asked_survives_a_restart():
    d = desk18()
    d.quote(MNQ, 21000.0)
    d.open(MNQ, 1, 21000.0)
    kept = d.engine.memory(ACCOUNT)
    assert kept["safety_net"] == {MNQ: 20750.0}
    again = desk18()
    again.engine.restore(ACCOUNT, memory=kept)
    again.quote(MNQ, 21000.0)
    # The placement asked before the restart is not asked twice before the broker's word arrives...
    assert stops(again.open(MNQ, 1, 21000.0).decisions) == []
    # ...and the re-sync (the broker's word) shows whether it is really there.
    v = again.resync(positions=[again.position(MNQ, 1, 21000.0)])
    assert stops(v.decisions) == [(PLACE, K18, MNQ, 20750.0, 1, int(SELL), None)]
    assert again.clock.now() - d.clock.now() < timedelta(seconds=1)


def test_a_stop_it_placed_stays_its_own_even_if_an_update_comes_back_without_the_tag():
    d = Desk(only(K18, K8, "daily_realized_loss"))
    d.quote(MNQ, 21000.0)
    d.open(MNQ, 1, 21000.0)
    d.engine.note_safety_net_order(ACCOUNT, 7001)  # the guardian: Order/place answered orderId 7001
    assert stops(net(d, MNQ, 20750.0, tag=None)) == []  # seen as the net it asked for: nothing more to place
    assert d.state.protective_stops(d.state.positions[MNQ]) == []  # not the trader's stop (008)
    assert [x.action for x in d.tick(seconds=10).decisions] == [Action.CLOSE_POSITION]
    assert d.engine.memory(ACCOUNT)["safety_net_ids"] == [7001]

