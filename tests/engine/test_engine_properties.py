"""Properties (hypothesis): P&L arithmetic, close on sight during any lock, the merge, the calendar."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from engine_harness import (
    ACCOUNT,
    CL,
    CT,
    ES,
    MES,
    MNQ,
    NQ,
    RTY,
    T0,
    Desk,
    Lock,
    LockKind,
    no_rules,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deskguard.engine.calendar import SessionCalendar, TradingCalendar
from deskguard.engine.decisions import Action, Decision, merge
from deskguard.engine.events import AccountUpdated, ClockTick, OrderUpdated, PositionUpdated, Resync, TradeFilled
from deskguard.engine.instruments import instrument_for, symbol_of
from deskguard.engine.models import Account, Order, OrderStatus, OrderType, Position, PositionType, Quote, Side, Trade
from deskguard.engine.pricing import Pricing
from deskguard.engine.rules.session_block import Window
from deskguard.engine.settings import EngineSettings

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONTRACTS = [MNQ, MES, ES, NQ, CL, RTY]

cents = st.integers(min_value=-100_000, max_value=100_000).map(lambda c: Decimal(c) / 100)
fees_cents = st.integers(min_value=0, max_value=1_000).map(lambda c: Decimal(c) / 100)


# ----- unrealized P&L -------------------------------------------------------------------------------


def on_grid(contract: str, ticks: int) -> float:
    """A price a whole number of ticks above zero, written the way the broker writes it (decimal)."""
    inst = instrument_for(contract)
    assert inst is not None
    return float(Decimal(ticks) * Decimal(str(inst.tick_size)))


@FAST
@given(
    contract=st.sampled_from(CONTRACTS),
    avg_ticks=st.integers(min_value=1_000, max_value=10_000_000),
    move=st.integers(min_value=-5_000, max_value=5_000),
    size=st.integers(min_value=1, max_value=50),
)
def test_long_and_short_unrealized_pnl_are_mirror_images(contract, avg_ticks, move, size):
    pricing = Pricing()
    avg, price = on_grid(contract, avg_ticks), on_grid(contract, avg_ticks + move)
    pricing.update(Quote(contract, T0, last=price))
    long_value, long_stale = pricing.unrealized(Position(ACCOUNT, contract, PositionType.LONG, size, avg), T0)
    short_value, short_stale = pricing.unrealized(Position(ACCOUNT, contract, PositionType.SHORT, size, avg), T0)
    assert long_value == -short_value
    assert not long_stale and not short_stale
    inst = instrument_for(contract)
    exact = Decimal(move) * Decimal(str(inst.tick_value)) * size  # ticks × tick value × size
    assert abs(Decimal(repr(long_value)) - exact) < Decimal("0.005")


# ----- close on sight during any lock ---------------------------------------------------------------


@st.composite
def locks(draw):
    kind = draw(st.sampled_from(list(LockKind)))
    symbol = draw(st.sampled_from([None, "MNQ", "ES", "CL"]))
    until = None
    if kind in (LockKind.COOLDOWN, LockKind.UNTIL_RESET, LockKind.UNTIL_SESSION):
        until = T0 + timedelta(seconds=draw(st.integers(min_value=1, max_value=7_000)))
    rule = draw(st.sampled_from(["daily_realized_loss", "cooldown_after_loss", "symbol_blocks", "auth_loss_guard"]))
    return Lock(ACCOUNT, kind, rule, "a lock", T0 - timedelta(minutes=1), until, symbol)


EVENT_KINDS = ["position", "grow", "tick", "account", "order", "entry", "exit", "resync"]


def event_for(kind: str, contract: str, can_trade: bool, draw) -> object:
    account = Account(ACCOUNT, "x", 50_000.0, can_trade)
    held = Position(ACCOUNT, contract, PositionType.LONG, 1, 100.0, T0)
    match kind:
        case "position":
            return PositionUpdated(held)
        case "grow":
            return PositionUpdated(replace(held, size=draw(st.integers(min_value=2, max_value=4))))
        case "tick":
            return ClockTick(T0)
        case "account":
            return AccountUpdated(account)
        case "order":
            other = draw(st.sampled_from(CONTRACTS))
            return OrderUpdated(Order(77, ACCOUNT, other, OrderStatus.OPEN, OrderType.LIMIT, Side.BUY, 1, 90.0))
        case "entry":
            return TradeFilled(Trade(5, ACCOUNT, contract, T0, 100.0, None, 0.0, Side.BUY, 1))
        case "exit":
            pnl = draw(st.floats(min_value=-1_000, max_value=1_000, allow_nan=False))
            return TradeFilled(Trade(6, ACCOUNT, contract, T0, 100.0, round(pnl, 2), 0.0, Side.SELL, 1))
        case _:
            return Resync(account, (held,))
    raise AssertionError(kind)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lock=locks(),
    contract=st.sampled_from(CONTRACTS),
    kind=st.sampled_from(EVENT_KINDS),
    rule_book=st.sampled_from(["none", "default"]),
    data=st.data(),
)
def test_during_any_lock_a_position_in_its_scope_is_always_closed(lock, contract, kind, rule_book, data):
    """Whatever the lock, whatever the event (quotes aside: they show no position), every open position
    in a lock's scope yields a close of it and every working order a cancel (or a flatten covers
    them); outside a symbol lock's scope nothing is closed on its account."""
    d = Desk(no_rules() if rule_book == "none" else EngineSettings())
    can_trade = lock.kind != LockKind.UNTIL_CAN_TRADE
    d.engine.restore(ACCOUNT, locks=[lock])
    if not can_trade:
        d.account(can_trade=False)
    if kind != "position" and kind != "resync":
        d.send(PositionUpdated(Position(ACCOUNT, contract, PositionType.LONG, 1, 100.0, T0)))
    v = d.send(event_for(kind, contract, can_trade, data.draw))
    closes = {x.contract_id for x in v.decisions if x.action == Action.CLOSE_POSITION}
    cancels = {x.contract_id for x in v.decisions if x.action == Action.CANCEL_ORDERS}
    flattened = any(x.action == Action.FLATTEN for x in v.decisions)
    assert lock in d.locks  # nothing here ends it
    assert contract in d.state.positions

    def locked(c: str) -> bool:
        return any(held.covers(symbol_of(c)) for held in d.state.locks)

    for c in d.state.positions:
        if locked(c):
            assert flattened or c in closes, v.decisions
    for order in d.state.orders.values():
        if locked(order.contract_id):
            assert flattened or order.contract_id in cancels, v.decisions
    if lock.covers(symbol_of(contract)):
        assert flattened or contract in closes
    elif rule_book == "none":
        assert contract not in closes and not flattened


# ----- merge ------------------------------------------------------------------------------------


@st.composite
def decisions(draw):
    account = draw(st.sampled_from([1, 2]))
    action = draw(st.sampled_from(list(Action)))
    rule = draw(st.sampled_from(["a_rule", "b_rule", "c_rule"]))
    reason = draw(st.sampled_from(["why", "because"]))
    contract = draw(st.sampled_from([None, MNQ, ES]))
    size = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=4)))
    lock = None
    if action == Action.LOCK:
        kind = draw(st.sampled_from(list(LockKind)))
        until = None
        if kind not in (LockKind.PERMANENT, LockKind.UNTIL_CAN_TRADE) and draw(st.integers(0, 9)) > 0:
            until = T0 + timedelta(minutes=draw(st.integers(min_value=0, max_value=3)))
        since = T0 - timedelta(minutes=draw(st.integers(min_value=0, max_value=2)))
        lock = Lock(account, kind, rule, reason, since, until, draw(st.sampled_from([None, "MNQ"])))
    stop = draw(st.sampled_from([None, 21000.25, 21002.5]))
    order_id = draw(st.sampled_from([None, 7, 8]))
    return Decision(account, action, rule, reason, contract, size, lock, order_id, stop, draw(st.sampled_from([None, 0, 1])))


@settings(max_examples=250, deadline=None)
@given(st.lists(decisions(), max_size=10).flatmap(lambda ds: st.tuples(st.just(ds), st.permutations(ds))))
def test_merge_does_not_depend_on_the_order_of_its_input(pair):
    original, shuffled = pair
    assert merge(list(shuffled)) == merge(list(original))


@settings(max_examples=200, deadline=None)
@given(st.lists(decisions(), max_size=10))
def test_merge_keeps_the_harshest_decision_and_the_longest_lock(ds):
    merged = merge(ds)
    for account in {d.account_id for d in ds}:
        mine = [d for d in merged if d.account_id == account]
        given_here = [d for d in ds if d.account_id == account]
        acts = [d.action for d in mine]
        if Action.FLATTEN in [d.action for d in given_here]:
            assert acts.count(Action.FLATTEN) == 1
            assert not {Action.CLOSE_POSITION, Action.REDUCE_POSITION, Action.CANCEL_ORDERS,
                        Action.PLACE_STOP, Action.MOVE_STOP} & set(acts)
        closed = {d.contract_id for d in mine if d.action == Action.CLOSE_POSITION}
        assert not closed & {d.contract_id for d in mine if d.action == Action.REDUCE_POSITION}
        kept = [d.lock for d in mine if d.action == Action.LOCK]
        assert len({lk.scope for lk in kept}) == len(kept)  # one lock per scope
        for lk in kept:
            rivals = [d.lock for d in given_here if d.action == Action.LOCK and d.lock.scope == lk.scope]
            assert all(lk.outlasts(r) for r in rivals)


# ----- realized P&L ---------------------------------------------------------------------------------


@st.composite
def trade_books(draw):
    """Today's trades (unique ids) and a delivery schedule: each trade arrives at least once, some
    twice or more, in any order, some one by one and some in resync batches."""
    n = draw(st.integers(min_value=0, max_value=12))
    trades = []
    for i in range(n):
        pnl = draw(st.one_of(st.none(), cents))
        fees = draw(fees_cents)
        voided = draw(st.booleans()) if draw(st.integers(0, 4)) == 0 else False
        at = T0 - timedelta(seconds=draw(st.integers(min_value=0, max_value=15 * 3600)))
        trades.append(Trade(100 + i, ACCOUNT, draw(st.sampled_from(CONTRACTS)), at, 100.0,
                            None if pnl is None else float(pnl), float(fees), Side.SELL, 1, voided))
    copies = draw(st.lists(st.sampled_from(trades), max_size=2 * n)) if trades else []
    deliveries = draw(st.permutations(trades + copies))
    batches, i = [], 0
    while i < len(deliveries):
        k = draw(st.integers(min_value=1, max_value=4))
        batches.append((draw(st.booleans()), deliveries[i : i + k]))
        i += k
    return trades, batches


@settings(max_examples=200, deadline=None)
@given(book=trade_books(), include_fees=st.booleans())
def test_realized_pnl_is_closing_pnl_less_every_fills_fees_whatever_the_delivery(book, include_fees):
    trades, batches = book
    d = Desk(replace(no_rules(), include_fees=include_fees))
    for as_resync, batch in batches:
        if as_resync:
            d.resync(trades=batch)
        else:
            for t in batch:
                d.send(TradeFilled(t))
    expected = sum(
        # rules.md "Realized P&L": closing trades' profitAndLoss minus the fees of every fill.
        (Decimal(repr(t.pnl or 0.0)) - (Decimal(repr(t.fees)) if include_fees else 0) for t in trades if not t.voided),
        Decimal(0),
    )
    assert d.state.realized_day == float(expected)
    assert set(d.state.trades_today) == {t.id for t in trades}


# ----- calendar ------------------------------------------------------------------------------------

YEAR_2026 = st.integers(min_value=0, max_value=365 * 24 * 3600 - 1).map(
    lambda s: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=s)
)
#: Moments within three days of either 2026 DST change, where the bugs would be.
NEAR_DST = st.sampled_from([datetime(2026, 3, 8, 8, 0, tzinfo=UTC), datetime(2026, 11, 1, 7, 0, tzinfo=UTC)]).flatmap(
    lambda c: st.integers(min_value=-3 * 86400, max_value=3 * 86400).map(lambda s: c + timedelta(seconds=s))
)
MOMENTS = st.one_of(YEAR_2026, NEAR_DST)


@settings(max_examples=400, deadline=None)
@given(now=MOMENTS)
def test_every_moment_lies_in_exactly_one_trading_day_starting_at_17_00_chicago(now):
    cal = TradingCalendar()
    start, reset = cal.day_start(now), cal.next_reset(now)
    assert start <= now < reset
    assert start.astimezone(CT).time() == time(17, 0) and reset.astimezone(CT).time() == time(17, 0)
    assert (reset.astimezone(CT).date() - start.astimezone(CT).date()).days == 1
    assert reset - start in (timedelta(hours=23), timedelta(hours=24), timedelta(hours=25))
    assert cal.trading_date(now) == reset.astimezone(CT).date()
    week = cal.week_start(now)
    assert week <= start and week.astimezone(CT).weekday() == 6 and week.astimezone(CT).time() == time(17, 0)
    assert now < cal.next_week_reset(now) <= week + timedelta(days=7, hours=1)


def reference_is_open(now: datetime, holidays: set[date], early: dict[date, time]) -> bool:
    """The default Topstep window in wall-clock terms: from 17:00 on Sun-Thu to 15:10 the next day,
    minus sessions ending on a holiday, with early closes on their end date."""
    local = now.astimezone(CT)
    start_day = local.date() if local.time() >= time(17, 0) else local.date() - timedelta(days=1)
    end_day = start_day + timedelta(days=1)
    if start_day.weekday() not in (6, 0, 1, 2, 3) or end_day in holidays:
        return False
    if local.time() >= time(17, 0):
        return True  # the evening the session starts
    return local.time() < min(time(15, 10), early.get(end_day, time(15, 10)))


@settings(max_examples=400, deadline=None)
@given(now=MOMENTS)
def test_the_default_session_matches_its_wall_clock_definition_across_dst(now):
    holidays = {date(2026, 1, 1), date(2026, 12, 25)}
    early = {date(2026, 11, 27): time(12, 0), date(2026, 12, 24): time(12, 0)}
    cal = SessionCalendar((Window().to_window(),), frozenset(holidays), early)
    assert cal.is_open(now) == reference_is_open(now, holidays, early)
    nxt = cal.next_open(now)
    assert nxt is not None and nxt >= now and cal.is_open(nxt)
    if nxt > now:
        assert not cal.is_open(nxt - timedelta(seconds=1))
        assert nxt.astimezone(CT).time() == time(17, 0)
