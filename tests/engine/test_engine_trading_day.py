"""The trading day in the engine: resets applied at once after a clock jump, the weekly total,
duplicate trades, and a resync after a gap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from engine_harness import (
    ACCOUNT,
    MES,
    MNQ,
    T0,
    T0_RESET,
    T0_WEEK_RESET,
    Action,
    LockKind,
    brief,
    ct,
    lock_of,
)

from deskguard.engine.events import TradeFilled

FLATTEN, LOCK, WARN = Action.FLATTEN, Action.LOCK, Action.WARN
K3, K7, K15 = "daily_realized_loss", "cooldown_after_loss", "weekly_realized_loss"


def test_a_clock_that_jumps_over_the_reset_starts_a_new_day_at_once(desk_with):
    """A PC that slept from Tuesday morning to Wednesday morning: the first event after waking rolls
    the day, ends the until_reset lock, zeroes the day's P&L and keeps the week's."""
    d = desk_with(K3, K15)
    v = d.loss(500)
    lock = lock_of(v.decisions)
    assert lock.until == T0_RESET
    v = d.tick_at(ct(2026, 11, 25, 9, 0))
    assert v.day_rolled
    assert v.ended_locks == [lock]
    assert d.locks == []
    assert d.state.realized_day == 0.0
    assert d.state.realized_week == -500.0
    assert d.state.day_start == ct(2026, 11, 24, 17, 0)
    assert d.state.next_reset == ct(2026, 11, 25, 17, 0)
    assert d.open(MNQ, 1, 21000.0).decisions == []


def test_any_event_after_the_jump_rolls_the_day_first(desk_with):
    d = desk_with(K3)
    d.loss(450)
    d.clock.set(ct(2026, 11, 25, 9, 0))
    v = d.loss(100)  # a fresh day: -100 only
    assert v.day_rolled
    assert v.decisions == []
    assert d.state.realized_day == -100.0


def test_the_reset_instant_belongs_to_the_new_day(desk_with):
    d = desk_with(K3)
    d.clock.set(T0_RESET - timedelta(seconds=1))
    d.loss(300)
    d.clock.set(T0_RESET)
    d.loss(300)
    assert d.state.realized_day == -300.0


def test_a_late_copy_of_yesterdays_trade_does_not_count_today(desk_with):
    d = desk_with(K3)
    d.clock.set(T0_RESET + timedelta(minutes=5))
    v = d.loss(450, at=T0_RESET - timedelta(minutes=5))
    assert v.decisions == []
    assert d.state.realized_day == 0.0


def test_the_week_carries_over_days_and_resets_on_sunday(desk_with):
    d = desk_with(K15)
    d.loss(700)  # Tuesday
    d.tick_at(ct(2026, 11, 26, 10, 0))  # Thursday (the PC slept through Wednesday)
    assert d.state.realized_week == -700.0
    assert brief(d.loss(500).decisions) == [(WARN, K15, None, None)]  # -1,200: 80 % of 1,500
    d.tick_at(ct(2026, 11, 27, 9, 0))  # Friday
    assert d.state.realized_day == 0.0 and d.state.realized_week == -1_200.0
    d.tick_at(ct(2026, 11, 28, 12, 0))  # Saturday
    d.tick_at(ct(2026, 11, 29, 16, 59))  # Sunday afternoon: still last week
    assert d.state.realized_week == -1_200.0
    d.tick_at(T0_WEEK_RESET)
    assert d.state.realized_week == 0.0
    assert d.state.week_start == T0_WEEK_RESET
    assert d.loss(300).decisions == []


def test_a_jump_over_the_weekend_starts_a_new_week(desk_with):
    d = desk_with(K15)
    d.loss(1_000)
    d.tick_at(ct(2026, 11, 30, 9, 0))  # next Monday
    assert d.state.realized_week == 0.0


def test_the_weekly_lock_ends_at_the_weekly_reset_across_the_fall_back(desk_with):
    d = desk_with(K15, start=datetime(2026, 10, 27, 15, 0, tzinfo=UTC))  # Tuesday 27 Oct, CDT
    v = d.loss(1_500)
    assert lock_of(v.decisions).until == datetime(2026, 11, 1, 23, 0, tzinfo=UTC)  # Sun 17:00 CST
    d.tick_at(datetime(2026, 11, 1, 22, 0, tzinfo=UTC))  # 16:00 CST: one hour to go
    assert len(d.locks) == 1
    d.tick_at(datetime(2026, 11, 1, 23, 0, tzinfo=UTC))
    assert d.locks == []


@pytest.mark.parametrize(
    "start, reset_utc",
    [
        (datetime(2026, 3, 8, 20, 0, tzinfo=UTC), datetime(2026, 3, 8, 22, 0, tzinfo=UTC)),  # Sunday, 15:00 CDT
        (datetime(2026, 11, 1, 20, 0, tzinfo=UTC), datetime(2026, 11, 1, 23, 0, tzinfo=UTC)),  # Sunday, 14:00 CST
    ],
)
def test_an_until_reset_lock_on_a_dst_sunday_ends_at_17_00_local(desk_with, start, reset_utc):
    d = desk_with(K3, start=start)
    assert lock_of(d.loss(600).decisions).until == reset_utc
    d.tick_at(reset_utc - timedelta(seconds=1))
    assert len(d.locks) == 1
    v = d.tick_at(reset_utc)
    assert v.day_rolled and d.locks == []


def test_duplicate_trade_ids_count_once_and_are_evaluated_once(desk_with):
    d = desk_with(K3, K7)
    trade = d.trade(MNQ, -150.0, fees=1.0)
    v = d.send(TradeFilled(trade))
    assert brief(v.decisions) == [(FLATTEN, K7, None, None), (LOCK, K7, None, None)]
    d.tick(minutes=6)  # the 5-minute cooldown is over
    assert d.send(TradeFilled(trade)).decisions == []
    assert d.send(TradeFilled(trade)).decisions == []
    assert d.state.realized_day == -151.0
    assert d.locks == []


def test_a_resync_after_a_gap_counts_the_missed_trades_once_and_evaluates_them(desk_with):
    """The missed $250 loser is evaluated when the resync brings it; its cooldown runs from the
    fill's own time (rules.md: trades the app did not see live are judged at their own time), and
    what is left of it is enforced."""
    d = desk_with(K3, K7)
    seen = [d.trade(MNQ, None), d.trade(MNQ, -50.0, side=1)]
    for t in seen:
        d.send(TradeFilled(t))
    assert d.state.realized_day == -50.0
    d.advance(minutes=10)  # the connection drops; these happen meanwhile
    missed = [
        d.trade(MES, None, at=d.now - timedelta(minutes=8)),
        d.trade(MES, -248.52, fees=1.48, side=1, at=d.now - timedelta(minutes=7)),
    ]
    v = d.resync(trades=list(reversed(seen + missed)))  # Trade/search since the day's start
    assert d.state.realized_day == -300.0
    assert brief(v.decisions) == [(FLATTEN, K7, None, None), (LOCK, K7, None, None)]
    lock = lock_of(v.decisions)
    assert (lock.kind, lock.until) == (LockKind.COOLDOWN, d.now - timedelta(minutes=7) + timedelta(minutes=15))  # the 250 tier
    # A second resync with the same trades changes nothing.
    d.tick(minutes=20)
    assert d.resync(trades=seen + missed).decisions == []
    assert d.state.realized_day == -300.0


def test_trades_seen_before_a_restart_count_but_are_not_evaluated_again(desk_with):
    d = desk_with(K3, K7, balance=None)
    old = d.trade(MNQ, -420.0, id=42)
    d.engine.restore(ACCOUNT, seen_trade_ids=[42])
    v = d.resync(trades=[old])
    assert d.state.realized_day == -420.0
    assert brief(v.decisions) == [(WARN, K3, None, None)]  # the day's figure is right; no new cooldown


def test_a_resync_replaces_positions_and_orders(desk_with):
    d = desk_with(K3)
    d.open(MNQ, 1, 21000.0)
    d.order(MNQ, stop_price=20990.0)
    d.resync(positions=[d.position(MES, 2, 6000.0)])
    assert list(d.state.positions) == [MES]
    assert d.state.orders == {}


def test_the_first_event_of_a_new_account_starts_its_day(desk_with):
    d = desk_with(K3, balance=None, start=T0)
    assert d.state.day_start == ct(2026, 11, 23, 17, 0)
    assert d.state.week_start == ct(2026, 11, 22, 17, 0)
    assert d.state.next_reset == T0_RESET
    assert T0 < T0_RESET
