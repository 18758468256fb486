"""The replay's semantics on hand-computed days (README "Rules lab (replay)")."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from replay_cases import MES, MNQ, T0, Tape, only

from deskguard.engine.models import Side
from deskguard.engine.rules.cooldown_after_loss import Tier
from deskguard.engine.rules.trade_management import Trailing
from deskguard.replay import Bar, ReplayCancelled, replay, trades_from_payload


def test_third_trade_breaches_003_and_later_round_trips_are_removed() -> None:
    tape = Tape()
    tape.round_trip(T0, -200)  # net -202
    tape.round_trip(T0 + timedelta(minutes=10), -150)  # net -152, day -354
    tape.round_trip(T0 + timedelta(minutes=20), -160)  # net -162, day -516: breach at 09:21
    tape.round_trip(T0 + timedelta(minutes=30), 300)  # blocked
    tape.round_trip(T0 + timedelta(minutes=40), 100)  # blocked
    result = replay(tape.trades, only("daily_realized_loss"))
    [day] = result.days
    assert day.day == date(2026, 11, 24)
    assert day.actual == -202 - 152 - 162 + 298 + 98
    assert day.guarded == -202 - 152 - 162  # the first three trades'
    assert day.blocked == 4
    assert day.first_lock_rule == "daily_realized_loss"
    assert day.first_lock_at == T0 + timedelta(minutes=21)
    assert result.rule_days() == {"daily_realized_loss": 1}


def test_007_cooldown_blocks_one_reentry_and_allows_the_next_after_it_ends() -> None:
    tape = Tape()
    tape.round_trip(T0, -150)  # closes 09:01, net -152: cooldown 5m, until 09:06
    tape.round_trip(T0 + timedelta(minutes=3), 50)  # opens 09:03: blocked with its close
    tape.round_trip(T0 + timedelta(minutes=7), 80)  # opens 09:07: the cooldown is over
    settings = only(cooldown_after_loss={"tiers": (Tier(100.0, timedelta(minutes=5)),)})
    [day] = replay(tape.trades, settings).days
    assert day.actual == -152 + 48 + 78
    assert day.guarded == -152 + 78
    assert day.blocked == 2
    assert (day.first_lock_rule, day.first_lock_at) == ("cooldown_after_loss", T0 + timedelta(minutes=1))


def test_006_counts_entries_per_trading_day() -> None:
    tape = Tape()
    settings = only(trade_frequency={"per_minute": 10, "per_hour": 10, "per_day": 2})
    for n in range(4):  # Tuesday: the 3rd entry breaches; its position is closed at the next fill
        tape.round_trip(T0 + timedelta(minutes=10 * n), 20, minutes=2)
    wednesday = T0 + timedelta(days=1)
    for n in range(2):  # Wednesday: two entries, a new count
        tape.round_trip(wednesday + timedelta(minutes=10 * n), 20, minutes=2)
    result = replay(tape.trades, settings)
    tue, wed = result.days
    assert (tue.day, wed.day) == (date(2026, 11, 24), date(2026, 11, 25))
    # Entry #3 (09:20) is closed at once, valued at the next MNQ fill: the trader's own exit at
    # 21010, so it earns what the trade earned; entry #4 falls in the lock (until the reset): blocked.
    assert tue.actual == 4 * 18
    assert tue.guarded == 3 * 18
    assert tue.blocked == 2
    assert tue.first_lock_rule == "trade_frequency" and tue.first_lock_at == T0 + timedelta(minutes=20)
    assert (wed.actual, wed.guarded, wed.blocked, wed.first_lock_rule) == (36, 36, 0, None)
    assert result.rule_days() == {"trade_frequency": 1}


def test_a_position_open_at_a_lock_is_valued_at_the_next_fill() -> None:
    tape = Tape()
    tape.fill(T0, Side.BUY, price=21_000.0)  # MNQ long 1, fee 1
    tape.fill(T0 + timedelta(minutes=1), Side.BUY, price=6_000.0, contract=MES)  # fee 1
    tape.fill(T0 + timedelta(minutes=2), Side.SELL, price=5_880.0, pnl=-600.0, contract=MES)  # net -601: breach
    tape.fill(T0 + timedelta(minutes=5), Side.BUY, price=21_010.0)  # an add, after the lock: blocked
    tape.fill(T0 + timedelta(minutes=10), Side.SELL, size=2, price=21_050.0, pnl=180.0, fees=2.0)
    [day] = replay(tape.trades, only("daily_realized_loss")).days
    assert day.actual == -1 - 1 - 601 - 1 + 178
    # The flatten at 09:02 closes MNQ at the next MNQ fill's price (21010): 10 points = +20, fee 1.
    assert day.guarded == -1 - 1 - 601 + 20 - 1
    assert day.blocked == 1


def test_quote_rules_are_skipped_without_bars_and_said_so() -> None:
    tape = Tape()
    tape.round_trip(T0, 10)
    result = replay(tape.trades, only("daily_unrealized_loss", "daily_realized_loss"))
    assert any("004 daily_unrealized_loss skipped" in n and "--bars" in n for n in result.notes)
    assert not any("003" in n for n in result.notes)


def test_from_to_are_inclusive_trading_days_labelled_by_their_end() -> None:
    tape = Tape()
    sunday_evening = T0.replace(day=22, hour=18)  # Sunday 18:00 CT: Monday's trading day
    tape.round_trip(sunday_evening, 10)
    tape.round_trip(T0, 20)  # Tuesday
    tape.round_trip(T0 + timedelta(days=1), 30)  # Wednesday
    result = replay(tape.trades, only(), days=(date(2026, 11, 23), date(2026, 11, 24)))
    assert [(d.day, d.actual) for d in result.days] == [(date(2026, 11, 23), 8), (date(2026, 11, 24), 18)]


def test_fees_left_out_when_include_fees_is_false() -> None:
    from dataclasses import replace

    tape = Tape()
    tape.round_trip(T0, 10)
    [day] = replay(tape.trades, replace(only(), include_fees=False)).days
    assert (day.actual, day.guarded) == (10, 10)


def test_the_trades_file_shape_reads_back_the_same_fills() -> None:
    tape = Tape()
    tape.round_trip(T0, -150)
    assert trades_from_payload(tape.payload()) == tape.trades
    assert trades_from_payload(tape.payload()["trades"]) == tape.trades


def test_with_bars_a_rule_close_is_valued_at_the_close_of_the_bar_containing_the_decision() -> None:
    tape = Tape()
    tape.fill(T0, Side.BUY, price=21_000.0)
    tape.fill(T0 + timedelta(minutes=1), Side.BUY, price=6_000.0, contract=MES)
    tape.fill(T0 + timedelta(minutes=2), Side.SELL, price=5_880.0, pnl=-600.0, contract=MES)  # breach at 09:02
    tape.fill(T0 + timedelta(minutes=5), Side.BUY, price=21_010.0)
    tape.fill(T0 + timedelta(minutes=10), Side.SELL, size=2, price=21_050.0, pnl=180.0, fees=2.0)
    bars = [Bar(MNQ, T0 + timedelta(minutes=2), 21_020.0, 21_035.0, 21_015.0, 21_030.0)]
    [day] = replay(tape.trades, only("daily_realized_loss"), bars=bars).days
    assert day.guarded == -1 - 1 - 601 + 60 - 1  # MNQ closed at 21030: 30 points = +60


def test_004_runs_on_bars_and_closes_at_the_bar_close() -> None:
    tape = Tape()
    tape.fill(T0, Side.BUY, price=21_000.0)
    tape.fill(T0 + timedelta(minutes=10), Side.SELL, price=21_050.0, pnl=100.0)
    bars = [Bar(MNQ, T0 + timedelta(minutes=1), 21_000.0, 21_000.0, 20_830.0, 20_840.0)]  # -160 points: -320 open
    without = replay(tape.trades, only("daily_unrealized_loss"))
    result = replay(tape.trades, only("daily_unrealized_loss"), bars=bars)
    [day] = result.days
    assert without.days[0].guarded == day.actual == 98
    assert day.guarded == -1 - 320 - 1
    assert day.blocked == 0 and result.rule_days() == {"daily_unrealized_loss": 1}
    assert not any("004" in n for n in result.notes)


def test_a_001_reduction_is_not_counted_twice_by_the_traders_later_exits() -> None:
    tape = Tape()
    tape.fill(T0, Side.BUY, size=3, price=21_000.0, fees=3.0)  # 3 > limit 2: reduce to 2
    tape.fill(T0 + timedelta(minutes=3), Side.SELL, size=1, price=21_020.0, pnl=40.0)  # covered by the reduction
    tape.fill(T0 + timedelta(minutes=5), Side.SELL, size=2, price=21_010.0, pnl=40.0, fees=2.0)
    settings = only(max_contracts={"limit": 2}, max_contracts_per_instrument={"default_limit": 5})
    result = replay(tape.trades, settings)
    [day] = result.days
    # The reduction sells 1 at the next MNQ fill (21020): +40, fee 1 a contract; the trader's own
    # 1-lot exit is then already done; the 2-lot exit counts in full.
    assert day.guarded == -3 + 40 - 1 + 40 - 2
    assert day.actual == -3 + 40 - 1 + 40 - 2
    assert day.blocked == 0 and result.rule_days() == {"max_contracts": 1}


def test_012_breakeven_stop_is_filled_when_a_bar_trades_through_it() -> None:
    tape = Tape()
    tape.fill(T0, Side.BUY, price=21_000.0)
    tape.fill(T0 + timedelta(minutes=10), Side.SELL, price=20_950.0, pnl=-100.0)
    bars = [
        Bar(MNQ, T0 + timedelta(minutes=1), 21_000.0, 21_005.0, 21_000.0, 21_005.0),  # +20 ticks: stop to 21000.25
        Bar(MNQ, T0 + timedelta(minutes=2), 21_005.0, 21_005.0, 20_990.0, 20_995.0),  # trades through it
    ]
    settings = only(trade_management={"trailing": Trailing(enabled=False)})
    result = replay(tape.trades, settings, bars=bars)
    [day] = result.days
    assert day.actual == -1 - 100 - 1
    assert day.guarded == -1 + 0.5 - 1  # out at entry + 1 tick ($0.50)
    assert result.rule_days() == {"trade_management": 1}


def test_cancelling_stops_the_replay() -> None:
    tape = Tape()
    for n in range(300):
        tape.round_trip(T0 + timedelta(seconds=30 * n), 10, minutes=0.2)
    with pytest.raises(ReplayCancelled):
        replay(tape.trades, only(), cancelled=lambda: True)


def test_a_day_session_ending_with_a_position_open_flattens_at_the_windows_end() -> None:
    from datetime import time

    from deskguard.engine.rules.session_block import Window

    tape = Tape()
    tape.round_trip(T0 - timedelta(days=1), 10)  # Monday 09:00, inside the window
    # Tuesday: the first fill comes when the window is open, after a night when it was closed.
    tape.round_trip(T0.replace(hour=15), 20, minutes=30)  # opened 15:00, the trader exits at 15:30
    window = Window(days="Mon-Fri", start=time(8, 30), end=time(15, 10), timezone="America/Chicago")
    result = replay(tape.trades, only(session_block={"windows": (window,)}))
    monday, day = result.days
    assert (monday.actual, monday.guarded, monday.first_lock_rule) == (8, 8, None)
    assert day.first_lock_rule == "session_block" and day.first_lock_at == T0.replace(hour=15, minute=10)
    # Closed by the sweep at 15:10, valued at the next MNQ fill (the trader's own exit): same P&L.
    assert day.guarded == day.actual == 18
    assert result.rule_days() == {"session_block": 1}
