"""Money rules: 003 daily loss, 004 open loss, 005 take profit, 013 daily profit, 014 trailing
drawdown, 015 weekly loss. Under, at and over each limit; warnings; fees; stale quotes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from engine_harness import (
    ACCOUNT,
    CL,
    MES,
    MNQ,
    SELL,
    SHORT,
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
from deskguard.engine.models import ContractSpec
from deskguard.engine.state import AccountStatus

WARN, CLOSE, FLATTEN, LOCK = Action.WARN, Action.CLOSE_POSITION, Action.FLATTEN, Action.LOCK
K3, K4, K5 = "daily_realized_loss", "daily_unrealized_loss", "max_unrealized_profit"
K13, K14, K15 = "daily_realized_profit", "trailing_drawdown", "weekly_realized_loss"


def assert_flatten_and_lock(v, rule, kind, until):
    assert brief(v.decisions) == [(FLATTEN, rule, None, None), (LOCK, rule, None, None)]
    lock = lock_of(v.decisions)
    assert (lock.kind, lock.rule, lock.until, lock.symbol, lock.account_id) == (kind, rule, until, None, ACCOUNT)
    assert lock.scope == "account"
    assert v.new_locks == [lock]


# ----- 003 daily_realized_loss -------------------------------------------------------------------


def test_daily_loss_under_the_warning_level_is_quiet(desk_with):
    d = desk_with(K3)
    assert d.loss(399.99).decisions == []
    assert d.state.realized_day == pytest.approx(-399.99)
    assert d.state.status == AccountStatus.OK


def test_daily_loss_warns_once_at_warn_at_and_rearms_after_recovering(desk_with):
    d = desk_with(K3)
    assert brief(d.loss(400).decisions) == [(WARN, K3, None, None)]  # 80 % of 500
    assert d.state.status == AccountStatus.WARNING
    assert d.loss(10).decisions == []  # still past the level: no second warning
    assert d.fill(MNQ, 100.0).decisions == []  # back to -310: re-armed
    assert d.state.status == AccountStatus.OK
    assert brief(d.loss(100).decisions) == [(WARN, K3, None, None)]  # -410: warns again


def test_landing_exactly_on_the_daily_loss_limit_flattens_and_locks_until_the_reset(desk_with):
    d = desk_with(K3)
    v = d.loss(498.52, fees=1.48)  # net -500.00
    assert_flatten_and_lock(v, K3, LockKind.UNTIL_RESET, T0_RESET)
    assert lock_of(v.decisions).since == T0
    assert d.state.status == AccountStatus.LOCKED


def test_a_loss_of_exactly_the_limit_in_cents_is_a_breach(desk_with):
    """Money is counted in cents: 100.10 + 200.20 + 199.70 is a $500.00 loss, not $499.99999999999994."""
    d = desk_with(K3)
    d.loss(100.10)
    d.loss(200.20)
    v = d.loss(199.70)
    assert d.state.realized_day == -500.0
    assert_flatten_and_lock(v, K3, LockKind.UNTIL_RESET, T0_RESET)


def test_over_the_daily_loss_limit_flattens_and_locks(desk_with):
    d = desk_with(K3)
    d.loss(300)
    v = d.loss(250)
    assert_flatten_and_lock(v, K3, LockKind.UNTIL_RESET, T0_RESET)


def test_one_cent_short_of_the_limit_only_warns(desk_with):
    d = desk_with(K3)
    v = d.loss(498.51, fees=1.48)  # net -499.99
    assert brief(v.decisions) == [(WARN, K3, None, None)]


def test_opening_half_turns_count_their_fees(desk_with):
    """The gateway charges fees on every fill (rules.md "Realized P&L"): an opening trade
    (profitAndLoss null) adds no P&L but its fees count."""
    d = desk_with(K3)
    for _ in range(5):
        assert d.entry(fees=1.48).decisions == []
    assert d.state.realized_day == pytest.approx(-7.40)
    d.loss(399.0, fees=1.48)
    assert d.state.realized_day == pytest.approx(-407.88)


def test_opening_fees_alone_decide_a_breach(desk_with):
    """Closing trades alone stay just under the limit; the opening fills' fees take the day over it."""
    d = desk_with(K3, daily_realized_loss={"max_loss": 500.0})
    d.entry(fees=2.0)
    v = d.loss(497.0, fees=2.0)  # closing trades alone: -499.00
    assert d.state.realized_day == pytest.approx(-501.0)
    assert any(x.action.value == "flatten" for x in v.decisions)
    assert "(net of fees)" in lock_of(v.decisions).reason  # the audit log says how fees counted


def test_voided_trades_are_not_counted(desk_with):
    d = desk_with(K3)
    assert d.loss(600, voided=True).decisions == []
    assert d.state.realized_day == 0.0
    assert d.state.locks == []


def test_a_trade_voided_after_it_was_counted_stops_counting(desk_with):
    """The broker's word wins: a later copy of the same trade id marked voided takes it out of the day."""
    d = desk_with(K3)
    counted = d.trade(MNQ, -300.0, fees=1.0, side=SELL)
    d.send(TradeFilled(counted))
    assert d.state.realized_day == -301.0
    d.send(TradeFilled(replace(counted, voided=True)))
    assert d.state.realized_day == 0.0
    assert d.loss(250).decisions == []  # -250: not even a warning, the voided loss is gone


def test_fees_count_by_default(desk_with):
    d = desk_with(K3)
    v = d.loss(499.0, fees=2.0)  # -501 with fees
    assert_flatten_and_lock(v, K3, LockKind.UNTIL_RESET, T0_RESET)


def test_fees_can_be_excluded(desk_with):
    d = desk_with(K3, include_fees=False)
    v = d.loss(499.0, fees=2.0)  # -499 without fees
    assert brief(v.decisions) == [(WARN, K3, None, None)]
    assert d.state.realized_day == -499.0


def test_count_open_pnl_breaches_on_realized_plus_unrealized(desk_with):
    d = desk_with(K3, daily_realized_loss={"count_open_pnl": True})
    d.loss(300)
    d.open(MNQ, 2, 21000.0)
    assert brief(d.quote(MNQ, 20960.0).decisions) == [(WARN, K3, None, None)]  # -300 - 160 = -460
    v = d.quote(MNQ, 20950.0)  # -300 - 200 = -500
    assert_flatten_and_lock(v, K3, LockKind.UNTIL_RESET, T0_RESET)


def test_open_pnl_is_ignored_by_default(desk_with):
    d = desk_with(K3)
    d.loss(300)
    d.open(MNQ, 2, 21000.0)
    assert d.quote(MNQ, 20000.0).decisions == []


def test_count_open_pnl_keeps_a_quiet_contract_at_its_last_price(desk_with):
    """rules.md: account-level figures keep counting a stale position at its last known price, so
    one quiet contract never hides a fresh loss on another."""
    d = desk_with(K3, daily_realized_loss={"count_open_pnl": True, "warn_at": 1.0})
    d.loss(300)
    d.open(MNQ, 2, 21000.0)
    assert d.quote(MNQ, 20975.0, age=10).decisions == []  # stale: -100 at its last price; day -400
    d.open(MES, 1, 6000.0)
    v = d.quote(MES, 5970.0)  # fresh -150: day -300 - 100 - 150 = -550
    assert_flatten_and_lock(v, K3, LockKind.UNTIL_RESET, T0_RESET)


def test_pnl_tracking_goes_on_during_the_lock(desk_with):
    d = desk_with(K3)
    d.loss(500)
    d.fill(MNQ, 120.0)
    d.loss(20)
    assert d.state.realized_day == -400.0
    assert [lock.rule for lock in d.locks] == [K3]  # the lock stays: a recovery does not lift it


# ----- 004 daily_unrealized_loss ---------------------------------------------------------------
# MNQ: tick 0.25 worth $0.50, so one point is $2 per contract: 2 contracts lose $300 over 75 points.


def test_open_loss_under_warning_at_and_over_the_limit(desk_with):
    d = desk_with(K4)
    d.open(MNQ, 2, 21000.0)
    assert d.quote(MNQ, 20940.25).decisions == []  # -239
    assert brief(d.quote(MNQ, 20940.0).decisions) == [(WARN, K4, MNQ, None)]  # -240: 80 % of 300
    assert d.quote(MNQ, 20925.25).decisions == []  # -299: already warned
    v = d.quote(MNQ, 20925.0)  # -300: at the limit
    assert brief(v.decisions) == [(CLOSE, K4, MNQ, None)]
    assert v.new_locks == [] and d.locks == []
    assert brief(d.quote(MNQ, 20900.0).decisions) == [(CLOSE, K4, MNQ, None)]  # over: still closing


def test_open_loss_on_a_short_position(desk_with):
    d = desk_with(K4)
    d.open(MNQ, 2, 21000.0, SHORT)
    assert d.quote(MNQ, 21074.75).decisions[0].action == WARN
    assert brief(d.quote(MNQ, 21075.0).decisions) == [(CLOSE, K4, MNQ, None)]


def test_only_the_losing_position_is_closed(desk_with):
    d = desk_with(K4)
    d.open(MNQ, 2, 21000.0)
    d.open(MES, 1, 6000.0)
    d.quote(MES, 6001.0)
    assert brief(d.quote(MNQ, 20900.0).decisions) == [(CLOSE, K4, MNQ, None)]


def test_a_position_opened_into_an_existing_loss_is_closed_on_the_position_event(desk_with):
    d = desk_with(K4)
    d.quote(MNQ, 20925.0)
    v = d.open(MNQ, 2, 21000.0)
    assert brief(v.decisions) == [(CLOSE, K4, MNQ, None)]


def test_a_stale_quote_never_triggers_the_open_loss_stop(desk_with):
    """Older than stale_quote_seconds (5) is stale; a quote exactly 5 s old still counts."""
    d = desk_with(K4)
    d.open(MNQ, 2, 21000.0)
    assert d.quote(MNQ, 20000.0, age=5.5).decisions == []
    assert d.quote(MNQ, 20000.0, age=60).decisions == []
    assert brief(d.quote(MNQ, 20000.0, age=5).decisions) == [(CLOSE, K4, MNQ, None)]


def test_a_quote_that_went_stale_does_not_trigger_on_a_later_position_event(desk_with):
    d = desk_with(K4)
    d.quote(MNQ, 20000.0)
    d.advance(seconds=30)
    assert d.open(MNQ, 2, 21000.0).decisions == []


def test_the_bid_ask_midpoint_is_used_without_a_last_price(desk_with):
    d = desk_with(K4)
    d.open(MNQ, 2, 21000.0)
    assert brief(d.quote(MNQ, bid=20924.75, ask=20925.25).decisions) == [(CLOSE, K4, MNQ, None)]


def test_open_loss_at_the_limit_on_a_cent_ticked_contract(desk_with):
    """CL: 30 ticks of 0.01 at $10 is exactly $300, even though (69.70 - 70.00) / 0.01 is not 30.0 in floats."""
    d = desk_with(K4)
    d.open(CL, 1, 70.00)
    assert brief(d.quote(CL, 69.70).decisions) == [(CLOSE, K4, CL, None)]


def test_the_brokers_tick_metadata_wins_over_the_built_in_table(desk_with):
    d = desk_with(K4)
    d.engine.add_contract_spec(ContractSpec(MNQ, 0.25, 1.00))  # as if MNQ ticks were worth $1
    d.open(MNQ, 2, 21000.0)
    assert brief(d.quote(MNQ, 20962.5).decisions) == [(CLOSE, K4, MNQ, None)]


def test_an_open_loss_warning_clears_when_the_position_closes(desk_with):
    """The amber state belongs to the position: once it is closed the account is back to OK, and a new
    position that falls past the level warns again."""
    d = desk_with(K4)
    d.open(MNQ, 2, 21000.0)
    d.quote(MNQ, 20940.0)
    assert d.state.status == AccountStatus.WARNING
    d.flat(MNQ)
    assert d.state.status == AccountStatus.OK
    d.advance(seconds=60)
    d.open(MNQ, 2, 21000.0)
    assert brief(d.quote(MNQ, 20940.0).decisions) == [(WARN, K4, MNQ, None)]


# ----- 005 max_unrealized_profit -------------------------------------------------------------------


def test_take_profit_under_at_and_over_the_target(desk_with):
    d = desk_with(K5)
    d.open(MNQ, 2, 21000.0)
    assert d.quote(MNQ, 21199.75).decisions == []  # +799.50, under the warning
    assert brief(d.quote(MNQ, 21249.75).decisions) == [(WARN, K5, MNQ, None)]  # +999: warn_at 0.8
    assert d.quote(MNQ, 21249.5).decisions == []  # warned once
    v = d.quote(MNQ, 21250.0)  # +1000
    assert brief(v.decisions) == [(CLOSE, K5, MNQ, None)]
    assert v.new_locks == []
    assert brief(d.quote(MNQ, 21300.0).decisions) == [(CLOSE, K5, MNQ, None)]


def test_take_profit_on_a_short_and_never_on_a_stale_quote(desk_with):
    d = desk_with(K5)
    d.open(MNQ, 2, 21000.0, SHORT)
    assert d.quote(MNQ, 20700.0, age=10).decisions == []
    assert brief(d.quote(MNQ, 20750.0).decisions) == [(CLOSE, K5, MNQ, None)]


def test_take_profit_is_off_by_default(desk):
    desk.open(MNQ, 2, 21000.0)
    assert desk.quote(MNQ, 21500.0).decisions == []


# ----- 013 daily_realized_profit -------------------------------------------------------------------


def test_daily_profit_under_warning_at_and_reaching_the_target(desk_with):
    d = desk_with(K13)
    assert d.fill(MNQ, 799.99).decisions == []
    assert brief(d.fill(MNQ, 0.01).decisions) == [(WARN, K13, None, None)]  # 800: 80 % of 1000
    assert d.fill(MNQ, 199.99).decisions == []
    v = d.fill(MNQ, 0.01)  # 1000.00
    assert_flatten_and_lock(v, K13, LockKind.UNTIL_RESET, T0_RESET)


def test_daily_profit_counts_net_of_fees(desk_with):
    d = desk_with(K13)
    assert brief(d.fill(MNQ, 1001.0, fees=2.0).decisions) == [(WARN, K13, None, None)]  # 999 net
    d2 = desk_with(K13, include_fees=False)
    assert brief(d2.fill(MNQ, 1001.0, fees=2.0).decisions)[0][0] == FLATTEN


# ----- 014 trailing_drawdown -------------------------------------------------------------------
# $50K account, max drawdown 2,000, buffer 200: the floor is 48,000 and the rule stops at 48,200.


def test_drawdown_under_warning_at_and_reaching_floor_plus_buffer(desk_with):
    d = desk_with(K14)
    assert d.account(48_600.0).decisions == []  # used 1,400 of 1,800
    assert brief(d.account(48_560.0).decisions) == [(WARN, K14, None, None)]  # 80 % of 1,800
    assert d.account(48_200.01).decisions == []
    v = d.account(48_200.0)
    assert_flatten_and_lock(v, K14, LockKind.UNTIL_RESET, T0_RESET)


def test_drawdown_counts_a_stale_position_at_its_last_price(desk_with):
    d = desk_with(K14, trailing_drawdown={"warn_at": 1.0})
    d.account(48_500.0)
    d.open(MNQ, 2, 21000.0)
    assert d.quote(MNQ, 20950.0, age=10).decisions == []  # stale, at its last price: 48,400
    d.open(MES, 1, 6000.0)
    v = d.quote(MES, 5960.0)  # fresh -200: 48,500 - 100 - 200 = 48,200, the floor + buffer
    assert_flatten_and_lock(v, K14, LockKind.UNTIL_RESET, T0_RESET)


def test_end_of_day_mode_ignores_intraday_equity_peaks(desk_with):
    d = desk_with(K14)
    d.open(MNQ, 2, 21000.0)
    d.quote(MNQ, 21500.0)  # equity 52,000 for a moment
    assert d.state.high_water_mark == 50_000.0
    assert d.quote(MNQ, 20650.0).decisions == []  # 48,600: the floor is still 48,000


def test_end_of_day_mode_raises_the_mark_to_the_closing_balance_at_the_reset(desk_with):
    d = desk_with(K14)
    d.account(51_000.0)
    assert d.account(49_200.0).decisions == []  # the floor is still 48,000 today
    assert d.state.high_water_mark == 50_000.0
    d.account(51_000.0)  # the day closes at 51,000
    d.tick_at(T0_RESET + timedelta(minutes=1))
    assert d.state.high_water_mark == 51_000.0  # floor 49,000 from now on
    v = d.account(49_200.0)
    assert_flatten_and_lock(v, K14, LockKind.UNTIL_RESET, ct(2026, 11, 25, 17))


def test_intraday_mode_trails_the_highest_equity_seen(desk_with):
    d = desk_with(K14, trailing_drawdown={"mode": "intraday"})
    d.open(MNQ, 2, 21000.0)
    d.quote(MNQ, 21250.0)  # equity 51,000: floor 49,000, stop at 49,200
    assert d.state.high_water_mark == 51_000.0
    assert d.quote(MNQ, 20900.0).decisions == []  # 49,600: used 1,400 of 1,800
    v = d.quote(MNQ, 20600.0)  # 48,400 <= 49,200
    assert_flatten_and_lock(v, K14, LockKind.UNTIL_RESET, T0_RESET)


@pytest.mark.parametrize("mode", ["end_of_day", "intraday"])
def test_the_floor_stops_rising_at_stop_trailing_at(desk_with, mode):
    d = desk_with(
        K14, balance=None,
        trailing_drawdown={"mode": mode, "high_water_mark": 53_000.0, "stop_trailing_at": 50_000.0},
    )
    # Uncapped the floor would be 51,000; capped it stays at the starting balance, 50,000.
    assert brief(d.account(50_200.01).decisions) == [(WARN, K14, None, None)]
    if mode == "intraday":
        d.account(55_000.0)  # a new high: the floor would be 53,000, still capped at 50,000
        assert d.state.high_water_mark == 55_000.0
    v = d.account(50_200.0)
    assert_flatten_and_lock(v, K14, LockKind.UNTIL_RESET, T0_RESET)


def test_the_high_water_mark_seed_comes_from_the_config(desk_with):
    d = desk_with(K14, balance=None, trailing_drawdown={"high_water_mark": 51_000.0})
    assert brief(d.account(49_500.0).decisions) == [(WARN, K14, None, None)]  # floor 49,000
    assert d.state.high_water_mark == 51_000.0
    v = d.account(49_200.0)
    assert_flatten_and_lock(v, K14, LockKind.UNTIL_RESET, T0_RESET)


def test_a_zero_seed_starts_from_the_first_balance_seen(desk_with):
    d = desk_with(K14, balance=None)
    assert d.account(49_000.0).decisions == []
    assert d.state.high_water_mark == 49_000.0  # floor 47,000
    assert d.account(47_201.0).decisions[0].action == WARN
    assert brief(d.account(47_200.0).decisions)[0][0] == FLATTEN


def test_a_persisted_high_water_mark_is_restored(desk_with):
    d = desk_with(K14, balance=None)
    d.engine.restore(ACCOUNT, high_water_mark=51_500.0)
    v = d.account(49_700.0)  # floor 49,500, stop at 49,700
    assert_flatten_and_lock(v, K14, LockKind.UNTIL_RESET, T0_RESET)


# ----- 015 weekly_realized_loss -------------------------------------------------------------------


def test_weekly_loss_counts_the_closed_days_of_the_week(desk_with):
    d = desk_with(K15)
    d.engine.restore(ACCOUNT, realized_week_before_today=-1_200.0)
    assert d.state.realized_week == -1_200.0
    assert brief(d.loss(299.99).decisions) == [(WARN, K15, None, None)]  # -1,499.99
    v = d.loss(0.01)  # -1,500.00: exactly the limit
    assert_flatten_and_lock(v, K15, LockKind.UNTIL_RESET, T0_WEEK_RESET)


def test_weekly_loss_under_the_warning_level(desk_with):
    d = desk_with(K15)
    d.engine.restore(ACCOUNT, realized_week_before_today=-1_000.0)
    assert d.loss(199.99).decisions == []


def test_the_weekly_lock_outlasts_daily_resets_and_ends_at_the_sunday_reset(desk_with):
    d = desk_with(K15)
    d.loss(1_600.0)
    d.tick_at(T0_RESET + timedelta(seconds=1))
    assert [lock.rule for lock in d.locks] == [K15]
    d.tick_at(ct(2026, 11, 29, 16, 59))
    assert [lock.rule for lock in d.locks] == [K15]
    v = d.tick_at(T0_WEEK_RESET)
    assert [lock.rule for lock in v.ended_locks] == [K15]
    assert d.locks == [] and d.state.realized_week == 0.0


def test_the_weeks_earlier_days_come_from_the_brokers_trades(desk_with):
    """rules.md: on connect the week's trades are fetched, so weekly figures include days on which
    the app did not run (issue 11 item 6). Monday's losses, never seen live, count on Tuesday."""
    from deskguard.engine.events import Resync
    from deskguard.engine.models import Account

    d = desk_with("weekly_realized_loss", weekly_realized_loss={"max_loss": 1000.0})
    monday = T0 - timedelta(days=1)
    week_start = d.engine.calendar.week_start(T0)
    earlier = [d.trade(MNQ, None, fees=1.0, at=monday), d.trade(MNQ, -700.0, fees=1.0, side=1, at=monday)]
    today = [d.trade(MNQ, None, fees=1.0), d.trade(MNQ, -250.0, fees=1.0, side=1)]
    account = Account(1001, "50KTC-V2-123456-789", 49_000.0, True)
    v = d.send(Resync(account, (), (), tuple(earlier + today), trades_since=week_start))
    assert d.state.realized_week_before_today == pytest.approx(-702.0)
    assert d.state.realized_day == pytest.approx(-252.0)
    assert [x.action for x in v.decisions] == [Action.WARN]  # -954: past the warning, not the limit
    v = d.loss(45.0, fees=1.0)  # -1,000
    assert_flatten_and_lock(v, "weekly_realized_loss", LockKind.UNTIL_RESET, T0_WEEK_RESET)
